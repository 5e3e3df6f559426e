"""The checkout hazards of the real stores, on both profiles: two concurrent POSTs make two
orders, an order completes after its client gave up, faults strike /checkout as they
strike the cart, orders reduce stock, and 9.9.5 cuts an out-of-stock line silently."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from storesim import SimConfig

from .helpers import (
    API,
    add,
    cart,
    checkout,
    cocart_add,
    new_cart,
    order_body,
    orders_at_store,
    quantity,
)

BELT, CAP = 11, 12
WOO = ["8.9", "9.9"]


@pytest.fixture(params=WOO)
def sim_config(request: pytest.FixtureRequest) -> SimConfig:
    return SimConfig(secret="test-secret", woo=str(request.param))


def _empty_status(woo: str) -> int:
    return 409 if woo == "9.9" else 400


class TestConcurrentCheckouts:
    async def test_two_concurrent_posts_on_one_cart_make_two_orders(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """Both read the cart before either empties it: both 200, two orders (039)."""
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        first, second = await asyncio.gather(
            checkout(storesim, headers), checkout(storesim, headers)
        )
        assert (first.status_code, second.status_code) == (200, 200)
        assert first.json()["order_id"] != second.json()["order_id"]
        placed = await orders_at_store(storesim, "on-hold")
        assert [o["total"] for o in placed] == ["7480", "7480"]
        assert (await cart(storesim, headers))["items"] == []

    async def test_a_draft_does_not_save_two_concurrent_posts(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """With a draft from GET /checkout, one POST places it and the other, finding it
        no longer a draft, makes a second order."""
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        draft = (await storesim.get(f"{API}/checkout", headers=headers)).json()["order_id"]
        answers = await asyncio.gather(checkout(storesim, headers), checkout(storesim, headers))
        ids = sorted(a.json()["order_id"] for a in answers)
        assert draft in ids
        assert len(set(ids)) == 2
        assert len(await orders_at_store(storesim, "on-hold")) == 2

    async def test_with_the_race_off_the_second_post_finds_the_cart_empty(
        self, storesim: httpx.AsyncClient, sim_config: SimConfig
    ) -> None:
        """Serialising the session (``--no-race``) is what stops the double order."""
        (await storesim.put("/__sim/race", json={"enabled": False})).raise_for_status()
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        answers = await asyncio.gather(checkout(storesim, headers), checkout(storesim, headers))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == sorted([200, _empty_status(sim_config.woo)])
        assert len(await orders_at_store(storesim, "on-hold")) == 1


class TestAClientThatGaveUp:
    async def test_the_order_is_placed_and_the_retry_finds_the_cart_empty(
        self, storesim: httpx.AsyncClient, sim_config: SimConfig
    ) -> None:
        """The client stops waiting (042); the store places the order anyway; the retry
        gets cart_empty and no order id; the draft's id and key read the order back."""
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        draft = (await storesim.get(f"{API}/checkout", headers=headers)).json()
        await storesim.put("/__sim/latency", json={"fixed_ms": 200})
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(checkout(storesim, headers), 0.05)
        assert (await storesim.post("/__sim/settle")).json() == {"settled": 1}
        await storesim.put("/__sim/latency", json={"profile": "off"})
        retry = await checkout(storesim, headers)
        read = await storesim.get(
            f"{API}/order/{draft['order_id']}", params={"key": draft["order_key"]}
        )
        assert (retry.status_code, retry.json()["code"]) == (
            _empty_status(sim_config.woo),
            "woocommerce_rest_cart_empty",
        )
        assert "order_id" not in retry.json()
        assert read.json()["status"] == "on-hold"
        assert [o["id"] for o in await orders_at_store(storesim)] == [draft["order_id"]]


class TestStock:
    async def test_orders_reduce_the_stock(self, storesim: httpx.AsyncClient) -> None:
        """The Cap has 3: an order for 2 leaves 1, and the store then says so."""
        headers = await new_cart(storesim)
        await add(storesim, headers, CAP, 2)
        assert (await checkout(storesim, headers)).status_code == 200
        state = (await storesim.get("/__sim/state")).json()
        other = await new_cart(storesim)
        refused = await add(storesim, other, CAP, 2)
        product = (await storesim.get(f"{API}/products/{CAP}")).json()
        assert state["stock"] == {str(CAP): 1}
        assert (refused.status_code, refused.json()["code"]) == (
            400,
            "woocommerce_rest_product_partially_out_of_stock",
        )
        assert "(1 remaining)" in refused.json()["message"]
        assert (product["low_stock_remaining"], product["add_to_cart"]["maximum"]) == (1, 1)
        assert (await add(storesim, other, CAP, 1)).status_code == 201

    async def test_the_cocart_face_sees_the_stock_an_order_left(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """One catalogue behind both faces: after an order for 2 Caps, CoCart has 1 left."""
        headers = await new_cart(storesim)
        await add(storesim, headers, CAP, 2)
        assert (await checkout(storesim, headers)).status_code == 200
        refused = await cocart_add(storesim, None, CAP, 2)
        assert (refused.status_code, refused.json()["code"]) == (
            405,
            "cocart_quantity_invalid_amount",
        )
        assert refused.json()["message"] == "Quantity must be 1 or lower."

    async def test_paying_an_order_again_does_not_reduce_the_stock_twice(
        self, storesim: httpx.AsyncClient
    ) -> None:
        headers = await new_cart(storesim)
        await add(storesim, headers, CAP, 1)
        placed = (await checkout(storesim, headers)).json()
        await storesim.put(f"/__sim/orders/{placed['order_id']}", json={"status": "pending"})
        again = await storesim.post(
            f"{API}/checkout/{placed['order_id']}",
            json={
                "key": placed["order_key"],
                "billing_address": placed["billing_address"],
                "shipping_address": placed["shipping_address"],
                "payment_method": "cheque",
            },
            headers=headers,
        )
        assert again.status_code == 200
        assert (await storesim.get("/__sim/state")).json()["stock"] == {str(CAP): 2}

    async def test_out_of_stock_at_checkout_9_9_cuts_and_8_9_refuses(
        self, storesim: httpx.AsyncClient, sim_config: SimConfig
    ) -> None:
        """The Cap's stock falls to 1 while a cart holds 2 (032)."""
        headers = await new_cart(storesim)
        await add(storesim, headers, CAP, 2)
        await storesim.put(f"/__sim/products/{CAP}/stock", json={"stock": 1})
        errors = (await cart(storesim, headers))["errors"]
        answer = await checkout(storesim, headers)
        assert [e["code"] for e in errors] == ["woocommerce_rest_product_partially_out_of_stock"]
        if sim_config.woo == "9.9":
            assert answer.status_code == 200
            (order,) = await orders_at_store(storesim)
            assert [(ln["product_id"], ln["quantity"]) for ln in order["lines"]] == [(CAP, 1)]
            assert order["total"] == "3190"
            assert (await storesim.get("/__sim/state")).json()["stock"] == {str(CAP): 0}
            return
        assert (answer.status_code, answer.json()["code"]) == (
            409,
            "woocommerce_rest_product_partially_out_of_stock",
        )
        assert answer.json()["data"]["0"] == 409
        assert answer.json()["data"]["cart"]["items"][0]["quantity_limits"]["maximum"] == 1
        assert await orders_at_store(storesim) == []
        assert quantity(await cart(storesim, headers), CAP) == 2

    async def test_a_product_taken_out_of_stock_stops_the_checkout(
        self, storesim: httpx.AsyncClient, sim_config: SimConfig
    ) -> None:
        """The only line out of stock: 8.9.1 refuses it, 9.9.5 drops it and the cart is
        then empty."""
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        await storesim.put(f"/__sim/products/{BELT}/stock", json={"in_stock": False})
        answer = await checkout(storesim, headers)
        expected = (
            (409, "woocommerce_rest_cart_empty")
            if sim_config.woo == "9.9"
            else (409, "woocommerce_rest_product_out_of_stock")
        )
        assert (answer.status_code, answer.json()["code"]) == expected
        assert await orders_at_store(storesim, "on-hold") == []


@pytest.fixture(params=WOO)
async def live(
    request: pytest.FixtureRequest, storesim_live: httpx.AsyncClient
) -> httpx.AsyncClient:
    """The real server (hangs and drops need a socket), playing one profile."""
    answer = await storesim_live.put("/__sim/profile", json={"woo": request.param})
    answer.raise_for_status()
    return storesim_live


class TestFaultsAtCheckout:
    async def test_a_drop_after_the_change_loses_the_answer_not_the_order(
        self, live: httpx.AsyncClient
    ) -> None:
        headers = await new_cart(live)
        await add(live, headers, BELT)
        draft = (await live.get(f"{API}/checkout", headers=headers)).json()
        await live.put(
            "/__sim/faults", json={"next_drops": 1, "when": "after", "match": "checkout"}
        )
        with pytest.raises(httpx.RemoteProtocolError):
            await checkout(live, headers)
        read = await live.get(
            f"{API}/order/{draft['order_id']}", params={"key": draft["order_key"]}
        )
        assert read.json()["status"] == "on-hold"
        assert len(await orders_at_store(live, "on-hold")) == 1
        assert (await cart(live, headers))["items"] == []

    async def test_an_error_before_the_change_places_no_order(
        self, live: httpx.AsyncClient
    ) -> None:
        headers = await new_cart(live)
        await add(live, headers, BELT)
        await live.put("/__sim/faults", json={"next_errors": 1, "match": "checkout"})
        answer = await checkout(live, headers)
        assert (answer.status_code, answer.json()["code"]) == (500, "internal_server_error")
        assert await orders_at_store(live) == []
        assert quantity(await cart(live, headers), BELT) == 1

    async def test_a_hang_outlasts_the_client_and_the_order_follows(
        self, live: httpx.AsyncClient
    ) -> None:
        """A hang before the change: the client times out, then the store places it."""
        headers = await new_cart(live)
        await add(live, headers, BELT)
        await live.put(
            "/__sim/faults",
            json={"next_hangs": 1, "hang_seconds": 0.5, "match": "checkout"},
        )
        with pytest.raises(httpx.ReadTimeout):
            await live.post(f"{API}/checkout", json=order_body(), headers=headers, timeout=0.1)
        await live.post("/__sim/settle")
        assert len(await orders_at_store(live, "on-hold")) == 1

    async def test_a_client_that_disconnects_leaves_the_order_placed(
        self, live: httpx.AsyncClient
    ) -> None:
        """042 over a real socket: the client's read timeout closes the connection; PHP
        (the simulator) runs on and places the order."""
        headers = await new_cart(live)
        await add(live, headers, BELT)
        await live.put("/__sim/latency", json={"fixed_ms": 300})
        with pytest.raises(httpx.ReadTimeout):
            await live.post(f"{API}/checkout", json=order_body(), headers=headers, timeout=0.05)
        await live.post("/__sim/settle")
        await live.put("/__sim/latency", json={"profile": "off"})
        assert len(await orders_at_store(live, "on-hold")) == 1
        assert (await cart(live, headers))["items"] == []
