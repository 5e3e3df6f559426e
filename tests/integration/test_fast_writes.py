"""The hot write (``api/fastwrites.py``) answers as the framework path does.

A token's first request goes down the framework path (its claims are not cached yet);
the same request again is the hot write's. Each pair must agree on the status, the
header names, the error body, and the hot write must be counted as one."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from .conftest import Gateway, user_token

VARYING = {"date", "etag", "x-request-id", "content-length"}


def _fast_writes(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("cartsync_fast_cart_writes_total")
    )


@pytest.fixture
async def pair(gateway: Gateway) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """A new user's client, and a client of the metrics."""
    headers = {"Authorization": f"Bearer {user_token()}"}
    async with (
        httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=20) as user,
        httpx.AsyncClient(base_url=gateway.url, timeout=20) as anonymous,
    ):
        yield user, anonymous


async def _both(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient], body: Any, **headers: str
) -> tuple[httpx.Response, httpx.Response, float]:
    """The same write twice: the framework's answer, the hot write's, and how many
    writes the hot path answered meanwhile."""
    user, anonymous = pair
    framework = await user.post("/v1/cart/items", json=body, headers=headers)
    before = _fast_writes((await anonymous.get("/metrics")).text)
    fast = await user.post("/v1/cart/items", json=body, headers=headers)
    after = _fast_writes((await anonymous.get("/metrics")).text)
    return framework, fast, after - before


def _same_shape(framework: httpx.Response, fast: httpx.Response) -> None:
    assert fast.status_code == framework.status_code
    assert set(fast.headers) - VARYING == set(framework.headers) - VARYING
    for name in set(framework.headers) - VARYING:
        assert fast.headers[name] == framework.headers[name], name
    assert fast.headers["x-request-id"]


async def test_an_add_answers_alike_and_applies(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    framework, fast, counted = await _both(pair, {"product_id": 10, "quantity": 2})
    assert counted == 1
    _same_shape(framework, fast)
    assert fast.status_code == 200
    lines = {line["product_id"]: line["quantity"] for line in fast.json()["items"]}
    assert lines[10] == 4  # both applied, once each
    assert set(fast.json()) == set(framework.json())


async def test_a_refusal_answers_alike(pair: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    framework, fast, counted = await _both(pair, {"product_id": 999_999})
    assert counted == 1
    _same_shape(framework, fast)
    assert fast.status_code >= 400
    assert fast.json() == framework.json()


async def test_an_idempotency_key_replays_across_the_two_paths(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    key = secrets.token_hex(8)
    framework, fast, counted = await _both(pair, {"product_id": 10}, **{"Idempotency-Key": key})
    assert counted == 1
    assert framework.status_code == fast.status_code == 200
    assert fast.headers["Idempotent-Replayed"] == "true"
    assert fast.content == framework.content
    user, _ = pair
    reused = await user.post(
        "/v1/cart/items", json={"product_id": 11}, headers={"Idempotency-Key": key}
    )
    assert reused.status_code == 422
    cart = (await user.get("/v1/cart")).json()
    assert [line["quantity"] for line in cart["items"] if line["product_id"] == 10] == [1]


async def test_an_if_match_that_fails_answers_alike(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    framework, fast, counted = await _both(pair, {"product_id": 10}, **{"If-Match": '"x.1"'})
    assert counted == 1
    _same_shape(framework, fast)
    assert fast.status_code == 412
    assert fast.json()["code"] == framework.json()["code"]


@pytest.mark.parametrize(
    "body",
    [
        {"product_id": 10, "quantity": "5"},  # JSON has integers: strict
        {"product_id": 10, "colour": "red"},  # unknown field
        {"product_id": 0},
    ],
)
async def test_a_bad_body_is_left_to_the_framework(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient], body: dict[str, Any]
) -> None:
    framework, fast, counted = await _both(pair, body)
    assert counted == 0
    assert fast.status_code == framework.status_code == 422
    assert fast.json() == framework.json()
    assert fast.json()["field"]
