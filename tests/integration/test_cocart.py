"""cartsync in front of CoCart (``CARTSYNC_UPSTREAM_KIND=cocart``): the same public API
and the same mobile cart, over storesim's CoCart face as a real server (race on)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ..support import free_port, gateway_env, start_gateway, start_storesim, stop
from .conftest import user_token

BEANIE, BELT, CAP, SUNGLASSES = 10, 11, 12, 15
ADDRESS = {
    "first_name": "Jane",
    "last_name": "Doe",
    "address_1": "1 Main St",
    "city": "New York",
    "state": "NY",
    "postcode": "10001",
    "country": "US",
}


@dataclass
class CoCartGateway:
    url: str
    storesim: str
    log: Path


@pytest.fixture(scope="module")
def cocart(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoCartGateway]:
    """storesim (its CoCart face, 20 ms a call, the race on) and a gateway on it."""
    sim_port, port = free_port(), free_port()
    sim = start_storesim(sim_port, "--secret", "cocart-tests", "--latency", "20")
    log = tmp_path_factory.mktemp("cocart") / "cartsync.log"
    env = gateway_env(
        f"http://127.0.0.1:{sim_port}",
        redis_url,
        upstream_kind="cocart",
        snapshot_freshness_s="0.2",
        write_rate_limit_per_minute="10000",
    )
    gateway = start_gateway(port, env, log)
    try:
        yield CoCartGateway(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sim_port}", log)
    finally:
        stop(gateway)
        stop(sim)


@pytest.fixture
async def client(cocart: CoCartGateway) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {user_token()}"}
    async with httpx.AsyncClient(base_url=cocart.url, headers=headers, timeout=30) as c:
        yield c


@pytest.fixture
async def sim(cocart: CoCartGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cocart.storesim, timeout=30) as c:
        yield c
        await c.put("/__sim/faults", json={})


async def _cart_keys(sim: httpx.AsyncClient) -> set[str]:
    return {c["cart_key"] for c in (await sim.get("/__sim/cocart/carts")).json()["carts"]}


class TestSeedTutorialFlow:
    async def test_products_add_cart_customer_and_the_handoff_link(
        self, client: httpx.AsyncClient, sim: httpx.AsyncClient, cocart: CoCartGateway
    ) -> None:
        """The CoCart tutorial's flow through cartsync: products, add the Beanie with
        Logo, the cart (its key never shown), customer details, the checkout link, which
        loads the cart into the shop's web session once."""
        products = (await client.get("/v1/products", params={"per_page": 5})).json()
        assert products["total"] >= 7
        beanie = (await client.get(f"/v1/products/{BEANIE}")).json()
        assert (beanie["name"], beanie["price"]) == ("Beanie with Logo", 1800)
        added = await client.post("/v1/cart/items", json={"product_id": BEANIE, "quantity": 2})
        assert added.status_code == 200
        cart = (await client.get("/v1/cart")).json()
        assert [(i["product_id"], i["quantity"], i["unit_price"]) for i in cart["items"]] == [
            (BEANIE, 2, 1800)
        ]
        assert cart["currency"]["code"] == "USD"
        assert cart["totals"]["subtotal"] == 3600
        customer = await client.put(
            "/v1/cart/customer",
            json={
                "billing_address": {**ADDRESS, "email": "jane@example.com"},
                "shipping_address": ADDRESS,
            },
        )
        assert customer.status_code == 200
        assert customer.json()["billing_address"]["city"] == "New York"
        keys = await _cart_keys(sim)
        for text in (added.text, str(added.headers), customer.text, cocart.log.read_text()):
            assert not any(key in text for key in keys)  # the cart key never leaves
        link = (await client.post("/v1/cart/checkout-link")).json()
        opened = await client.get(link["url"], follow_redirects=False)
        assert opened.status_code == 303
        target = httpx.URL(opened.headers["location"])
        key = target.params["cocart-load-cart"]
        assert key in keys
        loaded = await sim.get(str(target.copy_with(scheme="http")), follow_redirects=False)
        assert loaded.status_code == 301
        assert any(name.startswith("wp_woocommerce_session_") for name in loaded.cookies)
        again = await client.get(link["url"], follow_redirects=False)
        assert (again.status_code, again.json()["code"]) == (404, "link_expired")

    async def test_what_cocart_free_cannot_do_is_refused_clearly(
        self, client: httpx.AsyncClient, cocart: CoCartGateway
    ) -> None:
        """Coupons, rate choice, native checkout: 409 ``*_not_supported`` (the handoff
        link stays); a shipping address unlike the billing one: 409
        ``shipping_address_not_supported``; /healthz says why."""
        await client.post("/v1/cart/items", json={"product_id": BEANIE})
        coupon = await client.post("/v1/cart/coupons", json={"code": "test"})
        assert (coupon.status_code, coupon.json()["code"]) == (409, "coupons_not_supported")
        rate = await client.put("/v1/cart/shipping", json={"rate_id": "free_shipping:2"})
        assert (rate.status_code, rate.json()["code"]) == (409, "shipping_rates_not_supported")
        elsewhere = await client.put(
            "/v1/cart/customer",
            json={"billing_address": ADDRESS, "shipping_address": {**ADDRESS, "city": "Boston"}},
        )
        assert elsewhere.status_code == 409
        assert elsewhere.json()["code"] == "shipping_address_not_supported"
        assert elsewhere.json()["field"] == "shipping_address"
        checkout = await client.post(
            "/v1/cart/checkout",
            json={"payment_method": "bacs"},
            headers={"Idempotency-Key": "cocart-checkout-1"},
        )
        assert (checkout.status_code, checkout.json()["code"]) == (409, "checkout_not_supported")
        link = await client.post("/v1/cart/checkout-link")
        assert link.status_code == 201  # the handoff stays: the shop's web checkout
        health = (await client.get("/healthz")).json()
        capabilities = health["upstream"]["capabilities"]
        assert (capabilities["kind"], capabilities["coupons"]) == ("cocart", False)
        assert (capabilities["handoff"], capabilities["native_checkout"]) == ("load-cart", False)

    async def test_store_refusals_have_our_codes(self, client: httpx.AsyncClient) -> None:
        """CoCart's odd statuses (405 above stock, 404 out of stock) become ours."""
        out = await client.post("/v1/cart/items", json={"product_id": 14})
        assert (out.status_code, out.json()["code"]) == (409, "out_of_stock")
        missing = await client.post("/v1/cart/items", json={"product_id": 999999})
        assert (missing.status_code, missing.json()["code"]) == (404, "product_not_found")
        above = await client.post("/v1/cart/items", json={"product_id": CAP, "quantity": 5})
        assert (above.status_code, above.json()["code"]) == (409, "insufficient_stock")


class TestTheLaneOnCoCart:
    async def test_25_concurrent_adds_are_all_kept(
        self, client: httpx.AsyncClient, sim: httpx.AsyncClient
    ) -> None:
        """CoCart alone loses most of 25 concurrent adds (the session race); through
        cartsync every one is kept, one request each, none overlapping."""
        (await client.get("/v1/cart")).raise_for_status()
        before = (await sim.get("/__sim/state")).json()["counters"]["requests"]
        answers = await asyncio.gather(
            *(client.post("/v1/cart/items", json={"product_id": SUNGLASSES}) for _ in range(25))
        )
        assert [a.status_code for a in answers] == [200] * 25
        cart = (await client.get("/v1/cart")).json()
        assert [(i["product_id"], i["quantity"]) for i in cart["items"]] == [(SUNGLASSES, 25)]
        after = (await sim.get("/__sim/state")).json()["counters"]["requests"]
        adds = "POST cocart/v2/cart/add-item"
        assert after.get(adds, 0) - before.get(adds, 0) == 25

    async def test_quantity_sets_queued_together_leave_as_one_cart_update(
        self, client: httpx.AsyncClient, sim: httpx.AsyncClient
    ) -> None:
        """Sets on several lines sent in one /ops request: one ``cart/update`` carries
        them, and each is answered applied."""
        await client.post("/v1/cart/items", json={"product_id": BEANIE})
        cart = (await client.post("/v1/cart/items", json={"product_id": BELT})).json()
        keys = {i["product_id"]: i["key"] for i in cart["items"]}
        before = (await sim.get("/__sim/state")).json()["counters"]["requests"]
        ops = await client.post(
            "/v1/cart/ops",
            json={
                "operations": [
                    {"op_id": "a", "type": "set_quantity", "key": keys[BEANIE], "quantity": 3},
                    {"op_id": "b", "type": "set_quantity", "key": keys[BELT], "quantity": 4},
                ]
            },
        )
        assert ops.status_code == 200
        assert [r["status"] for r in ops.json()["results"]] == ["applied", "applied"]
        quantities = {i["product_id"]: i["quantity"] for i in ops.json()["cart"]["items"]}
        assert quantities == {BEANIE: 3, BELT: 4}
        after = (await sim.get("/__sim/state")).json()["counters"]["requests"]
        update = "POST cocart/v2/cart/update"
        assert after.get(update, 0) - before.get(update, 0) == 1

    async def test_a_lost_answer_is_reconciled_not_resent(
        self, client: httpx.AsyncClient, sim: httpx.AsyncClient
    ) -> None:
        """The store applied the add and the answer was lost: cartsync re-reads the
        cart, answers applied, and the line is there once."""
        (await client.get("/v1/cart")).raise_for_status()
        await sim.put("/__sim/faults", json={"next_drops": 1, "when": "after", "match": "add-item"})
        answer = await client.post("/v1/cart/items", json={"product_id": BELT, "quantity": 2})
        assert answer.status_code == 200
        cart = (await client.get("/v1/cart")).json()
        assert [(i["product_id"], i["quantity"]) for i in cart["items"]] == [(BELT, 2)]


class TestExpiredCarts:
    async def test_a_cart_cocart_deleted_is_rebuilt_under_a_new_key(
        self, client: httpx.AsyncClient, sim: httpx.AsyncClient
    ) -> None:
        """Eight days idle: CoCart's row is gone and the key would come back empty;
        cartsync moves the cart to a new key and puts its lines and customer back."""
        await client.post("/v1/cart/items", json={"product_id": BEANIE, "quantity": 2})
        await client.put("/v1/cart/customer", json={"billing_address": ADDRESS})
        before = (await client.get("/v1/cart")).json()
        keys_before = await _cart_keys(sim)
        await sim.post("/__sim/clock", json={"advance_seconds": 8 * 86400})
        # Another cart's answer teaches the gateway the store's clock; then the stale
        # snapshot's refresh finds the cart gone and rebuilds it.
        async with httpx.AsyncClient(
            base_url=str(client.base_url),
            headers={"Authorization": f"Bearer {user_token()}"},
            timeout=30,
        ) as other:
            (await other.get("/v1/cart")).raise_for_status()
        deadline = time.monotonic() + 15
        rebuilt = before
        while time.monotonic() < deadline and rebuilt["version"] == before["version"]:
            await asyncio.sleep(0.1)  # wait-ok: polling for the background rebuild
            rebuilt = (await client.get("/v1/cart")).json()
        assert rebuilt["id"] == before["id"]
        assert [(i["product_id"], i["quantity"]) for i in rebuilt["items"]] == [(BEANIE, 2)]
        assert rebuilt["billing_address"]["city"] == "New York"
        assert (await _cart_keys(sim)) - keys_before  # a new key holds it now
