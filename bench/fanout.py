"""Fan-out: 10,000 change streams on one worker (1,000 users x 10 devices), writes spread
over the users, every device's event timed from the writer's acknowledgement.

    python -m bench.fanout [--users 1000] [--devices 10] [--writes 1000] [--rate 50]
                           [--quick] [--json out.json]

Starts its own redis-server, storesim (latency off) and one gateway replica pinned to
CPU 0, started with a soft limit of 1,024 open files (a common default; the gateway
raises its own); this client runs on CPU 1 with its limit raised to the hard one. Phases:
every user's cart is made (one write each; as many quiet users, without streams, too),
the streams are opened (RSS and open files read at 0, 10 %, 50 % and 100 % of them),
one heartbeat period idle (each stream beats once: the heartbeats' cost), then
``--writes`` writes at ``--rate`` per second, round robin over the users, in blocks
that alternate with as many writes to the quiet users: the CPU of a watched write less
an unwatched one's is the fan-out's (too small to tell from a write's own drift at ten
streams a cart: it is priced again on ``--wide-users`` carts with ``--wide-devices``
streams each, after the main streams are closed). No cart is written twice within
seconds (a stream
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
import shutil
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import uvloop

from .cached_read import _redis
from .fanout_client import LoopLag
from .fanout_load import (
    Phase,
    alternate,
    close_all,
    delivered,
    fd_limit,
    latencies_ms,
    open_fds,
    open_streams,
    paced_writes,
    pct,
    raise_fd_limit,
    start_low,
)
from .profile import py_spy, summarise
from .tools import bench_token, free_port, gateway, gateway_env, rss_mib, storesim

GOAL_P99_MS = 50.0
GOAL_RSS_MIB = 300.0


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    redis_process, redis_url = _redis()
    started_with = start_low()
    sim_port, port = free_port(), free_port()
    env = gateway_env(
        f"http://127.0.0.1:{sim_port}", redis_url, sse_heartbeat_s=f"{args.heartbeat:g}"
    )
    users, streams = args.users, args.users * args.devices
    # Token indices: the users with the streams, as many quiet users without (their
    # writes are the same work but the fan-out), and the wide carts (many streams each).
    quiet_users = list(range(users, 2 * users))
    wide_users = list(range(2 * users, 2 * users + args.wide_users))
    tokens = [bench_token(f"fanout-user-{u}") for u in range(wide_users[-1] + 1)]
    try:
        with storesim(sim_port), gateway(port, env) as process:
            pid = process.pid
            client_fd_limit = raise_fd_limit()
            if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
                os.sched_setaffinity(0, {1})  # the servers are on CPU 0
            await paced_writes(port, tokens, list(range(len(tokens))), 10_000, 16)  # carts
            marks = sorted({max(1, streams // 10), max(1, streams // 2), streams})
            devices_of, steps, opening = await open_streams(
                port, tokens, list(range(users)), args.devices, marks, pid
            )
            with Phase(pid) as idle:
                await asyncio.sleep(args.idle)
            order = [i % users for i in range(args.writes)]
            client0 = time.process_time()
            recording = py_spy(pid, Path(args.profile)) if args.profile else nullcontext()
            with recording, LoopLag() as lag, Phase(pid) as load:
                main = await alternate(
                    port, tokens, order, [users + u for u in order], args.rate, args.block, pid
                )
                await delivered(main.watched, devices_of)
            client_cpu = time.process_time() - client0
            after_rss, after_fds = rss_mib(pid), open_fds(pid)
            gateway_fd_limit = fd_limit(pid)
            alive = close_all(devices_of)
            # The fan-out priced where it dominates a write: a few carts, many streams each.
            await asyncio.sleep(1.0)
            wide_of, _, _ = await open_streams(
                port,
                tokens,
                wide_users,
                args.wide_devices,
                [len(wide_users) * args.wide_devices],
                pid,
            )
            wide_order = [wide_users[i % len(wide_users)] for i in range(args.wide_writes)]
            wide = await alternate(
                port,
                tokens,
                wide_order,
                [quiet_users[i % users] for i in range(args.wide_writes)],
                args.rate,
                len(wide_users),
                pid,
            )
            await delivered(wide.watched, wide_of)
            close_all(wide_of)
    finally:
        redis_process.terminate()
        redis_process.wait()

    written, quiet = main.watched, main.quiet
    latencies = latencies_ms(written, devices_of)
    expected = sum(args.devices for w in written if w.ack.status == 200)
    wide_events = len(latencies_ms(wide.watched, wide_of))
    wide_expected = sum(args.wide_devices for w in wide.watched if w.ack.status == 200)
    wide_event_us = (wide.watched_cpu - wide.quiet_cpu) / max(1, wide_events) * 1e6
    quiet_cpu, watched_cpu = main.quiet_cpu, main.watched_cpu
    events = len(latencies)
    idle_share = idle.cpu / idle.wall  # the heartbeats, steady (see --idle)
    quiet_per_write = quiet_cpu / max(1, len(quiet))
    watched_per_write = watched_cpu / max(1, len(written))
    rss0, full = steps[0]["rss_mib"], steps[-1]
    per_stream_kib = (full["rss_mib"] - rss0) * 1024 / max(1, streams)
    first = steps[1]
    marginal_kib = (full["rss_mib"] - first["rss_mib"]) * 1024 / max(1, streams - first["streams"])
    fds0 = int(steps[0]["fds"])
    by_fds = gateway_fd_limit - fds0
    by_memory = int((GOAL_RSS_MIB - rss0) * 1024 / per_stream_kib) if per_stream_kib > 0 else 0
    cpu_per_event_us = (watched_cpu - quiet_cpu) / max(1, events) * 1e6
    return {
        # What bench.goals reads (issue 15's fan-out goals):
        "streams_open": min(full["streams"], alive),
        "delivered_share": events / expected if expected else 0.0,
        "p99_ms": pct(latencies, 0.99),
        "rss_mib": max(full["rss_mib"], after_rss),
        "users": users,
        "devices": args.devices,
        "streams": streams,
        "opened": full["streams"],
        "alive_after_writes": alive,
        "writes": len(written),
        "writes_ok": sum(1 for w in written if w.ack.status == 200),
        "write_statuses": dict(Counter(str(w.ack.status) for w in written)),
        "rate_per_s": args.rate,
        "block": args.block,
        "events_expected": expected,
        "events_delivered": events,
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
        "idle_cpu_share": idle_share,
        "heartbeat_cpu_us": idle.cpu / max(1, streams) * 1e6 * (args.heartbeat / idle.wall),
        "idle_s": idle.wall,
        "cpu_per_write_unwatched_ms": quiet_per_write * 1000,
        "cpu_per_write_watched_ms": watched_per_write * 1000,
        "quiet_writes_ok": sum(1 for w in quiet if w.ack.status == 200),
        "load_cpu_s": load.cpu,
        "load_wall_s": load.wall,
        "cpu_per_event_all_in_us": watched_cpu / max(1, events) * 1e6,
        "cpu_per_event_us": cpu_per_event_us,
        "wide_users": args.wide_users,
        "wide_devices": args.wide_devices,
        "wide_writes": len(wide.watched),
        "wide_events_delivered": wide_events,
        "wide_events_expected": wide_expected,
        "wide_cpu_per_write_ms": wide.watched_cpu / max(1, len(wide.watched)) * 1000,
        "wide_cpu_per_quiet_write_ms": wide.quiet_cpu / max(1, len(wide.quiet)) * 1000,
        "wide_cpu_per_event_us": wide_event_us,
        "events_per_core_s": 1e6 / wide_event_us if wide_event_us > 0 else float("inf"),
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
        return ("met" if ok else "MISSED") + (" (quick)" if quick else "")

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
        f"{r['idle_cpu_share'] * 100:.1f} % of a core over {r['idle_s']:.0f} s (heartbeats: "
        f"{r['heartbeat_cpu_us']:.0f} us each)"
    )
    print(
        f"gateway CPU: {r['cpu_per_write_unwatched_ms']:.2f} ms a write to a cart no stream "
        f"watches, {r['cpu_per_write_watched_ms']:.2f} ms a write to a cart with "
        f"{r['devices']} streams (blocks of {r['block']} of each in turn): "
        f"{r['cpu_per_event_us']:.0f} us a delivered event"
    )
    print(
        f"fan-out priced on {r['wide_users']} carts with {r['wide_devices']} streams each: "
        f"{r['wide_cpu_per_write_ms']:.2f} ms a write against "
        f"{r['wide_cpu_per_quiet_write_ms']:.2f} ms unwatched, "
        f"{r['wide_events_delivered']:,} of {r['wide_events_expected']:,} events: "
        f"{r['wide_cpu_per_event_us']:.0f} us a delivered event (about "
        f"{r['events_per_core_s']:,.0f} events/s a core)"
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
    every = (
        r["events_delivered"] == r["events_expected"]
        and r["writes_ok"] == r["writes"]
        and r["quiet_writes_ok"] == r["writes"]
    )
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
        f"goal: CPU per delivered event measured: {r['wide_cpu_per_event_us']:.0f} us "
        f"({r['wide_devices']} streams a cart; {r['cpu_per_event_us']:.0f} us at "
        f"{r['devices']}, within the noise of a write's {r['cpu_per_write_unwatched_ms']:.1f} ms;"
        f" {r['cpu_per_event_all_in_us']:.0f} us with the write's share; a heartbeat "
        f"{r['heartbeat_cpu_us']:.0f} us): measured"
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
    parser.add_argument("--block", type=int, default=100, help="writes a block (see measure)")
    parser.add_argument("--wide-users", type=int, default=20, help="carts priced for fan-out")
    parser.add_argument("--wide-devices", type=int, default=100, help="streams a wide cart")
    parser.add_argument("--wide-writes", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="writes a second")
    parser.add_argument(
        "--heartbeat", type=float, default=15.0, help="the gateway's CARTSYNC_SSE_HEARTBEAT_S"
    )
    parser.add_argument(
        "--idle",
        type=float,
        help="seconds idle with the streams open (the heartbeat: each "
        "stream beats once in any such window, so the idle CPU is the heartbeats' steady cost)",
    )
    parser.add_argument("--profile", help="py-spy the gateway during the writes (raw stacks)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    args.idle = args.heartbeat if args.idle is None else args.idle
    if args.quick:
        args.users, args.devices, args.writes, args.block = 10, 5, 20, 10
        args.wide_users, args.wide_devices, args.wide_writes = 2, 10, 10
        args.rate, args.idle = 100.0, 0.2
    # uvloop, as the gateway runs: the client's share of the work stays small.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results = runner.run(measure(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    report(results, args.quick)


if __name__ == "__main__":
    main()
