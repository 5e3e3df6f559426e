"""Hardening, on real gateway processes: identity-provider tokens verified from a JWKS
server (a real one on a free port), the headers every answer carries, ``/metrics`` on a
port of its own, and the shopper's address and user agent passed to the store, through
uvicorn's proxy handling with one worker and with several."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from cartsync.api.fastpath import serve_app
from cartsync.app import create_app
from cartsync.auth import issue_user_token
from cartsync.cli import placeholder_settings
from cartsync.upstream.storeapi import StoreApiUpstream
from storesim import SimConfig
from storesim import create_app as create_storesim

from ..identity import JwksServer, SigningKey, auth0_claims
from ..support import free_port, gateway_env, start_gateway, stop, wait_until_serving
from .conftest import user_token

IDP = "https://shop.eu.auth0.com/"
API = "https://api.shop.example"


@dataclass
class Hardened:
    url: str
    metrics: str
    key: SigningKey
    jwks: JwksServer

    def token(self, subject: str = "auth0|65f0c1") -> str:
        return self.key.sign(auth0_claims(IDP, API, subject))


def _idp_env(storesim: str, redis_url: str, jwks_url: str, **extra: str) -> dict[str, str]:
    env = gateway_env(storesim, redis_url, jwt_jwks_url=jwks_url, jwt_issuer=IDP, **extra)
    del env["CARTSYNC_JWT_SECRET"]
    env["CARTSYNC_JWT_AUDIENCE"] = API
    return env


@pytest.fixture(scope="module")
def hardened(
    storesim_server: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hardened]:
    """A gateway whose users come from an identity provider (JWKS), metrics on a port of
    their own."""
    key = SigningKey.rsa("idp-2024")
    jwks = JwksServer(keys=[key]).start()
    port, metrics_port = free_port(), free_port()
    env = _idp_env(storesim_server, redis_url, jwks.url, metrics_port=str(metrics_port))
    process = start_gateway(port, env, tmp_path_factory.mktemp("hardened") / "cartsync.log")
    try:
        yield Hardened(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}", key, jwks)
    finally:
        stop(process)
        jwks.stop()


class TestIdentityProvider:
    async def test_an_idp_token_reads_the_cart_on_both_paths(self, hardened: Hardened) -> None:
        headers = {"Authorization": f"Bearer {hardened.token('auth0|reader')}"}
        async with httpx.AsyncClient(base_url=hardened.url, timeout=20) as client:
            first = await client.get("/v1/cart", headers=headers)  # the framework path
            again = await client.get("/v1/cart", headers=headers)  # the hot read
        assert (first.status_code, again.status_code) == (200, 200)
        assert first.json()["id"] == again.json()["id"]
        assert hardened.jwks.fetches == 1  # at start-up, then from the cache

    async def test_an_unpublished_key_is_401_invalid_token(self, hardened: Hardened) -> None:
        forged = SigningKey.rsa("idp-2099").sign(auth0_claims(IDP, API, "mallory"))
        async with httpx.AsyncClient(base_url=hardened.url, timeout=20) as client:
            answer = await client.get("/v1/cart", headers={"Authorization": f"Bearer {forged}"})
        assert answer.status_code == 401
        body = answer.json()
        assert (body["code"], body["field"]) == ("invalid_token", "authorization")
        assert body["message"]

    async def test_keys_that_cannot_be_fetched_are_503_identity_unavailable(
        self, storesim_server: str, redis_url: str, tmp_path: Path
    ) -> None:
        gone = JwksServer().start()
        url = gone.url
        gone.stop()  # nothing listens there
        port = free_port()
        log = tmp_path / "cartsync.log"
        process = start_gateway(port, _idp_env(storesim_server, redis_url, url), log)
        try:
            token = SigningKey.rsa("k").sign(auth0_claims(IDP, API, "a"))
            async with httpx.AsyncClient(timeout=20) as client:
                answer = await client.get(
                    f"http://127.0.0.1:{port}/v1/cart", headers={"Authorization": f"Bearer {token}"}
                )
        finally:
            stop(process)
        assert answer.status_code == 503
        assert answer.json()["code"] == "identity_unavailable"
        assert int(answer.headers["Retry-After"]) > 0
        assert token not in log.read_text()  # tokens are never logged


class TestResponseHeaders:
    async def test_every_answer_says_nosniff_and_no_server_and_keeps_its_date(
        self, hardened: Hardened
    ) -> None:
        auth = {"Authorization": f"Bearer {hardened.token('auth0|headers')}"}
        async with httpx.AsyncClient(base_url=hardened.url, timeout=20) as client:
            answers = {
                "cart": await client.get("/v1/cart", headers=auth),
                "hot read": await client.get("/v1/cart", headers=auth),
            }
            etag = answers["hot read"].headers["ETag"]
            answers |= {
                "304": await client.get("/v1/cart", headers={**auth, "If-None-Match": etag}),
                "write": await client.post("/v1/cart/items", json={"product_id": 10}, headers=auth),
                "401": await client.get("/v1/cart"),
                "404": await client.get("/v1/nowhere"),
                "405": await client.delete("/v1/session/guest"),
                "guest": await client.post("/v1/session/guest"),
                "products": await client.get("/v1/products?per_page=1", headers=auth),
                "healthz": await client.get("/healthz"),
            }
        assert answers["hot read"].status_code == 200
        assert answers["304"].status_code == 304
        for what, answer in answers.items():
            assert answer.headers.get("X-Content-Type-Options") == "nosniff", what
            assert "Server" not in answer.headers, what
            assert answer.headers.get("Date"), what
        for what in ("cart", "hot read", "304", "write", "401"):
            assert "private" in answers[what].headers["Cache-Control"] or (
                "no-store" in answers[what].headers["Cache-Control"]
            ), what
        assert answers["cart"].headers["Cache-Control"] == "private, no-cache"
        assert answers["hot read"].headers["Cache-Control"] == "private, no-cache"
        assert answers["guest"].headers["Cache-Control"] == "no-store"  # it carries a token
        assert answers["products"].headers["Cache-Control"] == "private, max-age=30"


class TestMetricsPort:
    async def test_metrics_are_served_on_their_own_port_and_not_on_the_main_one(
        self, hardened: Hardened
    ) -> None:
        async with httpx.AsyncClient(timeout=20) as client:
            main = await client.get(f"{hardened.url}/metrics")
            metrics = await client.get(f"{hardened.metrics}/metrics")
            other = await client.get(f"{hardened.metrics}/v1/cart")
            openmetrics = await client.get(
                f"{hardened.metrics}/metrics",
                headers={"Accept": "application/openmetrics-text; version=1.0.0"},
            )
        assert main.status_code == 404
        assert main.json()["code"] == "not_found"
        assert metrics.status_code == 200
        assert metrics.headers["Content-Type"].startswith("text/plain")
        for name in (
            "cartsync_requests_total",
            "cartsync_jwks_fetches_total",
            "cartsync_cart_reads",
        ):
            assert name in metrics.text
        assert other.status_code == 404
        assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
        assert openmetrics.text.rstrip().endswith("# EOF")

    def test_serve_refuses_a_metrics_port_with_several_workers(
        self, storesim_server: str, redis_url: str
    ) -> None:
        env = gateway_env(storesim_server, redis_url, metrics_port=str(free_port()))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cartsync",
                "serve",
                "--port",
                str(free_port()),
                "--workers",
                "2",
            ],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("CARTSYNC_")}, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert "CARTSYNC_METRICS_PORT needs one worker" in done.stderr


# -- what the store is told of the shopper --------------------------------------------------
def _recording(app: Any, seen: list[dict[str, str]]) -> Any:
    """storesim's ASGI app, noting each request's headers on the way in."""

    async def recorder(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await app(scope, receive, send)

    return recorder


@asynccontextmanager
async def _in_process(
    client: tuple[str, int], seen: list[dict[str, str]]
) -> AsyncIterator[httpx.AsyncClient]:
    """The served app (hot-read layer included) in process, storesim behind it, and a
    client connecting from ``client``."""
    settings = msgspec.structs.replace(placeholder_settings(), upstream_url="http://127.0.0.1:8181")
    store = httpx.ASGITransport(app=_recording(create_storesim(SimConfig()), seen))
    upstream = StoreApiUpstream("http://127.0.0.1:8181", transport=store)
    app = create_app(settings, upstream=upstream)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=serve_app(app), client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http
    await upstream.aclose()


class TestWhatTheStoreIsTold:
    async def test_every_call_carries_the_shoppers_address_and_user_agent(self) -> None:
        seen: list[dict[str, str]] = []
        headers = {
            "Authorization": f"Bearer {issue_user_token(placeholder_settings(), 'shopper')}",
            "User-Agent": "ShopApp/3.1 (iPhone; iOS 17.4)",
        }
        async with _in_process(("203.0.113.7", 50123), seen) as client:
            assert (await client.get("/v1/cart", headers=headers)).status_code == 200
            added = await client.post("/v1/cart/items", json={"product_id": 10}, headers=headers)
            assert added.status_code == 200, added.text
        assert len(seen) >= 2  # a read and a write (in the lane's task: the context went along)
        for request in seen:
            assert request["x-forwarded-for"] == "203.0.113.7"
            assert request["user-agent"] == "ShopApp/3.1 (iPhone; iOS 17.4)"
            assert request["via"] == "1.1 cartsync"

    async def test_a_user_agent_that_is_not_plain_text_is_not_passed_on(self) -> None:
        seen: list[dict[str, str]] = []
        headers = {
            "Authorization": f"Bearer {issue_user_token(placeholder_settings(), 'odd-agent')}",
            "User-Agent": "x" * 600,
        }
        async with _in_process(("2001:db8::7", 50123), seen) as client:
            assert (await client.get("/v1/cart", headers=headers)).status_code == 200
        assert seen
        assert {r["user-agent"] for r in seen} == {"cartsync"}
        assert {r["x-forwarded-for"] for r in seen} == {"2001:db8::7"}


def _serve(port: int, env: dict[str, str], log: Path, workers: int) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cartsync",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CARTSYNC_")}, **env},
        stdout=handle,
        stderr=handle,
    )
    wait_until_serving(f"http://127.0.0.1:{port}/healthz", process)
    return process


class TestProxyHeadersThroughServe:
    """The test plays the proxy (it connects from 127.0.0.1 and sends X-Forwarded-For):
    trusted, the address it names is the shopper's; not trusted, it is ignored."""

    @pytest.mark.parametrize(
        ("workers", "trusted", "expected"),
        [
            (1, "127.0.0.1", "198.51.100.20"),
            (2, "127.0.0.1", "198.51.100.20"),
            (1, "", "127.0.0.1"),
        ],
        ids=["one worker, proxy trusted", "two workers, proxy trusted", "nothing trusted"],
    )
    async def test_the_store_is_told_the_address_the_trusted_proxy_names(
        self,
        storesim_server: str,
        redis_url: str,
        tmp_path: Path,
        workers: int,
        trusted: str,
        expected: str,
    ) -> None:
        port = free_port()
        extra = {"trusted_proxies": trusted} if trusted else {}
        process = _serve(
            port, gateway_env(storesim_server, redis_url, **extra), tmp_path / "log", workers
        )
        limit = {"enabled": True, "limit": 1000, "seconds": 600, "proxy_support": True}
        try:
            async with (
                httpx.AsyncClient(base_url=storesim_server) as sim,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as client,
            ):
                (await sim.put("/__sim/rate-limit", json=limit)).raise_for_status()
                try:
                    # A shopper's own claim first, then the address the proxy saw: the
                    # right-most untrusted one is the client, and it alone is passed on.
                    chain = {"X-Forwarded-For": "10.9.9.9, 198.51.100.20"}
                    auth = {"Authorization": f"Bearer {user_token()}", **chain}
                    for _ in range(3):
                        answer = await client.post(
                            "/v1/cart/items", json={"product_id": 15}, headers=auth
                        )
                        assert answer.status_code == 200, answer.text
                    seen = (await sim.get("/__sim/forwarded")).json()
                finally:
                    await sim.put("/__sim/rate-limit", json={"enabled": False})
        finally:
            stop(process)
        assert set(seen) == {expected}


class TestCheck:
    def test_check_reaches_the_identity_providers_keys(
        self, storesim_server: str, redis_url: str
    ) -> None:
        live = JwksServer(keys=[SigningKey.ec("check")]).start()
        empty = JwksServer().start()  # answers, but with no key at all
        try:
            results = {}
            for name, url in (("live", live.url), ("empty", empty.url)):
                env = _idp_env(storesim_server, redis_url, url)
                results[name] = subprocess.run(
                    [sys.executable, "-m", "cartsync", "check"],
                    env={
                        **{k: v for k, v in os.environ.items() if not k.startswith("CARTSYNC_")},
                        **env,
                    },
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
        finally:
            live.stop()
            empty.stop()
        assert results["live"].returncode == 0, results["live"].stderr
        assert results["empty"].returncode == 1
        assert "CARTSYNC_JWT_JWKS_URL cannot be used" in results["empty"].stderr
