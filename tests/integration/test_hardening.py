"""Bad input over HTTP, against the real gateway: always a 4xx with a stable code, a
message and the field, never a 500 (issue 11: nesting, integer bounds, strict types,
If-Match: *, the merge's guest token)."""

from __future__ import annotations

from typing import Any

import httpx

from cartsync.api.body import MAX_DEPTH
from cartsync.api.schemas import MAX_ID, MAX_QUANTITY

from .conftest import Gateway, user_token

JSON = {"Content-Type": "application/json"}


def _error(response: httpx.Response) -> tuple[int, str, str | None]:
    body = response.json()
    assert set(body) == {"code", "message", "field", "cart"}, body
    assert body["message"]
    return response.status_code, body["code"], body["field"]


async def _send(client: httpx.AsyncClient, method: str, path: str, body: str) -> httpx.Response:
    return await client.request(method, path, content=body.encode(), headers=JSON)


def _arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def _objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


class TestNesting:
    async def test_deep_bodies_are_400_invalid_json(self, client: httpx.AsyncClient) -> None:
        """The black-box run's bodies: a RecursionError (500) before the limit."""
        answers = [
            await _send(
                client,
                "POST",
                "/v1/cart/items",
                f'{{"product_id": 10, "variation": {_arrays(1000)}}}',
            ),
            await _send(
                client, "PUT", "/v1/cart/customer", f'{{"billing_address": {_objects(5000)}}}'
            ),
            await _send(client, "POST", "/v1/cart/ops", f'{{"operations": {_arrays(30_000)}}}'),
            await _send(client, "POST", "/v1/cart/items", "[" * 60_000),  # never closed
        ]
        for answer in answers:
            assert _error(answer) == (400, "invalid_json", None)
            assert f"deeper than {MAX_DEPTH}" in answer.json()["message"]
        assert (await client.post("/v1/cart/items", json={"product_id": 10})).status_code == 200

    async def test_the_limit_is_the_depth_not_the_bracket_count(
        self, client: httpx.AsyncClient
    ) -> None:
        """At the limit the body is decoded (and refused as the wrong shape, 422); one
        level more is 400. Many brackets side by side, or inside strings, are not deep."""
        at_limit = f'{{"product_id": 10, "variation": {_arrays(MAX_DEPTH - 1)}}}'
        over = f'{{"product_id": 10, "variation": {_arrays(MAX_DEPTH)}}}'
        assert _error(await _send(client, "POST", "/v1/cart/items", at_limit)) == (
            422,
            "invalid_request",
            "variation[0]",
        )
        assert _error(await _send(client, "POST", "/v1/cart/items", over))[:2] == (
            400,
            "invalid_json",
        )
        wide = {
            "operations": [{"op_id": str(n), "type": "add", "product_id": 10} for n in range(60)]
        }
        assert (await client.post("/v1/cart/ops", json=wide)).status_code == 200
        quoted = {"product_id": 16, "variation": [{"attribute": "Color", "value": "[{" * 60}]}
        assert _error(await client.post("/v1/cart/items", json=quoted))[:2] == (
            404,
            "variation_not_found",
        )

    async def test_bodies_that_are_not_json_are_400_invalid_json(
        self, client: httpx.AsyncClient
    ) -> None:
        for body in ("{not json", '{"product_id": 10', "", "\x00"):
            answer = await _send(client, "POST", "/v1/cart/items", body)
            assert _error(answer) == (400, "invalid_json", None), body


class TestIntegerBounds:
    async def test_an_id_past_the_bounds_is_422_with_the_field(
        self, client: httpx.AsyncClient
    ) -> None:
        """The black-box run's package id overflowed the lane's msgpack (a 500)."""
        huge = 1180591620717411303424
        assert _error(
            await client.put(
                "/v1/cart/shipping", json={"rate_id": "flat_rate:1", "package_id": huge}
            )
        ) == (422, "invalid_request", "package_id")
        shipping_op = {"op_id": "a", "type": "shipping", "rate_id": "x", "package_id": huge}
        assert _error(await client.post("/v1/cart/ops", json={"operations": [shipping_op]})) == (
            422,
            "invalid_request",
            "operations[0].package_id",
        )
        assert _error(await client.post("/v1/cart/items", json={"product_id": MAX_ID + 1})) == (
            422,
            "invalid_request",
            "product_id",
        )
        assert _error(await client.get(f"/v1/products/{huge}")) == (
            422,
            "invalid_request",
            "product_id",
        )
        assert _error(await client.get("/v1/products", params={"parent": huge})) == (
            422,
            "invalid_request",
            "parent",
        )

    async def test_the_largest_id_reaches_the_store(self, client: httpx.AsyncClient) -> None:
        assert _error(await client.post("/v1/cart/items", json={"product_id": MAX_ID})) == (
            404,
            "product_not_found",
            "product_id",
        )
        assert _error(await client.get(f"/v1/products/{MAX_ID}"))[:2] == (404, "product_not_found")
        await client.post("/v1/cart/items", json={"product_id": 10})
        largest_package = {"rate_id": "flat_rate:1", "package_id": MAX_ID}
        assert (await client.put("/v1/cart/shipping", json=largest_package)).status_code < 500

    async def test_quantities_and_pages_have_bounds(self, client: httpx.AsyncClient) -> None:
        too_many = {"product_id": 10, "quantity": MAX_QUANTITY + 1}
        assert _error(await client.post("/v1/cart/items", json=too_many)) == (
            422,
            "invalid_request",
            "quantity",
        )
        added = await client.post("/v1/cart/items", json={"product_id": 10})
        key = added.json()["items"][0]["key"]
        assert _error(await client.patch(f"/v1/cart/items/{key}", json={"quantity": -1})) == (
            422,
            "invalid_request",
            "quantity",
        )
        for name, value in (("page", 0), ("page", 10_001), ("per_page", 101), ("per_page", 0)):
            assert _error(await client.get("/v1/products", params={name: value})) == (
                422,
                "invalid_request",
                name,
            )


class TestStrictTypes:
    async def test_a_number_in_a_string_is_not_a_number(self, client: httpx.AsyncClient) -> None:
        cases: list[tuple[str, str, dict[str, Any], str]] = [
            ("POST", "/v1/cart/items", {"product_id": 10, "quantity": "5"}, "quantity"),
            ("POST", "/v1/cart/items", {"product_id": "10"}, "product_id"),
            ("POST", "/v1/cart/items", {"product_id": 10.0}, "product_id"),
            ("POST", "/v1/cart/items", {"product_id": True}, "product_id"),
            ("PUT", "/v1/cart/shipping", {"rate_id": 1}, "rate_id"),
            (
                "POST",
                "/v1/cart/ops",
                {"operations": [{"op_id": "a", "type": "add", "product_id": 10, "quantity": "2"}]},
                "operations[0].quantity",
            ),
        ]
        for method, path, body, field in cases:
            answer = await client.request(method, path, json=body)
            assert _error(answer) == (422, "invalid_request", field), body
            assert answer.json()["message"].startswith("Expected `")
        assert (await client.get("/v1/cart")).json()["items"] == []

    async def test_query_parameters_are_still_text_to_convert(
        self, client: httpx.AsyncClient
    ) -> None:
        page = await client.get("/v1/products", params={"per_page": "3", "page": "1"})
        assert len(page.json()["items"]) == 3


class TestIfMatch:
    async def test_a_star_matches_any_current_cart(self, client: httpx.AsyncClient) -> None:
        """RFC 9110: ``*`` matches any current representation; every owner has a cart (a
        new one is empty), so the write proceeds, first or later."""
        star = {"If-Match": "*"}
        first = await client.post("/v1/cart/items", json={"product_id": 10}, headers=star)
        assert first.status_code == 200
        again = await client.post("/v1/cart/items", json={"product_id": 15}, headers=star)
        assert again.status_code == 200
        assert [i["product_id"] for i in again.json()["items"]] == [10, 15]
        stale = await client.post(
            "/v1/cart/items", json={"product_id": 11}, headers={"If-Match": first.headers["ETag"]}
        )
        assert _error(stale) == (412, "precondition_failed", "If-Match")
        assert stale.json()["cart"]["version"] == again.json()["version"]


class TestMergeToken:
    async def test_the_wrong_token_in_guest_token_names_that_field(
        self, client: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        user_as_guest = await client.post("/v1/cart/merge", json={"guest_token": user_token()})
        assert _error(user_as_guest) == (401, "invalid_token", "guest_token")
        garbage = await client.post("/v1/cart/merge", json={"guest_token": "abc.def.ghi.jkl"})
        assert _error(garbage) == (401, "invalid_token", "guest_token")
        expired = await client.post("/v1/cart/merge", json={"guest_token": user_token(ttl=-120)})
        assert _error(expired)[::2] == (401, "guest_token")
        async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
            guest = (await anonymous.post("/v1/session/guest")).json()["token"]
            no_bearer = await anonymous.post("/v1/cart/merge", json={"guest_token": guest})
        assert _error(no_bearer) == (401, "missing_token", "authorization")
