"""Shopping sessions on two replicas: simulated shoppers against storesim's realistic
latency (80±20 ms a call; a batch 60 ms + 15 ms per sub-request).

    python -m bench.shopping [--shoppers 200] [--quick] [--json FILE]

Each shopper browses two product pages, adds 3 items, changes a quantity, applies a
coupon and reads the cart 10 times; every fourth one does so on two devices, each on
its own replica. Reported: sessions per second, upstream calls per shopper action, and
p50/p99 per endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import time
from collections import defaultdict
from pathlib import Path

import httpx

from .cached_read import _redis
from .tools import bench_token, free_port, gateway, gateway_env, storesim


class Timings:
    def __init__(self) -> None:
        self.by_endpoint: defaultdict[str, list[float]] = defaultdict(list)
        self.actions = 0
        self.errors = 0

    async def call(
        self, client: httpx.AsyncClient, endpoint: str, method: str, url: str, **kwargs: object
    ) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError:
            self.errors += 1
            self.actions += 1
            return None
        self.by_endpoint[endpoint].append((time.perf_counter() - started) * 1000)
        self.actions += 1
        if response.status_code >= 400:
            self.errors += 1
        return response


async def shopper(number: int, replicas: list[str], timings: Timings) -> None:
    headers = {"Authorization": f"Bearer {bench_token(f'shopper-{number}')}"}
    two_devices = number % 4 == 0
    home = replicas[number % len(replicas)]
    other = replicas[(number + 1) % len(replicas)] if two_devices else home
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        for page in (1, 2):
            await timings.call(
                client, "GET /v1/products", "GET", f"{home}/v1/products?per_page=5&page={page}"
            )
        for product in (10, 11, 15):
            await timings.call(
                client,
                "POST /v1/cart/items",
                "POST",
                f"{home}/v1/cart/items",
                json={"product_id": product},
            )
        key = "d3d9446802a44259755d38e6d163e820"  # Beanie's line
        await timings.call(
            client,
            "PATCH /v1/cart/items/{key}",
            "PATCH",
            f"{other}/v1/cart/items/{key}",
            json={"quantity": 2},
        )
        await timings.call(
            client,
            "POST /v1/cart/coupons",
            "POST",
            f"{home}/v1/cart/coupons",
            json={"code": "test"},
        )
        for read in range(10):
            device = other if read % 2 else home
            await timings.call(client, "GET /v1/cart", "GET", f"{device}/v1/cart")


async def measure(shoppers: int) -> dict[str, object]:
    redis_process, redis_url = _redis()
    sim_port, one, two = free_port(), free_port(), free_port()
    env = gateway_env(f"http://127.0.0.1:{sim_port}", redis_url)
    timings = Timings()
    try:
        with (
            storesim(sim_port, "--latency", "realistic"),
            gateway(one, env),
            gateway(two, env),
        ):
            replicas = [f"http://127.0.0.1:{one}", f"http://127.0.0.1:{two}"]
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_port}") as sim:
                before = (await sim.get("/__sim/state")).json()["counters"]
                started = time.perf_counter()
                await asyncio.gather(*(shopper(i, replicas, timings) for i in range(shoppers)))
                wall = time.perf_counter() - started
                after = (await sim.get("/__sim/state")).json()["counters"]
    finally:
        redis_process.terminate()
        redis_process.wait()
    upstream = sum(after["requests"].values()) - sum(before["requests"].values())
    writes = after["writes"] - before["writes"]

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {
        "shoppers": shoppers,
        "wall_s": wall,
        "sessions_per_s": shoppers / wall,
        "actions": timings.actions,
        "errors": timings.errors,
        "upstream_calls": upstream,
        "upstream_writes": writes,
        "upstream_per_action": upstream / timings.actions,
        "endpoints": {
            name: {"count": len(v), "p50": statistics.median(v), "p99": pct(v, 0.99)}
            for name, v in sorted(timings.by_endpoint.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    figures = asyncio.run(measure(10 if args.quick else args.shoppers))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    print(
        f"{figures['shoppers']} shoppers on two replicas (storesim realistic latency): "
        f"{figures['sessions_per_s']:.1f} sessions/s, {figures['actions']} actions, "
        f"{figures['upstream_calls']} upstream calls ({figures['upstream_writes']} writes): "
        f"{figures['upstream_per_action']:.2f} per action; {figures['errors']} errors\n"
    )
    print("| endpoint | calls | p50 ms | p99 ms |\n|---|---|---|---|")
    for name, row in figures["endpoints"].items():  # type: ignore[attr-defined]
        print(f"| {name} | {row['count']} | {row['p50']:.1f} | {row['p99']:.1f} |")


if __name__ == "__main__":
    main()
