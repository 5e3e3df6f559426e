"""Added latency of one write: through cartsync against straight to storesim, jitter off.

python -m bench.added_latency [--writes 50] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

from .cached_read import _redis
from .tools import bench_token, free_port, gateway_env, server

LATENCY = "80:0:60:15"


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


async def measure(writes: int) -> dict[str, float]:
    redis_process, redis_url = _redis()
    sim_port, port = free_port(), free_port()
    env = gateway_env(f"http://127.0.0.1:{sim_port}", redis_url)
    try:
        with (
            server(
                [sys.executable, "-m", "storesim", "--port", str(sim_port), "--latency", LATENCY],
                f"http://127.0.0.1:{sim_port}/__sim/state",
            ),
            server(
                [
                    sys.executable,
                    "-m",
                    "cartsync",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                f"http://127.0.0.1:{port}/healthz",
                env=env,
            ),
        ):
            headers = {"Authorization": f"Bearer {bench_token('added-latency')}"}
            gateway: list[float] = []
            direct: list[float] = []
            async with httpx.AsyncClient(timeout=30) as client:
                await client.get(f"http://127.0.0.1:{port}/v1/cart", headers=headers)
                first = await client.get(f"http://127.0.0.1:{sim_port}/wp-json/wc/store/v1/cart")
                store = {"Cart-Token": first.headers["Cart-Token"], "Nonce": first.headers["Nonce"]}
                for _ in range(writes):  # interleaved, so drift hits both alike
                    started = time.perf_counter()
                    await client.post(
                        f"http://127.0.0.1:{port}/v1/cart/items",
                        json={"product_id": 15},
                        headers=headers,
                    )
                    gateway.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    await client.post(
                        f"http://127.0.0.1:{sim_port}/wp-json/wc/store/v1/cart/add-item",
                        json={"id": 15, "quantity": 1},
                        headers=store,
                    )
                    direct.append((time.perf_counter() - started) * 1000)
    finally:
        redis_process.terminate()
        redis_process.wait()
    return {
        "writes": writes,
        "gateway_p50": statistics.median(gateway),
        "gateway_p99": _p99(gateway),
        "direct_p50": statistics.median(direct),
        "direct_p99": _p99(direct),
        "added_p50": statistics.median(gateway) - statistics.median(direct),
        "added_p99": _p99(gateway) - _p99(direct),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    figures = asyncio.run(measure(5 if args.quick else args.writes))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    print(f"one write, {figures['writes']:.0f} times, storesim {LATENCY} (jitter off):\n")
    print("| path | p50 ms | p99 ms |\n|---|---|---|")
    print(f"| straight to the store | {figures['direct_p50']:.1f} | {figures['direct_p99']:.1f} |")
    print(f"| through cartsync | {figures['gateway_p50']:.1f} | {figures['gateway_p99']:.1f} |")
    print(f"| added by cartsync | {figures['added_p50']:.1f} | {figures['added_p99']:.1f} |")


if __name__ == "__main__":
    main()
