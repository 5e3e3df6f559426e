"""A py-spy CPU profile of a running server, summarised by the library that spends it.

Used by ``bench.added_latency --profile``: where a goal is missed, the figures say
which part of the stack the CPU goes to. py-spy samples the process from outside
(no instrumentation, no change to the timings beyond a few per cent).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The first path fragment found in a frame names its owner.
OWNERS = (
    ("redis/", "redis-py"),
    ("hiredis", "redis-py"),
    ("httpx/", "httpx (upstream client)"),
    ("httpcore/", "httpx (upstream client)"),
    ("h11/", "httpx (upstream client)"),
    ("anyio/", "anyio"),
    ("litestar/", "Litestar"),
    ("uvicorn/", "uvicorn"),
    ("httptools", "uvicorn"),
    ("uvloop", "event loop"),
    ("asyncio/", "event loop"),
    ("selectors", "event loop"),
    ("msgspec", "msgspec"),
    ("structlog/", "structlog"),
    ("logging/", "logging"),
    ("prometheus_client/", "Prometheus"),
    ("jwt/", "PyJWT"),
    ("cartsync/", "cartsync"),
)


def _owner(frame: str) -> str:
    for fragment, owner in OWNERS:
        if fragment in frame:
            return owner
    return "other"


def py_spy_binary() -> str | None:
    """py-spy from PATH or from this interpreter's virtualenv (a dev dependency)."""
    beside = Path(sys.executable).with_name("py-spy")
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


@contextmanager
def py_spy(pid: int, output: Path) -> Iterator[None]:
    """Record ``pid`` while the block runs (raw collapsed stacks into ``output``)."""
    binary = py_spy_binary()
    if binary is None:
        raise SystemExit("py-spy is not installed: pip install -e '.[dev]'")
    argv = [binary, "record", "--pid", str(pid), "--rate", "1000", "--format", "raw"]
    recorder = subprocess.Popen(
        [*argv, "--output", str(output), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        recorder.wait(timeout=30)


def summarise(collapsed: Path) -> dict[str, float]:
    """Share of on-CPU samples per owner of the innermost frame (self time)."""
    owners: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        owners[_owner(stack.rsplit(";", 1)[-1])] += int(count)
    total = sum(owners.values()) or 1
    return {owner: samples / total for owner, samples in owners.most_common()}
