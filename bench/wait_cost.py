"""What waiting costs in CPU on this machine: the floor under a write's gateway CPU.

    python -m bench.wait_cost [--calls 100] [--quick] [--json FILE]

A write through cartsync waits about 80 ms for the store, and on a virtual machine a
wait is not free: each sleep and wake of the event loop is charged CPU (timers, epoll,
the hypervisor's own). This measures, in this process, on uvloop (the gateway's loop)
with the gateway's store client (``StoreClient``): the CPU of an 80 ms ``asyncio.sleep``
against a zero one, and of the same add-item to storesim answering at once against
storesim answering in 80 ms. The difference is CPU a write pays for waiting, whatever the
gateway's own code does (``bench.added_latency`` counts it in the gateway's CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable
from pathlib import Path

import httpx
import uvloop

from cartsync.upstream._http import StoreClient, StoreClientSettings

from .tools import cpu_us_each, free_port, storesim

LATENCY = "80:0:60:15"  # as bench.added_latency


async def _store_call_cpu_us(port: int, calls: int) -> float:
    base = f"http://127.0.0.1:{port}/wp-json/wc/store/v1"
    async with httpx.AsyncClient(timeout=30) as client:
        first = await client.get(f"{base}/cart")
    headers = {"Cart-Token": first.headers["Cart-Token"], "Nonce": first.headers["Nonce"]}
    store = StoreClient(base, StoreClientSettings())

    def add() -> Awaitable[httpx.Response]:
        return store.send("POST", "/cart/add-item", json={"id": 15, "quantity": 1}, headers=headers)

    try:
        return await cpu_us_each(calls, add)
    finally:
        await store.aclose()


def _blocked_sleep_cpu_us(calls: int) -> float:
    """A thread blocked in the kernel for 80 ms, no event loop: the machine's own floor."""
    before = time.process_time()
    for _ in range(calls):
        time.sleep(0.08)
    return (time.process_time() - before) / calls * 1e6


async def measure(calls: int) -> dict[str, float]:
    blocked = _blocked_sleep_cpu_us(calls)
    sleep_0 = await cpu_us_each(calls, lambda: asyncio.sleep(0))
    sleep_80 = await cpu_us_each(calls, lambda: asyncio.sleep(0.08))
    fast_port, slow_port = free_port(), free_port()
    with storesim(fast_port), storesim(slow_port, "--latency", LATENCY):
        call_0 = await _store_call_cpu_us(fast_port, calls)
        call_80 = await _store_call_cpu_us(slow_port, calls)
    return {
        "calls": calls,
        "blocked_sleep_80ms_cpu_us": blocked,
        "sleep_0_cpu_us": sleep_0,
        "sleep_80ms_cpu_us": sleep_80,
        "store_call_0ms_cpu_us": call_0,
        "store_call_80ms_cpu_us": call_80,
        "waiting_80ms_cpu_us": call_80 - call_0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    figures = uvloop.run(measure(5 if args.quick else args.calls))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    print(
        "CPU of this process, uvloop + the gateway's store client,"
        f" {figures['calls']:.0f} times each:\n"
    )
    print("| step | CPU µs |\n|---|---|")
    print(f"| `time.sleep(0.08)`, no loop | {figures['blocked_sleep_80ms_cpu_us']:,.0f} |")
    print(f"| `asyncio.sleep(0)` | {figures['sleep_0_cpu_us']:,.0f} |")
    print(f"| `asyncio.sleep(0.08)` | {figures['sleep_80ms_cpu_us']:,.0f} |")
    print(f"| add-item, store answering at once | {figures['store_call_0ms_cpu_us']:,.0f} |")
    print(f"| add-item, store answering in 80 ms | {figures['store_call_80ms_cpu_us']:,.0f} |")
    print(
        f"\nwaiting 80 ms for the store costs {figures['waiting_80ms_cpu_us']:,.0f} µs of CPU "
        "a call here, on top of the call's own"
    )


if __name__ == "__main__":
    main()
