"""The app in process (embedded state, storesim through httpx): limits and the API document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from cartsync.app import create_app
from cartsync.auth import issue_user_token
from cartsync.cli import openapi_document, placeholder_settings
from cartsync.settings import Settings
from cartsync.upstream.storeapi import StoreApiUpstream
from storesim import SimConfig
from storesim import create_app as create_storesim

ROOT = Path(__file__).resolve().parents[2]


def _settings(**changes: object) -> Settings:
    return msgspec.structs.replace(
        placeholder_settings(), upstream_url="http://127.0.0.1:8181", log_format="json", **changes
    )


@pytest.fixture
async def limited() -> AsyncIterator[tuple[AsyncTestClient[object], Settings]]:
    settings = _settings(rate_limit_per_minute=5, write_rate_limit_per_minute=2)
    upstream = StoreApiUpstream(
        "http://127.0.0.1:8181", transport=httpx.ASGITransport(app=create_storesim(SimConfig()))
    )
    async with AsyncTestClient(create_app(settings, upstream=upstream)) as client:
        yield client, settings
    await upstream.aclose()


class TestRateLimits:
    async def test_an_owner_past_the_write_limit_gets_429(
        self, limited: tuple[AsyncTestClient[object], Settings]
    ) -> None:
        client, settings = limited
        headers = {"Authorization": f"Bearer {issue_user_token(settings, 'busy-writer')}"}
        statuses = [
            (
                await client.post("/v1/cart/items", json={"product_id": 10}, headers=headers)
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]

    async def test_limits_are_per_owner(
        self, limited: tuple[AsyncTestClient[object], Settings]
    ) -> None:
        client, settings = limited
        first = {"Authorization": f"Bearer {issue_user_token(settings, 'reader-1')}"}
        second = {"Authorization": f"Bearer {issue_user_token(settings, 'reader-2')}"}
        answers = [await client.get("/v1/cart", headers=first) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[-1].json()["code"] == "rate_limited"
        assert int(answers[-1].headers["Retry-After"]) > 0
        assert (await client.get("/v1/cart", headers=second)).status_code == 200


class TestOpenApi:
    def test_the_committed_document_is_current(self) -> None:
        """Regenerate with ``python -m cartsync openapi`` when this fails."""
        committed = (ROOT / "openapi" / "cartsync.v1.json").read_text()
        assert committed == openapi_document()

    def test_every_route_has_an_operation_id(self) -> None:
        document = msgspec.json.decode(openapi_document())
        operations = [op for path in document["paths"].values() for op in path.values()]
        assert operations
        assert all(op.get("operationId") for op in operations)
