"""The local stack (``deploy/local/stack.py``): real redis-server, storesim with latency
and the session race on, two gateway replicas as real processes, nginx in front."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy.local.stack import QUICK_FAILOVER, Stack

from ..support import AUDIENCE, GUEST_SECRET, ISSUER, JWT_SECRET

# The measured upstream (80 ms a call, a batch 60 ms + 15 ms per sub-request), jitter off:
# slow enough that a burst arrives while the first call is in flight, as in production.
LATENCY = "80:0:60:15"
SETTINGS = QUICK_FAILOVER


@dataclass
class Deployment:
    """What the tests see of the stack: the balancer, each replica, the store, the logs."""

    stack: Stack
    kind: str = "storeapi"

    @property
    def balancer(self) -> str:
        return self.stack.url

    @property
    def storesim(self) -> str:
        return self.stack.storesim_url

    @property
    def replicas(self) -> list[str]:
        return self.stack.replica_urls

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [process for _, process in self.stack.processes]

    @property
    def logs(self) -> Path:
        return self.stack.workdir

    def add_replica(self) -> str:
        return self.stack.add_replica()


@pytest.fixture(scope="module", params=["storeapi", "cocart"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The stack in front of storesim's Store API face, then its CoCart face."""
    kind = str(request.param)
    stack = Stack(
        replicas=2,
        latency=LATENCY,
        settings={**SETTINGS, "upstream_kind": kind},
        workdir=tmp_path_factory.mktemp("stack"),
        jwt_secret=JWT_SECRET,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        guest_secret=GUEST_SECRET,
    ).start()
    try:
        yield Deployment(stack, kind)
    finally:
        stack.stop()
