"""N concurrent writes to one cart: through cartsync, straight to the store concurrently
(the session race on, as the real store), and straight to the store one after the other.

    python -m bench.write_bursts [--sizes 1 5 25 100] [--store storeapi|cocart] [--quick]

storesim runs with 80 ms per call and a batch cost of 60 ms + 15 ms per sub-request,
jitter off (so added latency is measurable); one gateway worker; its own redis-server.
``--store cocart`` puts the gateway (and the straight runs) on storesim's CoCart face,
which has no batch: cartsync serialises every add, one request each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from .cached_read import _redis
from .tools import bench_token, cpu_seconds, free_port, gateway, gateway_env, storesim

LATENCY = "80:0:60:15"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def _timed(call: object) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await call  # type: ignore[misc]
    return (time.perf_counter() - started) * 1000, response


async def _writes(sim: httpx.AsyncClient) -> int:
    return int((await sim.get("/__sim/state")).json()["counters"]["writes"])


async def through_cartsync(
    base: str, sim: httpx.AsyncClient, n: int, user: str, pid: int | None = None, rounds: int = 1
) -> dict[str, float]:
    """The burst through the gateway; ``pid``: the gateway's, for its CPU time per
    operation (from the first request sent until the last answer), summed over
    ``rounds`` bursts on new carts (the kernel counts CPU in 10 ms ticks: one burst of
    25 is too few of them). The other figures are the first burst's."""
    first = await _burst(base, sim, n, user, pid)
    cpu, ops = first.pop("cpu_s"), n
    for round_ in range(1, rounds):
        cpu += (await _burst(base, sim, n, f"{user}-{round_}", pid))["cpu_s"]
        ops += n
    return {**first, "cpu_ms_per_op": cpu * 1000 / ops if pid else float("nan")}


async def _burst(
    base: str, sim: httpx.AsyncClient, n: int, user: str, pid: int | None
) -> dict[str, float]:
    token = bench_token(user)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        (await client.get("/v1/cart")).raise_for_status()
        before = await _writes(sim)
        cpu_before = cpu_seconds(pid) if pid else 0.0
        started = time.perf_counter()
        timed = await asyncio.gather(
            *(_timed(client.post("/v1/cart/items", json={"product_id": 15})) for _ in range(n))
        )
        wall = (time.perf_counter() - started) * 1000
        cpu = cpu_seconds(pid) - cpu_before if pid else 0.0
        writes = await _writes(sim) - before
        cart = (await client.get("/v1/cart")).json()
    return {**_summary(timed, wall, writes, cart, acknowledged_status=200), "cpu_s": cpu}


async def straight(
    sim_base: str, sim: httpx.AsyncClient, n: int, concurrent: bool
) -> dict[str, float]:
    api = f"{sim_base}/wp-json/wc/store/v1"
    async with httpx.AsyncClient(timeout=120) as client:
        first = await client.get(f"{api}/cart")
        headers = {"Cart-Token": first.headers["Cart-Token"], "Nonce": first.headers["Nonce"]}
        before = await _writes(sim)

        def add() -> object:
            return client.post(
                f"{api}/cart/add-item", json={"id": 15, "quantity": 1}, headers=headers
            )

        started = time.perf_counter()
        if concurrent:
            timed = await asyncio.gather(*(_timed(add()) for _ in range(n)))
        else:
            timed = [await _timed(add()) for _ in range(n)]
        wall = (time.perf_counter() - started) * 1000
        writes = await _writes(sim) - before
        cart = (
            await client.get(f"{api}/cart", headers={"Cart-Token": headers["Cart-Token"]})
        ).json()
    return _summary(timed, wall, writes, cart, acknowledged_status=201)


async def straight_cocart(
    sim_base: str, sim: httpx.AsyncClient, n: int, concurrent: bool
) -> dict[str, float]:
    """The same adds straight to CoCart (string ids, the cart key in the query)."""
    api = f"{sim_base}/wp-json/cocart/v2"
    async with httpx.AsyncClient(timeout=120) as client:
        first = await client.get(f"{api}/cart")
        key = {"cart_key": first.headers["CoCart-API-Cart-Key"]}
        before = await _writes(sim)

        def add() -> object:
            return client.post(
                f"{api}/cart/add-item", json={"id": "15", "quantity": "1"}, params=key
            )

        started = time.perf_counter()
        if concurrent:
            timed = await asyncio.gather(*(_timed(add()) for _ in range(n)))
        else:
            timed = [await _timed(add()) for _ in range(n)]
        wall = (time.perf_counter() - started) * 1000
        writes = await _writes(sim) - before
        body = (await client.get(f"{api}/cart", params=key)).json()
        cart = {"items": [{"quantity": i["quantity"]["value"]} for i in body["items"]]}
    return _summary(timed, wall, writes, cart, acknowledged_status=200)


def _summary(
    timed: list[tuple[float, httpx.Response]],
    wall: float,
    writes: int,
    cart: dict[str, Any],
    acknowledged_status: int,
) -> dict[str, float]:
    """One row: timings, upstream writes, and acknowledged items the cart does not hold."""
    kept = sum(i["quantity"] for i in cart["items"])
    ok = sum(1 for _, r in timed if r.status_code == acknowledged_status)
    latencies = [t for t, _ in timed]
    return {
        "wall_ms": wall,
        "p50": statistics.median(latencies),
        "p99": _pct(latencies, 0.99),
        "writes": writes,
        "acknowledged": ok,
        "lost": ok - kept,
    }


async def run(
    sizes: list[int], store: str = "storeapi", cpu_rounds: int = 1
) -> list[tuple[int, str, dict[str, float]]]:
    redis_process, redis_url = _redis()
    sim_port, port = free_port(), free_port()
    env = gateway_env(f"http://127.0.0.1:{sim_port}", redis_url, upstream_kind=store)
    direct = straight_cocart if store == "cocart" else straight
    rows = []
    try:
        with (
            storesim(sim_port, "--latency", LATENCY),
            gateway(port, env) as gateway_process,
        ):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_port}") as sim:
                for n in sizes:
                    rows.append(
                        (
                            n,
                            "cartsync",
                            await through_cartsync(
                                f"http://127.0.0.1:{port}",
                                sim,
                                n,
                                f"bench-{n}",
                                gateway_process.pid,
                                cpu_rounds,
                            ),
                        )
                    )
                    rows.append(
                        (
                            n,
                            "store, concurrent",
                            await direct(f"http://127.0.0.1:{sim_port}", sim, n, concurrent=True),
                        )
                    )
                    rows.append(
                        (
                            n,
                            "store, sequential",
                            await direct(f"http://127.0.0.1:{sim_port}", sim, n, concurrent=False),
                        )
                    )
    finally:
        redis_process.terminate()
        redis_process.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 25, 100])
    parser.add_argument("--store", choices=["storeapi", "cocart"], default="storeapi")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--cpu-rounds",
        type=int,
        default=8,
        help="bursts of each size whose gateway CPU is summed for the CPU per operation",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    sizes = [1, 5] if args.quick else args.sizes
    rows = asyncio.run(run(sizes, args.store, 1 if args.quick else args.cpu_rounds))
    if args.json:
        Path(args.json).write_text(
            json.dumps([{"n": n, "path": path, **figures} for n, path, figures in rows], indent=1)
        )
    face = "CoCart face (no batch)" if args.store == "cocart" else "Store API face"
    print(
        f"N concurrent add-items on one cart; storesim {face}, {LATENCY} (80 ms a call, "
        "batch 60 ms + 15 ms/sub-request, jitter off), session race on\n"
    )
    print(
        "| N | path | wall ms | p50 ms | p99 ms | upstream writes | limit | acknowledged | lost "
        "| gateway CPU ms/op |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, path, r in rows:
        limit = ""
        if path == "cartsync":
            limit = str(n) if args.store == "cocart" else str(math.ceil(n / 25) + 1)
        cpu = f"{r['cpu_ms_per_op']:.2f}" if "cpu_ms_per_op" in r else ""
        print(
            f"| {n} | {path} | {r['wall_ms']:.0f} | {r['p50']:.0f} | {r['p99']:.0f} "
            f"| {r['writes']:.0f} | {limit} | {r['acknowledged']:.0f} | {r['lost']:.0f} | {cpu} |"
        )


if __name__ == "__main__":
    main()
