"""The load side of ``bench.fanout``: open files, paced writes, streams opened in batches,
and the alternating blocks that price the fan-out.

Why alternate: on a shared machine the CPU a write costs drifts by more than the
fan-out adds to it. Blocks of writes to carts nobody watches and to watched carts, one
after the other, carry the same drift and the same heartbeats, so the difference of
their CPU is what the streams cost.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fanout_client import Ack, Device, open_device, open_writer
from .tools import cpu_seconds, rss_mib

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
    port: int, tokens: list[str], users: list[int], devices: int, checkpoints: list[int], pid: int
) -> tuple[dict[int, list[Device]], list[dict[str, float]], Phase]:
    """``devices`` streams for each of ``users`` (token indices), opened ``_OPEN_BATCH`` at
    a time; RSS and open files read at each checkpoint (that many streams open, each with
    its current cart)."""
    plan = [u for _ in range(devices) for u in users]  # spread over the users
    devices_of: dict[int, list[Device]] = {u: [] for u in users}
    steps = [{"streams": 0, "rss_mib": rss_mib(pid), "fds": open_fds(pid)}]
    with Phase(pid) as opening:
        opened = 0
        for mark in checkpoints:
            while opened < mark:
                batch = plan[opened : min(mark, opened + _OPEN_BATCH)]
                streams = await asyncio.gather(*(open_device(port, tokens[u]) for u in batch))
                await asyncio.wait_for(asyncio.gather(*(s.opened for s in streams)), 60)
                for u, stream in zip(batch, streams, strict=True):
                    devices_of[u].append(stream)
                opened += len(batch)
            await asyncio.sleep(0.5)
            steps.append({"streams": opened, "rss_mib": rss_mib(pid), "fds": open_fds(pid)})
    return devices_of, steps, opening


def close_all(devices_of: dict[int, list[Device]]) -> int:
    """Close every stream; returns how many were still open."""
    alive = sum(1 for row in devices_of.values() for d in row if not d.closed)
    for row in devices_of.values():
        for device in row:
            device.close()
    return alive


@dataclass
class Alternated:
    watched: list[Written]
    quiet: list[Written]
    watched_cpu: float = 0.0
    quiet_cpu: float = 0.0


async def alternate(
    port: int,
    tokens: list[str],
    watched: list[int],
    quiet: list[int],
    rate: float,
    block: int,
    pid: int,
) -> Alternated:
    """Writes to ``watched`` and to ``quiet`` carts (token indices), ``block`` of each in
    turn at ``rate``, with the gateway's CPU summed per kind."""
    done = Alternated([], [])
    for start in range(0, len(watched), block):
        before = cpu_seconds(pid)
        done.quiet += await paced_writes(port, tokens, quiet[start : start + block], rate, 32)
        between = cpu_seconds(pid)
        done.watched += await paced_writes(port, tokens, watched[start : start + block], rate, 32)
        done.quiet_cpu += between - before
        done.watched_cpu += cpu_seconds(pid) - between
    return done


async def delivered(
    written: list[Written], devices_of: dict[int, list[Device]], wait_s: float = 10
) -> None:
    """Until every acknowledged write's event reached each of its user's devices (or
    ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    waiting = [(w.ack.etag, d) for w in written if w.ack.status == 200 for d in devices_of[w.user]]
    while waiting and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        waiting = [(tag, d) for tag, d in waiting if tag not in d.arrivals]


def latencies_ms(written: list[Written], devices_of: dict[int, list[Device]]) -> list[float]:
    """Each device's event arrival less its write's acknowledgement."""
    return [
        (d.arrivals[w.ack.etag] - w.ack.acked) * 1000
        for w in written
        for d in devices_of[w.user]
        if w.ack.status == 200 and w.ack.etag in d.arrivals
    ]
