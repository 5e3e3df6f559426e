"""Shared fixtures: a private redis-server, and storesim in process or as a real server."""

from __future__ import annotations

import shutil
import socket
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
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="cartsync-redis-")
    process = _redis_server(port, workdir, "--protected-mode", "yes")
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        _wait_for_ping(client, [process])
        yield url
    finally:
        client.close()
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """A Redis Cluster of our own: 3 masters on free ports (``--cluster-enabled yes``),
    joined with ``redis-cli --cluster create``; the URL of one node (the client finds
    the rest)."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise RuntimeError("redis-cli is not installed: run `make setup` (or .ci/run)")
    workdir = tempfile.mkdtemp(prefix="cartsync-cluster-")
    ports = [_cluster_port() for _ in range(3)]
    processes = []
    try:
        for port in ports:
            node_dir = f"{workdir}/{port}"
            subprocess.run(["mkdir", "-p", node_dir], check=True)
            processes.append(
                _redis_server(
                    *(port, node_dir, "--cluster-enabled", "yes"),
                    *("--cluster-config-file", f"{node_dir}/nodes.conf"),
                    *("--cluster-node-timeout", "2000"),
                )
            )
        for port in ports:
            _wait_for_ping(redis.Redis(port=port), processes)
        subprocess.run(
            [
                *(cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports)),
                *("--cluster-replicas", "0", "--cluster-yes"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        deadline = time.monotonic() + 20
        while True:
            states = [redis.Redis(port=port).cluster("info") for port in ports]
            if all(state.get("cluster_state") == "ok" for state in states):
                break
            assert time.monotonic() < deadline, "the cluster did not converge"
            time.sleep(0.05)  # wait-ok: polling the cluster's state with a deadline
        yield f"redis://127.0.0.1:{ports[0]}"
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_sentinel_url() -> Iterator[str]:
    """A Redis master of our own and one Sentinel watching it (``redis-server
    --sentinel``), as ``redis+sentinel://127.0.0.1:PORT/cartsync``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make setup` (or .ci/run)")
    workdir = tempfile.mkdtemp(prefix="cartsync-sentinel-")
    master_port, sentinel_port = free_port(), free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(_redis_server(master_port, workdir))
        _wait_for_ping(redis.Redis(port=master_port), processes)
        conf = f"{workdir}/sentinel.conf"  # Sentinel rewrites its own configuration file
        with open(conf, "w") as handle:
            handle.write(
                f"port {sentinel_port}\nbind 127.0.0.1\ndir {workdir}\n"
                f"sentinel monitor cartsync 127.0.0.1 {master_port} 1\n"
            )
        processes.append(
            subprocess.Popen(
                [binary, conf, "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
        sentinel = redis.Redis(port=sentinel_port)
        _wait_for_ping(sentinel, processes)
        deadline = time.monotonic() + 10
        while not sentinel.execute_command("SENTINEL", "get-master-addr-by-name", "cartsync"):
            assert time.monotonic() < deadline, "sentinel does not know the master"
            time.sleep(0.05)  # wait-ok: polling the sentinel with a deadline
        yield f"redis+sentinel://127.0.0.1:{sentinel_port}/cartsync/0"
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


_NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


def _redis_server(port: int, workdir: str, *extra: str) -> subprocess.Popen[bytes]:
    """A redis-server of ours on 127.0.0.1:``port``, no persistence, files in ``workdir``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make setup` (or .ci/run)")
    address = ("--port", str(port), "--bind", "127.0.0.1")
    return subprocess.Popen(
        [binary, *address, *_NO_PERSISTENCE, "--dir", workdir, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _wait_for_ping(client: redis.Redis, processes: list[subprocess.Popen[bytes]]) -> None:
    for _ in range(200):
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            if any(process.poll() is not None for process in processes):
                raise RuntimeError("redis-server exited at start") from None
            time.sleep(0.025)  # wait-ok: polling a starting redis-server with a deadline
    raise RuntimeError("redis-server did not answer PING")


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
