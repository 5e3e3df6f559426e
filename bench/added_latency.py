"""Added latency of one write: through cartsync against straight to storesim, jitter off.

python -m bench.added_latency [--writes 50] [--busy-writes 20] [--quick] [--json FILE]
                              [--profile FILE]

Then the gateway's CPU a write when it is busy: 32 shoppers writing at once, each to
their own cart (no batching between them). A lone write leaves the gateway idle between
its steps (four Redis round trips, the store call), and on a VM each wake-up from idle
costs CPU of its own; a replica planned to 60 % of a core is rarely idle, so the scale
model prices writes at the busy figure, as it prices reads at 64 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from .cached_read import _redis
from .profile import py_spy, summarise
from .tools import bench_token, cpu_seconds, free_port, gateway, gateway_env, storesim

LATENCY = "80:0:60:15"
BUSY_SHOPPERS = 32


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


def _redis_commands(url: str) -> int:
    """Commands the private Redis has run so far (INFO commandstats, all kinds)."""
    stats = redis.Redis.from_url(url).info("commandstats")
    return sum(int(entry["calls"]) for entry in stats.values())


async def _redis_round_trip_ms(url: str, samples: int = 200) -> float:
    """p50 of one asyncio GET: the price of each Redis round trip on this machine."""
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(url)
    timings = []
    try:
        for _ in range(samples):
            started = time.perf_counter()
            await client.get("bench:absent")
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        await client.aclose()
    return statistics.median(timings)


@dataclass
class LoneWrites:
    """One add-item at a time, each through the gateway then straight to the store."""

    through_ms: list[float]
    direct_ms: list[float]
    gateway_cpu_s: float

    @property
    def cpu_ms_per_write(self) -> float:
        return self.gateway_cpu_s * 1000 / len(self.through_ms)

    @property
    def added_p50_ms(self) -> float:
        return statistics.median(self.through_ms) - statistics.median(self.direct_ms)


async def lone_writes(
    client: httpx.AsyncClient,
    port: int,
    sim_port: int,
    headers: dict[str, str],
    pid: int,
    writes: int,
) -> LoneWrites:
    """``writes`` add-items through the gateway on ``port`` (its process ``pid``), each
    followed by the same add-item straight to storesim on ``sim_port`` (a cart of its
    own): interleaved, so drift hits both alike."""
    first = await client.get(f"http://127.0.0.1:{sim_port}/wp-json/wc/store/v1/cart")
    store = {"Cart-Token": first.headers["Cart-Token"], "Nonce": first.headers["Nonce"]}
    timed = LoneWrites([], [], 0.0)
    for _ in range(writes):
        before = cpu_seconds(pid)
        started = time.perf_counter()
        answer = await client.post(
            f"http://127.0.0.1:{port}/v1/cart/items", json={"product_id": 15}, headers=headers
        )
        timed.through_ms.append((time.perf_counter() - started) * 1000)
        timed.gateway_cpu_s += cpu_seconds(pid) - before
        answer.raise_for_status()
        started = time.perf_counter()
        await client.post(
            f"http://127.0.0.1:{sim_port}/wp-json/wc/store/v1/cart/add-item",
            json={"id": 15, "quantity": 1},
            headers=store,
        )
        timed.direct_ms.append((time.perf_counter() - started) * 1000)
    return timed


async def _busy_cpu_ms(base: str, pid: int, shoppers: int, writes: int) -> float:
    """Gateway CPU a write while ``shoppers`` write at once, each its own cart (after
    a warm-up write each, so every cart exists and every connection is open)."""

    async def shopper(client: httpx.AsyncClient, count: int) -> None:
        for _ in range(count):
            answer = await client.post("/v1/cart/items", json={"product_id": 15})
            answer.raise_for_status()

    clients = [
        httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {bench_token(f'busy-{n}')}"},
            timeout=60,
        )
        for n in range(shoppers)
    ]
    try:
        await asyncio.gather(*(shopper(client, 1) for client in clients))
        before = cpu_seconds(pid)
        await asyncio.gather(*(shopper(client, writes) for client in clients))
        return (cpu_seconds(pid) - before) * 1000 / (shoppers * writes)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


async def measure(
    writes: int, profile: Path | None = None, busy_writes: int = 20
) -> dict[str, Any]:
    redis_process, redis_url = _redis()
    sim_port, port = free_port(), free_port()
    env = gateway_env(f"http://127.0.0.1:{sim_port}", redis_url)
    try:
        with (
            storesim(sim_port, "--latency", LATENCY),
            gateway(port, env) as gateway_process,
        ):
            headers = {"Authorization": f"Bearer {bench_token('added-latency')}"}
            async with httpx.AsyncClient(timeout=30) as client:
                await client.get(f"http://127.0.0.1:{port}/v1/cart", headers=headers)
                commands_before = _redis_commands(redis_url)
                recording = py_spy(gateway_process.pid, profile) if profile else nullcontext()
                with recording:
                    timed = await lone_writes(
                        client, port, sim_port, headers, gateway_process.pid, writes
                    )
                commands = _redis_commands(redis_url) - commands_before
            busy = await _busy_cpu_ms(
                f"http://127.0.0.1:{port}", gateway_process.pid, BUSY_SHOPPERS, busy_writes
            )
            round_trip = await _redis_round_trip_ms(redis_url)
    finally:
        redis_process.terminate()
        redis_process.wait()
    return {
        "profile": summarise(profile) if profile else None,
        "writes": writes,
        "gateway_p50": statistics.median(timed.through_ms),
        "gateway_p99": _p99(timed.through_ms),
        "direct_p50": statistics.median(timed.direct_ms),
        "direct_p99": _p99(timed.direct_ms),
        "added_p50": timed.added_p50_ms,
        "added_p99": _p99(timed.through_ms) - _p99(timed.direct_ms),
        "gateway_cpu_ms_per_write": timed.cpu_ms_per_write,
        "busy_shoppers": BUSY_SHOPPERS,
        "busy_writes": BUSY_SHOPPERS * busy_writes,
        "busy_cpu_ms_per_write": busy,
        "redis_commands_per_write": commands / writes,
        "redis_round_trip_ms": round_trip,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--busy-writes", type=int, default=20, help="each busy shopper's")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--profile", help="py-spy the gateway into this file (raw stacks)")
    args = parser.parse_args()
    profile = Path(args.profile) if args.profile else None
    figures = asyncio.run(
        measure(5 if args.quick else args.writes, profile, 1 if args.quick else args.busy_writes)
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    print(f"one write, {figures['writes']:.0f} times, storesim {LATENCY} (jitter off):\n")
    print("| path | p50 ms | p99 ms |\n|---|---|---|")
    print(f"| straight to the store | {figures['direct_p50']:.1f} | {figures['direct_p99']:.1f} |")
    print(f"| through cartsync | {figures['gateway_p50']:.1f} | {figures['gateway_p99']:.1f} |")
    print(f"| added by cartsync | {figures['added_p50']:.1f} | {figures['added_p99']:.1f} |")
    print(
        f"\nwhere the added time goes: gateway CPU {figures['gateway_cpu_ms_per_write']:.1f} ms"
        f" a write; {figures['redis_commands_per_write']:.1f} Redis commands a write"
        f" (all in the background drain included), one asyncio Redis round trip"
        f" {figures['redis_round_trip_ms']:.2f} ms p50"
    )
    print(
        f"\nbusy: {figures['busy_shoppers']} shoppers writing at once, each to their own cart"
        f" ({figures['busy_writes']} writes): gateway CPU {figures['busy_cpu_ms_per_write']:.2f}"
        f" ms a write, against {figures['gateway_cpu_ms_per_write']:.2f} for a lone write"
    )
    if figures["profile"]:
        print("\ngateway CPU by owner of the innermost frame (py-spy, on-CPU samples):\n")
        print("| owner | share |\n|---|---|")
        for owner, share in figures["profile"].items():
            print(f"| {owner} | {share:.0%} |")


if __name__ == "__main__":
    main()
