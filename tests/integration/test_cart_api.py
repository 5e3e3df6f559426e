"""The gateway over HTTP, against storesim and Redis: every cart endpoint and its errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .conftest import Gateway, user_token


async def _add(
    client: httpx.AsyncClient, product_id: int, quantity: int = 1, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/v1/cart/items", json={"product_id": product_id, "quantity": quantity, **extra}
    )


def _error(response: httpx.Response) -> tuple[int, str, str | None]:
    body = response.json()
    assert set(body) == {"code", "message", "field", "cart"}
    assert body["message"]
    return response.status_code, body["code"], body["field"]


class TestSeedFlow:
    async def test_the_store_api_reference_flow_through_the_gateway(
        self, client: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        """Products, add Beanie, read, customer, shipping rate, coupon: totals to the cent
        (on CoCart free, which has neither rate choice nor coupons, those two are
        refused as not supported and the cart keeps its default rate)."""
        products = (await client.get("/v1/products", params={"per_page": 10})).json()
        beanie = next(p for p in products["items"] if p["name"] == "Beanie with Logo")
        assert (beanie["price"], products["currency"]["code"]) == (1800, "USD")
        added = await _add(client, beanie["id"], 2)
        assert added.status_code == 200
        read = await client.get("/v1/cart")
        assert read.json()["items"][0]["quantity"] == 2
        address = {"first_name": "Jane", "country": "US", "state": "NY", "postcode": "10001"}
        customer = await client.put(
            "/v1/cart/customer",
            json={
                "billing_address": {**address, "city": "New York", "email": "jane@example.com"},
                "shipping_address": {**address, "city": "New York"},
            },
        )
        assert customer.status_code == 200, customer.text
        assert customer.json()["billing_address"]["city"] == "New York"
        shipped = await client.put(
            "/v1/cart/shipping", json={"package_id": 0, "rate_id": "free_shipping:2"}
        )
        coupon = await client.post("/v1/cart/coupons", json={"code": "test"})
        if gateway.kind == "cocart":
            assert _error(shipped) == (409, "shipping_rates_not_supported", "rate_id")
            assert _error(coupon) == (409, "coupons_not_supported", "code")
            totals = (await client.get("/v1/cart")).json()["totals"]
            # 2 × 18.00 = 36.00; flat rate 13.00; tax 10 % of both = 4.90.
            assert (totals["subtotal"], totals["shipping"], totals["tax"], totals["total"]) == (
                3600,
                1300,
                490,
                5390,
            )
            return
        assert customer.json()["shipping_address"]["city"] == "New York"
        assert shipped.json()["shipping"][0]["selected_rate"] == "free_shipping:2"
        totals = coupon.json()["totals"]
        # 2 × 18.00 = 36.00; 15 % off = 5.40; tax 10 % of 30.60 = 3.06; free shipping.
        assert (totals["subtotal"], totals["discount"], totals["tax"], totals["total"]) == (
            3600,
            540,
            306,
            3366,
        )


class TestEndpoints:
    async def test_quantity_changes_and_removal(self, client: httpx.AsyncClient) -> None:
        key = (await _add(client, 11)).json()["items"][0]["key"]
        assert (await client.patch(f"/v1/cart/items/{key}", json={"quantity": 4})).json()["items"][
            0
        ]["quantity"] == 4
        assert (await client.patch(f"/v1/cart/items/{key}", json={"quantity": 0})).json()[
            "items"
        ] == []
        key = (await _add(client, 11)).json()["items"][0]["key"]
        assert (await client.delete(f"/v1/cart/items/{key}")).json()["items"] == []

    async def test_coupons_are_applied_and_removed(
        self, client: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        await _add(client, 15)
        applied = await client.post("/v1/cart/coupons", json={"code": "TEST"})
        if gateway.kind == "cocart":
            assert _error(applied) == (409, "coupons_not_supported", "code")
            removed = await client.delete("/v1/cart/coupons/test")
            assert _error(removed) == (409, "coupons_not_supported", "code")
            return
        assert [c["code"] for c in applied.json()["coupons"]] == ["test"]
        removed = await client.delete("/v1/cart/coupons/test")
        assert removed.json()["coupons"] == []

    async def test_variations_by_attributes(self, client: httpx.AsyncClient) -> None:
        response = await _add(
            client,
            16,
            variation=[
                {"attribute": "Color", "value": "red"},
                {"attribute": "Logo", "value": "No"},
            ],
        )
        item = response.json()["items"][0]
        assert (item["product_id"], item["variation_id"]) == (19, 19)

    async def test_one_product_and_unknown_ones(self, client: httpx.AsyncClient) -> None:
        hoodie = (await client.get("/v1/products/16")).json()
        assert [v["id"] for v in hoodie["variations"]] == [17, 18, 19]
        assert "<" not in hoodie["short_description"]
        assert _error(await client.get("/v1/products/999999")) == (
            404,
            "product_not_found",
            "product_id",
        )

    async def test_guest_sessions_get_their_own_cart(self, gateway: Gateway) -> None:
        async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
            issued = await anonymous.post("/v1/session/guest")
            assert issued.status_code == 201
            guest = {"Authorization": f"Bearer {issued.json()['token']}"}
            added = await anonymous.post("/v1/cart/items", json={"product_id": 10}, headers=guest)
            assert added.json()["items"][0]["product_id"] == 10

    async def test_health_readiness_and_metrics(self, gateway: Gateway) -> None:
        async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
            assert (await anonymous.get("/healthz")).json()["status"] == "ok"
            assert (await anonymous.get("/readyz")).json() == {"status": "ready", "state": "ok"}
            metrics = (await anonymous.get("/metrics")).text
            assert "cartsync_upstream_calls_total" in metrics
            assert "cartsync_requests_total" in metrics


class TestMappedErrors:
    async def test_store_refusals_have_our_codes_statuses_and_fields(
        self, client: httpx.AsyncClient
    ) -> None:
        assert _error(await _add(client, 999999)) == (404, "product_not_found", "product_id")
        assert _error(await _add(client, 16)) == (404, "variation_not_found", "variation")
        assert _error(await _add(client, 14)) == (409, "out_of_stock", "product_id")
        assert _error(await _add(client, 12, 5)) == (409, "insufficient_stock", "quantity")
        cap = (await _add(client, 12, 2)).json()["items"][0]["key"]
        assert _error(await client.patch(f"/v1/cart/items/{cap}", json={"quantity": 4})) == (
            422,
            "invalid_quantity",
            "quantity",
        )
        await _add(client, 13)
        assert _error(await _add(client, 13)) == (409, "quantity_not_editable", "quantity")

    async def test_coupon_refusals_are_told_apart(
        self, client: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        await _add(client, 10)
        if gateway.kind == "cocart":  # no coupons at all: one answer for every code
            for code in ("nope", "expired", "min100", "test"):
                answer = await client.post("/v1/cart/coupons", json={"code": code})
                assert _error(answer) == (409, "coupons_not_supported", "code")
            return
        assert _error(await client.post("/v1/cart/coupons", json={"code": "nope"})) == (
            404,
            "coupon_not_found",
            "code",
        )
        assert _error(await client.post("/v1/cart/coupons", json={"code": "expired"})) == (
            409,
            "coupon_expired",
            "code",
        )
        assert _error(await client.post("/v1/cart/coupons", json={"code": "min100"})) == (
            409,
            "coupon_minimum_not_met",
            "code",
        )
        await client.post("/v1/cart/coupons", json={"code": "test"})
        assert _error(await client.post("/v1/cart/coupons", json={"code": "test"})) == (
            409,
            "coupon_already_applied",
            "code",
        )

    async def test_conflicts_about_the_cart_carry_the_cart(
        self, client: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        """A line or coupon that is not in the cart: 409 and the current cart."""
        await _add(client, 10)
        missing_line = await client.patch(
            "/v1/cart/items/0123456789abcdef0123456789abcdef", json={"quantity": 2}
        )
        assert _error(missing_line) == (409, "item_not_found", "key")
        assert missing_line.json()["cart"]["items"][0]["product_id"] == 10
        if gateway.kind == "cocart":
            return  # no coupons to be missing
        missing_coupon = await client.delete("/v1/cart/coupons/test")
        assert _error(missing_coupon) == (409, "coupon_not_applied", "code")
        assert missing_coupon.json()["cart"]["items"][0]["product_id"] == 10

    async def test_an_invalid_postcode_names_the_field(
        self, client: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        response = await client.put(
            "/v1/cart/customer", json={"shipping_address": {"country": "US", "postcode": "ABCDE"}}
        )
        if gateway.kind == "cocart":  # CoCart free keeps no shipping address of its own
            assert _error(response) == (
                409,
                "shipping_address_not_supported",
                "shipping_address",
            )
            return
        assert _error(response) == (422, "invalid_postcode", "shipping_address.postcode")

    async def test_bad_bodies_are_422_with_the_field(self, client: httpx.AsyncClient) -> None:
        assert _error(await client.post("/v1/cart/items", json={"product_id": 10, "x": 1})) == (
            422,
            "invalid_request",
            "x",
        )
        assert _error(await client.post("/v1/cart/items", json={"product_id": "ten"})) == (
            422,
            "invalid_request",
            "product_id",
        )
        assert _error(
            await client.post("/v1/cart/items", json={"product_id": 10, "quantity": 0})
        ) == (422, "invalid_request", "quantity")
        bad_json = await client.post(
            "/v1/cart/items", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert _error(bad_json) == (400, "invalid_json", None)

    async def test_identity_errors_are_401(self, gateway: Gateway) -> None:
        async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
            assert _error(await anonymous.get("/v1/cart"))[:2] == (401, "missing_token")
            expired = {"Authorization": f"Bearer {user_token(ttl=-120)}"}  # past the leeway
            assert _error(await anonymous.get("/v1/cart", headers=expired))[:2] == (
                401,
                "token_expired",
            )
            garbage = {"Authorization": "Bearer abc.def.ghi"}
            assert _error(await anonymous.get("/v1/cart", headers=garbage))[:2] == (
                401,
                "invalid_token",
            )

    async def test_routing_and_size_errors(self, client: httpx.AsyncClient) -> None:
        assert _error(await client.get("/v1/nope"))[:2] == (404, "not_found")
        assert _error(await client.put("/v1/cart/items", json={}))[:2] == (
            405,
            "method_not_allowed",
        )
        huge = {"product_id": 10, "variation": [{"attribute": "a" * 90, "value": "b" * 190}] * 500}
        assert _error(await client.post("/v1/cart/items", json=huge))[:2] == (
            413,
            "payload_too_large",
        )


class TestSnapshots:
    async def test_etag_and_304(self, client: httpx.AsyncClient) -> None:
        first = await client.get("/v1/cart")
        etag = first.headers["ETag"]
        assert etag == f'"{first.json()["version"]}"'
        assert (await client.get("/v1/cart", headers={"If-None-Match": etag})).status_code == 304
        changed = await _add(client, 10)
        assert changed.headers["ETag"] != etag
        again = await client.get("/v1/cart", headers={"If-None-Match": etag})
        assert again.status_code == 200
        assert again.headers["ETag"] == changed.headers["ETag"]

    async def test_warm_reads_are_answered_before_the_framework_identically(
        self, client: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        """The hot-read layer answers a warm cart with the same bytes, ETag and 304."""

        def fast_reads(text: str) -> float:
            return sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("cartsync_fast_cart_reads_total")
            )

        await _add(client, 10)
        full = await client.get("/v1/cart")  # the claims and the near copy are warm now
        async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
            before = fast_reads((await anonymous.get("/metrics")).text)
            fast = await client.get("/v1/cart")
            not_modified = await client.get(
                "/v1/cart", headers={"If-None-Match": full.headers["ETag"]}
            )
            after = fast_reads((await anonymous.get("/metrics")).text)
        assert after - before == 2
        assert (fast.status_code, fast.content, fast.headers["ETag"]) == (
            200,
            full.content,
            full.headers["ETag"],
        )
        assert not_modified.status_code == 304
        assert fast.headers["x-request-id"]

    async def test_a_write_that_changes_nothing_keeps_the_version(
        self, client: httpx.AsyncClient
    ) -> None:
        added = await _add(client, 10, 2)
        key = added.json()["items"][0]["key"]
        again = await client.patch(f"/v1/cart/items/{key}", json={"quantity": 2})
        assert again.status_code == 200
        assert added.headers["ETag"] == again.headers["ETag"]

    async def test_concurrent_first_reads_make_one_upstream_read(
        self, client: httpx.AsyncClient, sim: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        route = "GET cart" if gateway.kind == "storeapi" else "GET cocart/v2/cart"
        before = (await sim.get("/__sim/state")).json()["counters"]["requests"].get(route, 0)
        answers = await asyncio.gather(*(client.get("/v1/cart") for _ in range(20)))
        assert {a.status_code for a in answers} == {200}
        assert len({a.headers["ETag"] for a in answers}) == 1
        after = (await sim.get("/__sim/state")).json()["counters"]["requests"][route]
        assert after - before == 1

    async def test_concurrent_writes_to_one_cart_lose_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        """storesim loses overlapping writes (as the real store does); the gateway's
        per-cart lock means none overlap."""
        answers = await asyncio.gather(*(_add(client, 15) for _ in range(10)))
        assert {a.status_code for a in answers} == {200}
        cart = (await client.get("/v1/cart")).json()
        assert cart["items"][0]["quantity"] == 10


class TestIsolation:
    async def test_a_user_never_sees_or_changes_another_users_cart(self, gateway: Gateway) -> None:
        alice = {"Authorization": f"Bearer {user_token('alice-iso')}"}
        mallory = {"Authorization": f"Bearer {user_token('mallory-iso')}"}
        async with httpx.AsyncClient(base_url=gateway.url) as c:
            key = (await c.post("/v1/cart/items", json={"product_id": 15}, headers=alice)).json()[
                "items"
            ][0]["key"]
            assert (await c.get("/v1/cart", headers=mallory)).json()["items"] == []
            attempt = await c.patch(f"/v1/cart/items/{key}", json={"quantity": 9}, headers=mallory)
            assert attempt.json()["code"] == "item_not_found"
            assert (await c.get("/v1/cart", headers=alice)).json()["items"][0]["quantity"] == 1
            forged = {"Authorization": "Bearer " + user_token("alice-iso")[:-4] + "AAAA"}
            assert (await c.get("/v1/cart", headers=forged)).status_code == 401

    async def test_upstream_tokens_and_nonces_never_reach_clients_or_logs(
        self, client: httpx.AsyncClient, sim: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        responses = [
            await _add(client, 10),
            await client.get("/v1/cart"),
            await client.post("/v1/cart/coupons", json={"code": "nope"}),
        ]
        nonce = (await sim.get("/__sim/nonce")).json()["nonce"]
        for response in responses:
            text = response.text + str(response.headers)
            assert "eyJ" not in text  # no JWT at all: the Cart-Token is one
            assert nonce not in text
            assert "cart-token" not in text.lower()
        log = gateway.log.read_text()
        assert "eyJ" not in log
        assert nonce not in log
        assert '"request"' in log or "request" in log
