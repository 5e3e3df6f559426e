"""Fan-out: 10,000 change streams on one worker (1,000 users x 10 devices), writes spread
over the users, every device's event timed from the writer's acknowledgement.

    python -m bench.fanout [--users 1000] [--devices 10] [--writes 1000] [--rate 50]
                           [--quick] [--json out.json]

Starts its own redis-server, storesim (latency off) and one gateway replica pinned to
CPU 0, started with a soft limit of 1,024 open files (a common default; the gateway
raises its own); this client runs on CPU 1 with its limit raised to the hard one. Phases:
every user's cart is made (one write each), ``--baseline`` paced writes with no stream
open give the gateway's CPU per write, the streams are opened (RSS and open files read
at 0, 10 %, 50 % and 100 % of them), then ``--writes`` writes at ``--rate`` per second,
round robin over the users so no cart is written twice within a few seconds (a stream
that sees two changes at once sends only the newest cart, by design, and would count
the first as missed). Each write's answer is stamped when its last byte arrives, each
device's event when its bytes arrive; the difference is the delivery latency.

The goals (issue 15) are printed as ``goal:`` lines with the figure and met/missed;
the ceiling line says how many streams the worker could hold and what limits it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop

from .cached_read import _redis
from .fanout_client import Ack, Device, LoopLag, open_device, open_writer
from .profile import py_spy, summarise
from .tools import bench_token, cpu_seconds, free_port, gateway, gateway_env, rss_mib, storesim

GOAL_P99_MS = 50.0
GOAL_RSS_MIB = 300.0
_OPEN_BATCH = 250


def raise_fd_limit() -> int:
    """The client holds one socket per stream: take the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def start_low() -> int:
    """Servers started from here inherit a soft limit of 1,024 open files, a common
    default: the gateway's own figure then says whether it raises it (``cli.serve``)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(1024, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    return low


def fd_limit(pid: int) -> int:
    """The soft ``RLIMIT_NOFILE`` a running process has (``/proc/<pid>/limits``)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return -1


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))]


@dataclass
class Written:
    user: int
    ack: Ack


@dataclass
class Phase:
    """Gateway CPU and wall time over a stretch of the run."""

    pid: int
    cpu: float = field(init=False)
    wall: float = field(init=False)

    def __enter__(self) -> Phase:
        self._cpu0, self._wall0 = cpu_seconds(self.pid), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu = cpu_seconds(self.pid) - self._cpu0
        self.wall = time.perf_counter() - self._wall0


async def paced_writes(
    port: int, tokens: list[str], order: list[int], rate: float, connections: int
) -> list[Written]:
    """``order[i]``'s cart gets one added item at ``i / rate`` s (open loop: a slow
    answer does not delay the next write while a connection is free)."""
    writers = [await open_writer(port) for _ in range(connections)]
    pool: asyncio.Queue[Any] = asyncio.Queue()
    for writer in writers:
        pool.put_nowait(writer)
    done: list[Written] = []

    async def one(user: int) -> None:
        writer = await pool.get()
        try:
            done.append(Written(user, await writer.add_item(tokens[user], 15)))
        finally:
            pool.put_nowait(writer)

    started = time.perf_counter()
    tasks = []
    for i, user in enumerate(order):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(user)))
    await asyncio.gather(*tasks)
    for writer in writers:
        writer.transport.close()
    return done


async def open_streams(
    port: int, tokens: list[str], devices: int, checkpoints: list[int], pid: int
) -> tuple[list[list[Device]], list[dict[str, float]], Phase]:
    """Every user's ``devices`` streams, opened ``_OPEN_BATCH`` at a time; RSS and open
    files read at each checkpoint (streams open, each with its current cart)."""
    users = len(tokens)
    plan = [(u, d) for d in range(devices) for u in range(users)]  # spread over users
    per_user: list[list[Device]] = [[] for _ in range(users)]
    steps = [{"streams": 0, "rss_mib": rss_mib(pid), "fds": open_fds(pid)}]
    with Phase(pid) as opening:
        opened = 0
        for mark in checkpoints:
            while opened < mark:
                batch = plan[opened : min(mark, opened + _OPEN_BATCH)]
                streams = await asyncio.gather(*(open_device(port, tokens[u]) for u, _ in batch))
                await asyncio.wait_for(asyncio.gather(*(s.opened for s in streams)), 60)
                for (u, _), stream in zip(batch, streams, strict=True):
                    per_user[u].append(stream)
                opened += len(batch)
            await asyncio.sleep(0.5)
            steps.append({"streams": opened, "rss_mib": rss_mib(pid), "fds": open_fds(pid)})
    return per_user, steps, opening


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    redis_process, redis_url = _redis()
    started_with = start_low()
    sim_port, port = free_port(), free_port()
    env = gateway_env(f"http://127.0.0.1:{sim_port}", redis_url)
    users, streams = args.users, args.users * args.devices
    tokens = [bench_token(f"fanout-user-{u}") for u in range(users)]
    try:
        with storesim(sim_port), gateway(port, env) as process:
            pid = process.pid
            client_fd_limit = raise_fd_limit()
            if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
                os.sched_setaffinity(0, {1})  # the servers are on CPU 0
            await paced_writes(port, tokens, list(range(users)), 10_000, 16)  # carts made
            baseline_order = [i % users for i in range(args.baseline)]
            with Phase(pid) as baseline:
                await paced_writes(port, tokens, baseline_order, args.rate, 16)
            marks = sorted({max(1, streams // 10), max(1, streams // 2), streams})
            per_user, steps, opening = await open_streams(port, tokens, args.devices, marks, pid)
            with Phase(pid) as idle:
                await asyncio.sleep(args.idle)
            order = [(args.baseline + i) % users for i in range(args.writes)]
            client0 = time.process_time()
            recording = py_spy(pid, Path(args.profile)) if args.profile else nullcontext()
            with recording, LoopLag() as lag, Phase(pid) as load:
                written = await paced_writes(port, tokens, order, args.rate, 32)
                deadline = time.monotonic() + 10
                waiting = [
                    (w.ack.etag, d)
                    for w in written
                    if w.ack.status == 200
                    for d in per_user[w.user]
                ]
                while waiting and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    waiting = [(tag, d) for tag, d in waiting if tag not in d.arrivals]
            client_cpu = time.process_time() - client0
            after_rss, after_fds = rss_mib(pid), open_fds(pid)
            gateway_fd_limit = fd_limit(pid)
            alive = sum(1 for row in per_user for d in row if not d.closed)
            for row in per_user:
                for device in row:
                    device.close()
    finally:
        redis_process.terminate()
        redis_process.wait()

    latencies = [
        (d.arrivals[w.ack.etag] - w.ack.acked) * 1000
        for w in written
        for d in per_user[w.user]
        if w.ack.status == 200 and w.ack.etag in d.arrivals
    ]
    expected = sum(args.devices for w in written if w.ack.status == 200)
    baseline_per_write = baseline.cpu / max(1, args.baseline)
    delivered = len(latencies)
    stream_cpu = max(0.0, load.cpu - baseline_per_write * len(written))
    rss0, full = steps[0]["rss_mib"], steps[-1]
    per_stream_kib = (full["rss_mib"] - rss0) * 1024 / max(1, streams)
    first = steps[1]
    marginal_kib = (full["rss_mib"] - first["rss_mib"]) * 1024 / max(1, streams - first["streams"])
    fds0 = int(steps[0]["fds"])
    by_fds = gateway_fd_limit - fds0
    by_memory = int((GOAL_RSS_MIB - rss0) * 1024 / per_stream_kib) if per_stream_kib > 0 else 0
    cpu_per_event_us = stream_cpu / max(1, delivered) * 1e6
    return {
        "users": users,
        "devices": args.devices,
        "streams": streams,
        "opened": full["streams"],
        "alive_after_writes": alive,
        "writes": len(written),
        "writes_ok": sum(1 for w in written if w.ack.status == 200),
        "write_statuses": dict(Counter(str(w.ack.status) for w in written)),
        "rate_per_s": args.rate,
        "events_expected": expected,
        "events_delivered": delivered,
        "event_minus_ack_p50_ms": pct(latencies, 0.5),
        "event_minus_ack_p99_ms": pct(latencies, 0.99),
        "event_minus_ack_max_ms": max(latencies, default=float("nan")),
        "rss_steps": steps,
        "rss_after_writes_mib": after_rss,
        "fds_after_writes": after_fds,
        "memory_per_stream_kib": per_stream_kib,
        "memory_per_stream_marginal_kib": marginal_kib,
        "open_cpu_per_stream_ms": opening.cpu / max(1, streams) * 1000,
        "open_wall_s": opening.wall,
        "idle_cpu_share": idle.cpu / idle.wall,
        "idle_s": idle.wall,
        "cpu_per_write_no_streams_ms": baseline_per_write * 1000,
        "load_cpu_s": load.cpu,
        "load_wall_s": load.wall,
        "cpu_per_event_all_in_us": load.cpu / max(1, delivered) * 1e6,
        "cpu_per_event_us": cpu_per_event_us,
        "events_per_core_s": 1e6 / cpu_per_event_us if cpu_per_event_us > 0 else float("inf"),
        "client_cpu_share": client_cpu / load.wall,
        "client_loop_lag_p99_ms": pct(lag.lags_ms, 0.99),
        "client_fd_limit": client_fd_limit,
        "gateway_fd_limit": gateway_fd_limit,
        "gateway_started_with_fd_limit": started_with,
        "gateway_fds_idle": fds0,
        "ceiling_by_fds": by_fds,
        "ceiling_by_memory_budget": by_memory,
        "profile": summarise(Path(args.profile)) if args.profile else None,
    }


def report(r: dict[str, Any], quick: bool) -> None:
    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    note = " (quick: figures mean nothing)" if quick else ""
    steps = ", ".join(f"{s['streams']:,}: {s['rss_mib']:.0f} MiB" for s in r["rss_steps"])
    print(
        f"{r['streams']:,} streams on one worker ({r['users']:,} users x {r['devices']} "
        f"devices), {r['writes']:,} writes at {r['rate_per_s']:g}/s round robin over the "
        f"users (storesim latency off){note}"
    )
    print(
        f"opening: {r['open_wall_s']:.1f} s, {r['open_cpu_per_stream_ms']:.2f} ms gateway CPU "
        f"a stream; RSS by streams open: {steps}; idle with every stream open: "
        f"{r['idle_cpu_share'] * 100:.1f} % of a core over {r['idle_s']:.0f} s"
    )
    print(
        f"gateway CPU: {r['cpu_per_write_no_streams_ms']:.2f} ms a write with no stream open; "
        f"{r['load_cpu_s']:.2f} s over the writes ({r['cpu_per_event_all_in_us']:.0f} us a "
        f"delivered event all in, {r['cpu_per_event_us']:.0f} us beyond the writes' own, "
        f"about {r['events_per_core_s']:,.0f} events/s a core)"
    )
    print(
        f"client (CPU 1): {r['client_cpu_share'] * 100:.0f} % of a core during the writes, "
        f"loop lag p99 {r['client_loop_lag_p99_ms']:.1f} ms; fd limits: client "
        f"{r['client_fd_limit']:,}, gateway {r['gateway_fd_limit']:,} (started with "
        f"{r['gateway_started_with_fd_limit']:,}) "
        f"({r['gateway_fds_idle']} in use with no stream, {r['fds_after_writes']:,} with all)"
    )
    all_open = r["opened"] == r["streams"] and r["alive_after_writes"] == r["streams"]
    print(
        f"goal: {r['streams']:,} streams open on one worker: {r['opened']:,} opened, "
        f"{r['alive_after_writes']:,} still open after the writes: {verdict(all_open)}"
    )
    every = r["events_delivered"] == r["events_expected"] and r["writes_ok"] == r["writes"]
    print(
        f"goal: every device gets each change: {r['events_delivered']:,} of "
        f"{r['events_expected']:,} events ({r['writes_ok']:,} of {r['writes']:,} writes "
        f"acknowledged; answers {r['write_statuses']}): {verdict(every)}"
    )
    print(
        f"goal: event p99 <= {GOAL_P99_MS:.0f} ms after the write's acknowledgement: p50 "
        f"{r['event_minus_ack_p50_ms']:.1f} ms, p99 {r['event_minus_ack_p99_ms']:.1f} ms "
        f"(max {r['event_minus_ack_max_ms']:.1f}): "
        f"{verdict(r['event_minus_ack_p99_ms'] <= GOAL_P99_MS)}"
    )
    rss = max(r["rss_steps"][-1]["rss_mib"], r["rss_after_writes_mib"])
    print(
        f"goal: RSS <= {GOAL_RSS_MIB:.0f} MiB: {r['rss_steps'][-1]['rss_mib']:.0f} MiB with "
        f"the streams open, {r['rss_after_writes_mib']:.0f} MiB after the writes: "
        f"{verdict(rss <= GOAL_RSS_MIB)}"
    )
    print(
        f"goal: CPU per delivered event measured: {r['cpu_per_event_us']:.0f} us beyond "
        f"the write ({r['cpu_per_event_all_in_us']:.0f} us all in): measured"
    )
    limit = (
        "file descriptors"
        if r["ceiling_by_fds"] <= r["ceiling_by_memory_budget"]
        else (f"the {GOAL_RSS_MIB:.0f} MiB budget")
    )
    print(
        f"ceiling: {min(r['ceiling_by_fds'], r['ceiling_by_memory_budget']):,} streams a "
        f"worker, set by {limit}: the gateway's limit of {r['gateway_fd_limit']:,} open files "
        f"allows {r['ceiling_by_fds']:,} (one socket a stream); at "
        f"{r['memory_per_stream_kib']:.1f} KiB a stream ({r['memory_per_stream_marginal_kib']:.1f}"
        f" KiB each beyond the first {r['rss_steps'][1]['streams']:,}) the "
        f"{GOAL_RSS_MIB:.0f} MiB budget allows {r['ceiling_by_memory_budget']:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=200, help="writes with no stream")
    parser.add_argument("--rate", type=float, default=50.0, help="writes a second")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds idle, streams open")
    parser.add_argument("--profile", help="py-spy the gateway during the writes (raw stacks)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.users, args.devices, args.writes, args.baseline = 10, 5, 20, 10
        args.rate, args.idle = 100.0, 0.2
    # uvloop, as the gateway runs: the client's share of the work stays small.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results = runner.run(measure(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    report(results, args.quick)


if __name__ == "__main__":
    main()
