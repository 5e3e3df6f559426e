"""Shared fixtures: a private redis-server, and storesim in process or as a real server."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis

from storesim import SimConfig, create_app

from .support import free_port, start_storesim, stop


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server of our own on a free port, without persistence, for this session.

    Never a shared Redis: tests may flush it.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make setup` (or .ci/run)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="cartsync-redis-")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(200):
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if process.poll() is not None:
                    raise RuntimeError("redis-server exited at start") from None
                time.sleep(0.025)  # wait-ok: polling a starting redis-server with a deadline
        else:
            raise RuntimeError("redis-server did not answer PING")
        yield url
    finally:
        client.close()
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def sim_config() -> SimConfig:
    """The simulator's start-up configuration for in-process tests (latency off)."""
    return SimConfig(secret="test-secret")


@pytest.fixture
async def storesim(sim_config: SimConfig) -> AsyncIterator[httpx.AsyncClient]:
    """storesim in this process, through httpx's ASGI transport (no faults that need a
    socket: use ``storesim_server`` for hangs and dropped connections)."""
    app = create_app(sim_config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8181") as client:
        yield client


@pytest.fixture(scope="session")
def storesim_server() -> Iterator[str]:
    """storesim as a real server process on a free port, shared by the session."""
    port = free_port()
    process = start_storesim(port, "--secret", "test-secret")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture
async def storesim_live(storesim_server: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real storesim server, reset to its start-up state for this test."""
    async with httpx.AsyncClient(base_url=storesim_server, timeout=10.0) as client:
        (await client.post("/__sim/reset")).raise_for_status()
        yield client
