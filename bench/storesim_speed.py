"""How fast is storesim itself? GET /cart (3 lines, latency off) against a bare Litestar
route serving a static JSON body of the same size, same server settings, same run.

    python -m bench.storesim_speed [--seconds 5] [--connections 1 64]
"""

from __future__ import annotations

import argparse
import sys

import httpx

from .tools import cpu_seconds, free_port, server, wrk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--quick", action="store_true", help="1 s per scenario (CI)")
    args = parser.parse_args()
    seconds = 1 if args.quick else args.seconds

    port = free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
    with server(
        [sys.executable, "-m", "storesim", "--port", str(port)],
        f"http://127.0.0.1:{port}/__sim/state",
    ) as sim:
        base = f"http://127.0.0.1:{port}/wp-json/wc/store/v1"
        first = httpx.get(f"{base}/cart")
        headers = {"Cart-Token": first.headers["Cart-Token"], "Nonce": first.headers["Nonce"]}
        for product in (10, 11, 15):
            httpx.post(
                f"{base}/cart/add-item", json={"id": product, "quantity": 2}, headers=headers
            ).raise_for_status()
        size = len(httpx.get(f"{base}/cart", headers=headers).content)
        sim_rows = []
        for conns in args.connections:
            wrk(f"{base}/cart", conns, 1, {"Cart-Token": headers["Cart-Token"]})  # warm-up
            before = cpu_seconds(sim.pid)
            result = wrk(f"{base}/cart", conns, seconds, {"Cart-Token": headers["Cart-Token"]})
            cpu_us = (cpu_seconds(sim.pid) - before) / max(result.requests, 1) * 1e6
            sim_rows.append((conns, result, cpu_us))

    bare_port = free_port()
    with server(
        [*uvicorn, "--port", str(bare_port), "bench.bare_app:app"],
        f"http://127.0.0.1:{bare_port}/static",
        env={"BARE_BYTES": str(size)},
    ) as bare:
        bare_rows = []
        for conns in args.connections:
            wrk(f"http://127.0.0.1:{bare_port}/static", conns, 1)
            before = cpu_seconds(bare.pid)
            result = wrk(f"http://127.0.0.1:{bare_port}/static", conns, seconds)
            cpu_us = (cpu_seconds(bare.pid) - before) / max(result.requests, 1) * 1e6
            bare_rows.append((conns, result, cpu_us))

    print(
        f"storesim GET /cart (3 lines, {size} bytes, latency off) vs bare Litestar static "
        f"JSON of the same size; one uvicorn worker each, {seconds:g} s per run\n"
    )
    print(
        "| connections | storesim req/s | bare req/s | ratio | storesim p50 / p99 ms "
        "| storesim CPU µs/req | bare CPU µs/req |"
    )
    print("|---|---|---|---|---|---|---|")
    for (conns, sim_r, sim_cpu), (_, bare_r, bare_cpu) in zip(sim_rows, bare_rows, strict=True):
        print(
            f"| {conns} | {sim_r.requests_per_s:,.0f} | {bare_r.requests_per_s:,.0f} "
            f"| {sim_r.requests_per_s / bare_r.requests_per_s:.2f} "
            f"| {sim_r.p50_ms:.2f} / {sim_r.p99_ms:.2f} | {sim_cpu:.0f} | {bare_cpu:.0f} |"
        )


if __name__ == "__main__":
    main()
