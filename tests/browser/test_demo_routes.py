"""The demo page's routes in process: off unless ``CARTSYNC_DEMO_PAGE``, never in the
OpenAPI document, every file shipped with the package and nothing loaded from elsewhere."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from cartsync.app import create_app
from cartsync.cli import placeholder_settings
from cartsync.settings import Settings, SettingsError, load_settings
from cartsync.upstream.storeapi import StoreApiUpstream
from storesim import SimConfig
from storesim import create_app as create_storesim

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "service" / "cartsync" / "api" / "demo"


def _settings(**changes: object) -> Settings:
    return msgspec.structs.replace(
        placeholder_settings(), upstream_url="http://127.0.0.1:8181", log_format="json", **changes
    )


async def _client(settings: Settings) -> AsyncIterator[AsyncTestClient[object]]:
    upstream = StoreApiUpstream(
        "http://127.0.0.1:8181", transport=httpx.ASGITransport(app=create_storesim(SimConfig()))
    )
    async with AsyncTestClient(create_app(settings, upstream=upstream)) as client:
        yield client
    await upstream.aclose()


@pytest.fixture
async def with_page() -> AsyncIterator[AsyncTestClient[object]]:
    async for client in _client(_settings(demo_page=True)):
        yield client


@pytest.fixture
async def without_page() -> AsyncIterator[AsyncTestClient[object]]:
    async for client in _client(_settings()):
        yield client


class TestOffByDefault:
    async def test_without_the_setting_no_demo_route_answers(
        self, without_page: AsyncTestClient[object]
    ) -> None:
        for path in ("/demo/", "/demo/device.html", "/demo/session", "/demo/stats"):
            answer = await without_page.get(path)
            assert answer.status_code == 404, path
            assert "token" not in answer.text

    def test_the_setting_defaults_to_off_and_needs_the_secret_that_signs_user_tokens(
        self,
    ) -> None:
        base = {
            "CARTSYNC_UPSTREAM_URL": "https://shop.example",
            "CARTSYNC_JWT_SECRET": "s" * 32,
            "CARTSYNC_JWT_ISSUER": "https://shop.example",
            "CARTSYNC_GUEST_SECRET": "g" * 32,
        }
        assert load_settings(base).demo_page is False
        assert load_settings({**base, "CARTSYNC_DEMO_PAGE": "true"}).demo_page is True
        jwks = {k: v for k, v in base.items() if k != "CARTSYNC_JWT_SECRET"}
        jwks |= {
            "CARTSYNC_JWT_JWKS_URL": "https://idp.example/jwks.json",
            "CARTSYNC_JWT_AUDIENCE": "cartsync",
        }
        with pytest.raises(SettingsError, match="CARTSYNC_DEMO_PAGE"):
            load_settings({**jwks, "CARTSYNC_DEMO_PAGE": "true"})
        with pytest.raises(SettingsError, match="CARTSYNC_DEMO_PAGE"):
            load_settings(
                {**base, "CARTSYNC_DEMO_PAGE": "true", "CARTSYNC_JWT_SUBJECT_CLAIM": "data.user.id"}
            )

    def test_the_demo_routes_are_not_in_the_openapi_document(self) -> None:
        plain = create_app(_settings()).openapi_schema.to_schema()
        with_demo = create_app(_settings(demo_page=True)).openapi_schema.to_schema()
        assert msgspec.json.encode(with_demo) == msgspec.json.encode(plain)
        assert not [path for path in with_demo["paths"] if path.startswith("/demo")]


class TestServed:
    async def test_the_page_and_its_files_are_served_under_a_strict_policy(
        self, with_page: AsyncTestClient[object]
    ) -> None:
        page = await with_page.get("/demo/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        for name, kind in (
            ("device.html", "text/html"),
            ("device.js", "text/javascript"),
            ("page.js", "text/javascript"),
            ("demo.css", "text/css"),
        ):
            answer = await with_page.get(f"/demo/{name}")
            assert answer.status_code == 200, name
            assert answer.headers["content-type"].startswith(kind)
        for name in ("nope.js", "..%2Fdemo.py", "DEMO.CSS", "demo.py"):
            assert (await with_page.get(f"/demo/{name}")).status_code == 404, name

    async def test_the_session_is_a_working_user_token_and_a_guest_token(
        self, with_page: AsyncTestClient[object]
    ) -> None:
        answer = await with_page.get("/demo/session")
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        session = answer.json()
        assert session["user"] == "demo-user"  # the user of the token `cartsync demo` prints
        user = {"Authorization": f"Bearer {session['user_token']}"}
        guest = {"Authorization": f"Bearer {session['guest_token']}"}
        assert (
            await with_page.post("/v1/cart/items", json={"product_id": 10}, headers=user)
        ).status_code == 200
        assert (await with_page.get("/v1/cart", headers=guest)).json()["items"] == []
        merged = await with_page.post(
            "/v1/cart/merge", json={"guest_token": session["guest_token"]}, headers=user
        )
        assert merged.status_code == 200  # only a user's token may merge: it is one
        other = (await with_page.get("/demo/session?user=t1")).json()
        assert other["user"] == "demo-t1"
        headers = {"Authorization": f"Bearer {other['user_token']}"}
        assert (await with_page.get("/v1/cart", headers=headers)).json()["items"] == []
        for bad in ("Admin", "a_b", "-x", "x" * 33):
            assert (await with_page.get(f"/demo/session?user={bad}")).status_code == 422, bad

    async def test_the_figures_are_the_lanes(self, with_page: AsyncTestClient[object]) -> None:
        session = (await with_page.get("/demo/session?user=figures")).json()
        headers = {"Authorization": f"Bearer {session['user_token']}"}
        before = (await with_page.get("/demo/stats")).json()
        operations = [
            {"op_id": "a", "type": "add", "product_id": 10},
            {"op_id": "b", "type": "add", "product_id": 11},
            {"op_id": "c", "type": "apply_coupon", "code": "test"},
        ]
        answer = await with_page.post(
            "/v1/cart/ops", json={"operations": operations}, headers=headers
        )
        assert answer.status_code == 200
        after = (await with_page.get("/demo/stats")).json()
        assert after["upstream_writes"] == before["upstream_writes"] + 1
        assert after["batches"] == before["batches"] + 1
        assert after["batch_operations"] == before["batch_operations"] + 3
        assert after["largest_batch"] >= 3


class TestShipped:
    def test_every_file_of_the_page_is_package_data(self) -> None:
        config = tomllib.loads((ROOT / "pyproject.toml").read_text())
        patterns = config["tool"]["setuptools"]["package-data"]["cartsync"]
        files = sorted(
            p.relative_to(ROOT / "service" / "cartsync").as_posix() for p in FILES.iterdir()
        )
        assert files
        for name in files:
            assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name

    def test_nothing_is_loaded_from_another_origin(self) -> None:
        """No CDN, no web font: the page works with no network but the gateway's."""
        for path in FILES.iterdir():
            text = path.read_text()
            assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text), path.name
            assert "@import" not in text, path.name
