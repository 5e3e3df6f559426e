"""One write at a time through this checkout's gateway and through another commit's, side
by side: what a change bought, on a machine whose speed drifts between runs.

    python -m bench.versus REV [--writes 60] [--rounds 3] [--json FILE]

Each round starts both gateways afresh (their own redis-server, storesim at 80 ms a
call with jitter off, as ``bench.added_latency``) one after the other, the other commit's
first, and times the same lone add-items through each, interleaved with the same call
straight to the store. The other commit's code is a temporary ``git worktree`` put on
the gateway's ``PYTHONPATH``; everything else (interpreter, dependencies, storesim,
this driver) is this checkout's, so only the service's code differs. ``make bench``
runs it against ``HEAD``, the same code on both sides: the ratio it prints then is the
noise of a side-by-side comparison on that machine, to read other ratios against.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

import httpx

from .added_latency import LATENCY, lone_writes
from .cached_read import _redis
from .tools import bench_token, free_port, gateway, gateway_env, storesim

ROOT = Path(__file__).resolve().parent.parent


async def _lone_writes(service: Path | None, writes: int) -> tuple[float, float]:
    """(gateway CPU ms a write, added p50 ms) of ``writes`` lone add-items; ``service``:
    the other commit's ``service/`` folder, None for this checkout's."""
    redis_process, redis_url = _redis()
    sim_port, port = free_port(), free_port()
    env = gateway_env(f"http://127.0.0.1:{sim_port}", redis_url)
    if service is not None:
        env["PYTHONPATH"] = str(service)
    try:
        with storesim(sim_port, "--latency", LATENCY), gateway(port, env) as process:
            headers = {"Authorization": f"Bearer {bench_token('versus')}"}
            async with httpx.AsyncClient(timeout=30) as client:
                for _ in range(10):  # warm: connections, caches, the cart itself
                    await client.post(
                        f"http://127.0.0.1:{port}/v1/cart/items",
                        json={"product_id": 15},
                        headers=headers,
                    )
                timed = await lone_writes(client, port, sim_port, headers, process.pid, writes)
    finally:
        redis_process.terminate()
        redis_process.wait()
    return timed.cpu_ms_per_write, timed.added_p50_ms


def _worktree(rev: str, folder: Path) -> str:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(folder), rev],
        check=True,
    )
    return subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rev", help="the commit to measure against (e.g. HEAD~3, a tag)")
    parser.add_argument("--writes", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cartsync-versus-") as scratch:
        folder = Path(scratch) / "tree"
        short = _worktree(args.rev, folder)
        try:
            other: list[tuple[float, float]] = []
            this: list[tuple[float, float]] = []
            for _ in range(args.rounds):
                other.append(asyncio.run(_lone_writes(folder / "service", args.writes)))
                this.append(asyncio.run(_lone_writes(None, args.writes)))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)],
                check=False,
            )
    print(f"lone writes, {args.writes} a round, {args.rounds} rounds, storesim {LATENCY}:\n")
    print("| code | gateway CPU ms a write (rounds) | median | added p50 ms (rounds) | median |")
    print("|---|---|---|---|---|")
    for name, runs in ((f"`{short}` ({args.rev})", other), ("this checkout", this)):
        cpus = ", ".join(f"{cpu:.2f}" for cpu, _ in runs)
        added = ", ".join(f"{a:.2f}" for _, a in runs)
        print(
            f"| {name} | {cpus} | {statistics.median(c for c, _ in runs):.2f} | {added} |"
            f" {statistics.median(a for _, a in runs):.2f} |"
        )
    cpu_ratio = statistics.median(c for c, _ in this) / statistics.median(c for c, _ in other)
    added_ratio = statistics.median(a for _, a in this) / statistics.median(a for _, a in other)
    print(f"\nthis checkout / {short}: CPU {cpu_ratio:.2f}x, added p50 {added_ratio:.2f}x")
    if args.json:
        figures = {
            "rev": args.rev,
            "commit": short,
            "writes": args.writes,
            "rounds": args.rounds,
            "other_cpu_ms": [cpu for cpu, _ in other],
            "this_cpu_ms": [cpu for cpu, _ in this],
            "other_added_ms": [added for _, added in other],
            "this_added_ms": [added for _, added in this],
            "cpu_ratio": cpu_ratio,
            "added_ratio": added_ratio,
        }
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
