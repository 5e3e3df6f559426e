"""A SIGTERM stops the gateway promptly, whatever Redis does meanwhile.

Each test starts a real ``cartsync serve`` process in front of storesim and a
redis-server of its own, does what Redis does when it goes (killed; its name never
resolving; its name resolving and then not, with the DNS server answering NXDOMAIN or
nothing at all, as when Redis and the gateway stop together under compose ``down``),
then sends SIGTERM and measures until the process has exited. Names are resolved by a
DNS server of the test's own (``tests/resolver.py``) in a mount namespace of the
gateway's own, so the machine's resolver is never involved.

Every stop must end within the drain window (uvicorn's grace for requests in flight
plus the lane's for batches: what the Kubernetes grace period is sized for), and a stop
with nothing left to answer well within the lane's grace; no stop may leave an
exception nobody retrieved.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from cartsync.carts.policy import CartPolicy
from cartsync.cli import GRACEFUL_SHUTDOWN_S

from ..conftest import _redis_server, _wait_for_ping
from ..resolver import NXDOMAIN, SILENT, Resolver, namespaced
from ..support import free_port, gateway_env, start_storesim, stop, wait_until_serving
from .conftest import user_token

DRAIN_WINDOW_S = GRACEFUL_SHUTDOWN_S + CartPolicy().shutdown_lane_grace_s
PROMPT_S = 3.0  # nothing in flight: well under the lane's grace (5 s), the old hold
REDIS_NAME = "redis"  # the compose service's name


def problems(log: str) -> list[str]:
    """What a clean stop never logs: an exception nobody retrieved (a task's or a bare
    future's), uvicorn cutting requests off at the end of its grace."""
    return [
        line
        for line in log.splitlines()
        if "exception was never retrieved" in line or "timeout graceful shutdown exceeded" in line
    ]


@dataclass
class World:
    """A storesim server, a redis-server to kill, and where the gateway writes its log."""

    storesim: str
    redis_port: int
    redis: subprocess.Popen[bytes]
    workdir: Path

    def kill_redis(self) -> None:
        self.redis.kill()
        self.redis.wait()


@pytest.fixture
def world() -> Iterator[World]:
    workdir = Path(tempfile.mkdtemp(prefix="cartsync-stop-"))
    redis_port = free_port()
    process = _redis_server(redis_port, str(workdir))
    _wait_for_ping(redis.Redis(port=redis_port), [process])
    sim_port = free_port()
    sim = start_storesim(sim_port, "--secret", "shutdown")
    try:
        yield World(f"http://127.0.0.1:{sim_port}", redis_port, process, workdir)
    finally:
        stop(sim)
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def serving(self) -> None:
        wait_until_serving(f"{self.url}/healthz", self.process)

    def stop(self) -> float:
        """SIGTERM, then the seconds until the process has exited (killed, and the test
        failed, past the drain window and a margin)."""
        signalled = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=DRAIN_WINDOW_S + 10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"no exit {DRAIN_WINDOW_S + 10:.0f} s after SIGTERM")
        elapsed = time.monotonic() - signalled
        print(f"stop: {elapsed:.2f} s")  # the measurement, with -s
        assert self.process.returncode in (0, -signal.SIGTERM), self.process.returncode
        return elapsed


def _replica(world: World, redis_url: str, resolver: Resolver | None = None) -> Replica:
    port = free_port()
    log = world.workdir / "gateway.log"
    env = gateway_env(world.storesim, redis_url)
    command = [sys.executable, "-m", "cartsync", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    if resolver is not None:
        command = namespaced(command, resolver, world.workdir)
    process = subprocess.Popen(
        command,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CARTSYNC_")}, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return Replica(process, f"http://127.0.0.1:{port}", log)


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {user_token()}"}


def _add(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/v1/cart/items", json={"product_id": 10}, headers=headers, timeout=60)


def _touch_state(url: str) -> None:
    """Requests that need Redis once it is gone (each starts a connection attempt, and
    so a lookup of its name): a first read of a new owner's cart, and readiness."""
    read = httpx.get(f"{url}/v1/cart", headers=_headers(), timeout=60)
    assert read.status_code == 503, read.text
    assert httpx.get(f"{url}/readyz", timeout=60).status_code == 503


class TestRedisGone:
    def test_redis_killed_mid_run(self, world: World) -> None:
        replica = _replica(world, f"redis://127.0.0.1:{world.redis_port}/0")
        replica.serving()
        assert _add(replica.url, _headers()).status_code == 200
        world.kill_redis()
        _touch_state(replica.url)
        assert replica.stop() <= PROMPT_S
        assert problems(replica.log.read_text()) == []

    @pytest.mark.parametrize("mode", [NXDOMAIN, SILENT])
    def test_a_redis_host_that_never_resolved(self, world: World, mode: str) -> None:
        with Resolver(REDIS_NAME) as resolver:
            resolver.mode = mode
            world.kill_redis()
            replica = _replica(world, f"redis://{REDIS_NAME}:{world.redis_port}/0", resolver)
            replica.serving()
            _touch_state(replica.url)
            assert replica.stop() <= PROMPT_S
        assert problems(replica.log.read_text()) == []


class TestRedisAndItsNameGoTogether:
    """Compose ``down``: Redis stops and its service name stops resolving, and the
    gateway is told to stop at the same time."""

    @pytest.mark.parametrize("mode", [NXDOMAIN, SILENT])
    def test_stopped_after_redis_and_its_name_went(self, world: World, mode: str) -> None:
        with Resolver(REDIS_NAME) as resolver:
            replica = _replica(world, f"redis://{REDIS_NAME}:{world.redis_port}/0", resolver)
            replica.serving()
            assert _add(replica.url, _headers()).status_code == 200
            world.kill_redis()
            resolver.mode = mode
            _touch_state(replica.url)
            assert replica.stop() <= PROMPT_S
        assert problems(replica.log.read_text()) == []

    def test_stopped_while_starting(self, world: World) -> None:
        """Told to stop while start-up waits on a Redis that is gone (its first lookup
        of Redis' name is under way): start-up is given up."""
        with Resolver(REDIS_NAME) as resolver:
            resolver.mode = SILENT
            world.kill_redis()
            replica = _replica(world, f"redis://{REDIS_NAME}:{world.redis_port}/0", resolver)
            resolver.wait_for_query(0, timeout=20)
            assert replica.process.poll() is None
            assert replica.stop() <= PROMPT_S
        assert problems(replica.log.read_text()) == []

    def test_a_write_in_flight_is_answered_and_the_stop_stays_in_the_window(
        self, world: World
    ) -> None:
        """A write whose batch is at the store when Redis and its name go: its result
        can never be recorded. The caller is answered (its outcome unknown: it retries
        with its key) without waiting out the write timeout, and the stop ends in the
        drain window."""
        with (
            Resolver(REDIS_NAME) as resolver,
            httpx.Client(base_url=world.storesim, timeout=10) as sim,
        ):
            replica = _replica(world, f"redis://{REDIS_NAME}:{world.redis_port}/0", resolver)
            replica.serving()
            headers = _headers()
            assert _add(replica.url, headers).status_code == 200
            sim.put("/__sim/latency", json={"fixed_ms": 1500, "batch_base_ms": 1500})
            writes = sim.get("/__sim/state").json()["counters"]["writes"]
            answer: list[httpx.Response] = []
            writer = threading.Thread(target=lambda: answer.append(_add(replica.url, headers)))
            writer.start()
            deadline = time.monotonic() + 10
            while sim.get("/__sim/state").json()["counters"]["writes"] == writes:
                assert time.monotonic() < deadline, "the write never left"
                time.sleep(0.02)  # wait-ok: polling for the batch to reach the store
            world.kill_redis()
            resolver.mode = SILENT
            elapsed = replica.stop()
            writer.join(timeout=DRAIN_WINDOW_S)
        assert elapsed <= DRAIN_WINDOW_S
        assert elapsed < CartPolicy().write_timeout_s  # not held for the write timeout
        assert [a.status_code for a in answer] in ([504], [503])
        assert problems(replica.log.read_text()) == []
