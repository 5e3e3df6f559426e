"""A running gateway (real process) in front of a real storesim server and a real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from ..support import (
    AUDIENCE,
    ISSUER,
    JWT_SECRET,
    free_port,
    gateway_env,
    start_gateway,
    start_storesim,
    stop,
)


@dataclass
class Gateway:
    url: str
    storesim: str
    log: Path
    kind: str = "storeapi"  # the store behind: storesim's Store API or CoCart face


def user_token(subject: str | None = None, ttl: int = 600) -> str:
    """A token as the shop's identity provider signs it."""
    import time

    now = int(time.time())
    return jwt.encode(
        {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject or secrets.token_hex(8),
            "iat": now,
            "exp": now + ttl,
        },
        JWT_SECRET,
        algorithm="HS256",
    )


@pytest.fixture(scope="session", params=["storeapi", "cocart"])
def gateway(
    request: pytest.FixtureRequest, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """storesim and cartsync as servers, sharing this session's private Redis: once in
    front of the Store API face, once in front of the CoCart face (the same public API;
    where the stores differ, a test says what each answers)."""
    kind = str(request.param)
    sim_port = free_port()
    sim = start_storesim(sim_port, "--secret", "gateway-tests")
    log = tmp_path_factory.mktemp(f"gateway-{kind}") / "cartsync.log"
    port = free_port()
    env = gateway_env(f"http://127.0.0.1:{sim_port}", redis_url, upstream_kind=kind)
    process = start_gateway(port, env, log)
    try:
        yield Gateway(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sim_port}", log, kind)
    finally:
        stop(process)
        stop(sim)


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway acting for one new user."""
    headers = {"Authorization": f"Bearer {user_token()}"}
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=20) as c:
        yield c


@pytest.fixture
async def sim(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's storesim control plane (faults are reset after each test)."""
    async with httpx.AsyncClient(base_url=gateway.storesim, timeout=20) as c:
        yield c
        await c.put("/__sim/faults", json={})
        await c.put("/__sim/rate-limit", json={"enabled": False})
