"""Shared plumbing for the benchmark scripts: servers on free ports, wrk, CPU time."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
from deploy.local.stack import free_port as free_port  # shared with the local stack
from deploy.local.stack import replica_command


@contextmanager
def server(
    argv: list[str], ready_url: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` (pinned to CPU 0 when possible) until the block ends."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        argv = ["taskset", "-c", "0", *argv]
    process = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(ready_url, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{argv} did not start") from None
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()  # e.g. uvicorn waiting for streams a client left open
            process.wait()


def gateway(port: int, env: dict[str, str]) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """A gateway replica on ``port``, run with the command the image and the local stack
    run (``deploy/local/stack.py``)."""
    argv = [sys.executable, *replica_command("127.0.0.1", port)]
    return server(argv, f"http://127.0.0.1:{port}/healthz", env=env)


def storesim(port: int, *extra: str) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """storesim on ``port`` (``extra``: e.g. ``--latency realistic``)."""
    argv = [sys.executable, "-m", "storesim", "--port", str(port), *extra]
    return server(argv, f"http://127.0.0.1:{port}/__sim/state")


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int


def wrk(
    url: str, connections: int, seconds: float, headers: dict[str, str] | None = None
) -> WrkResult:
    """Drive ``url`` with wrk (pinned to CPU 1) and parse its latency distribution."""
    binary = shutil.which("wrk")
    if binary is None:
        sys.exit("wrk is missing: apt-get install wrk")
    argv = [binary, "-t1", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "--latency"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        argv = ["taskset", "-c", "1", *argv]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]

    def pct(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return WrkResult(rps, pct("50"), pct("99"), total)


async def cpu_us_each(calls: int, step: Callable[[], Awaitable[object]], warmup: int = 5) -> float:
    """Mean CPU (user + system) of this process for one ``step``, after ``warmup`` steps."""
    for _ in range(min(warmup, calls)):
        await step()
    before = time.process_time()
    for _ in range(calls):
        await step()
    return (time.process_time() - before) / calls * 1e6


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, every thread, children excluded, in nanoseconds' precision:
    the scheduler's own run time (``/proc/PID/task/*/schedstat``), where ``/proc/PID/stat``
    counts in ticks of 10 ms (too coarse for one write of a few ms)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
    return total / 1e9


BENCH_SECRET = "bench-jwt-secret-0123456789abcdef012345"  # noqa: S105 - a throwaway key


def gateway_env(upstream: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The CARTSYNC_* environment of a benchmarked gateway (limits out of the way)."""
    return {
        "CARTSYNC_UPSTREAM_URL": upstream,
        "CARTSYNC_REDIS_URL": redis_url,
        "CARTSYNC_JWT_SECRET": BENCH_SECRET,
        "CARTSYNC_JWT_ISSUER": "https://bench.example",
        "CARTSYNC_JWT_AUDIENCE": "bench",
        "CARTSYNC_GUEST_SECRET": BENCH_SECRET,
        # Production defaults: one JSON log line per request (to a discarded stderr).
        "CARTSYNC_LOG_LEVEL": "info",
        "CARTSYNC_LOG_FORMAT": "json",
        "CARTSYNC_RATE_LIMIT_PER_MINUTE": "100000000",
        "CARTSYNC_WRITE_RATE_LIMIT_PER_MINUTE": "100000000",
        **{f"CARTSYNC_{k.upper()}": v for k, v in extra.items()},
    }


def bench_token(subject: str) -> str:
    now = int(time.time())
    return jwt.encode(
        {
            "iss": "https://bench.example",
            "aud": "bench",
            "sub": subject,
            "iat": now,
            "exp": now + 3600,
        },
        BENCH_SECRET,
        algorithm="HS256",
    )


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
