"""Two gateway replicas (real processes) sharing one Redis, in front of a storesim server
with the session race on and latency on."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..support import free_port, gateway_env, start_gateway, start_storesim, stop

# The measured upstream (80 ms a call, a batch 60 ms + 15 ms per sub-request), jitter off:
# slow enough that a burst arrives while the first call is in flight, as in production.
LATENCY = "80:0:60:15"
SETTINGS = {
    "upstream_read_timeout_s": "2",
    "upstream_read_retries": "1",
    "lock_ttl_s": "4",
    "reconcile_grace_s": "3",
    "write_timeout_s": "20",
    "write_rate_limit_per_minute": "100000",
    "rate_limit_per_minute": "100000",
}


@dataclass
class Deployment:
    storesim: str
    replicas: list[str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    logs: Path = Path()

    def add_replica(self) -> str:
        port = free_port()
        process = start_gateway(port, self.env, self.logs / f"replica-{port}.log")
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        self.replicas.append(url)
        return url


@pytest.fixture(scope="module")
def deployment(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    sim_port = free_port()
    sim = start_storesim(sim_port, "--latency", LATENCY)
    logs = tmp_path_factory.mktemp("replicas")
    env = gateway_env(
        f"http://127.0.0.1:{sim_port}", redis_url.rsplit("/", 1)[0] + "/3", **SETTINGS
    )
    world = Deployment(f"http://127.0.0.1:{sim_port}", [], env=env, logs=logs)
    try:
        world.add_replica()
        world.add_replica()
        yield world
    finally:
        for process in world.processes:
            stop(process)
        stop(sim)
