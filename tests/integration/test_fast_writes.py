"""The hot line writes (``api/fastwrites.py``) answer as the framework path does.

A request with a query string goes down the framework path (the routes take no query
parameters; the hot path steps aside); the same request without it is the hot path's
once the token's claims are cached. Each pair must agree on the status, the header
names and values, the error body, and the hot write must be counted as one."""

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
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
    body: Any,
    method: str = "POST",
    path: str = "/v1/cart/items",
    **headers: str,
) -> tuple[httpx.Response, httpx.Response, float]:
    """The same write twice: the framework's answer, the hot write's, and how many
    writes the hot path answered meanwhile."""
    user, anonymous = pair
    (await user.get("/v1/cart")).raise_for_status()  # the token's claims are cached now
    before = _fast_writes((await anonymous.get("/metrics")).text)
    framework = await user.request(
        method, path, json=body, headers=headers, params={"via": "framework"}
    )
    between = _fast_writes((await anonymous.get("/metrics")).text)
    fast = await user.request(method, path, json=body, headers=headers)
    after = _fast_writes((await anonymous.get("/metrics")).text)
    assert between == before  # the first really took the framework path
    return framework, fast, after - between


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


async def _line(pair: tuple[httpx.AsyncClient, httpx.AsyncClient], product_id: int) -> str:
    user, _ = pair
    added = await user.post("/v1/cart/items", json={"product_id": product_id, "quantity": 1})
    added.raise_for_status()
    return str(next(i["key"] for i in added.json()["items"] if i["product_id"] == product_id))


async def test_a_quantity_set_answers_alike(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    key = await _line(pair, 10)
    framework, fast, counted = await _both(pair, {"quantity": 3}, "PATCH", f"/v1/cart/items/{key}")
    assert counted == 1
    _same_shape(framework, fast)
    assert fast.status_code == 200
    assert fast.content == framework.content  # the same quantity twice: the same cart
    assert [i["quantity"] for i in fast.json()["items"] if i["key"] == key] == [3]


async def test_a_removal_answers_alike(pair: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    first, second = await _line(pair, 10), await _line(pair, 11)
    user, _ = pair
    framework = await user.delete(f"/v1/cart/items/{first}", params={"via": "framework"})
    fast = await user.delete(f"/v1/cart/items/{second}")
    _same_shape(framework, fast)
    assert fast.status_code == 200
    assert {i["key"] for i in fast.json()["items"]}.isdisjoint({first, second})
    # Removing a line that is gone: the same refusal either way.
    framework, fast, counted = await _both(pair, None, "DELETE", f"/v1/cart/items/{first}")
    assert counted == 1
    _same_shape(framework, fast)
    assert fast.status_code == 409
    assert fast.json() == framework.json()


async def test_a_line_key_the_route_refuses_is_left_to_the_framework(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    framework, fast, counted = await _both(pair, {"quantity": 1}, "PATCH", "/v1/cart/items/a.b")
    assert counted == 0
    assert fast.status_code == framework.status_code
    assert fast.json() == framework.json()
