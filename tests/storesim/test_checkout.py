"""The checkout routes on both profiles: drafts, placing an order, refusals, reading an order
back and paying an existing one, beyond what the recordings pin."""

from __future__ import annotations

import httpx
import pytest

from storesim import SimConfig

from .helpers import (
    ADDRESS,
    API,
    BILLING,
    add,
    cart,
    checkout,
    new_cart,
    order_body,
    orders_at_store,
    token_user,
)

BEANIE, BELT, CAP, ALBUM = 10, 11, 12, 13


@pytest.fixture(params=["8.9", "9.9"])
def sim_config(request: pytest.FixtureRequest) -> SimConfig:
    """Every test here runs once as WooCommerce 8.9.1 and once as 9.9.5."""
    return SimConfig(secret="test-secret", woo=str(request.param))


class TestDraft:
    async def test_the_draft_is_the_order_a_later_post_places(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """GET /checkout twice: one draft; the POST places that very order id."""
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        first = (await storesim.get(f"{API}/checkout", headers=headers)).json()
        again = (await storesim.get(f"{API}/checkout", headers=headers)).json()
        placed = (await checkout(storesim, headers)).json()
        assert first["status"] == "checkout-draft"
        assert (first["order_id"], first["order_key"]) == (again["order_id"], again["order_key"])
        assert (placed["order_id"], placed["order_key"]) == (first["order_id"], first["order_key"])
        assert placed["status"] == "on-hold"
        assert [o["status"] for o in await orders_at_store(storesim)] == ["on-hold"]

    async def test_the_draft_follows_the_cart(self, storesim: httpx.AsyncClient) -> None:
        """A line added after the first GET is in the draft's totals at the next GET."""
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        order_id = (await storesim.get(f"{API}/checkout", headers=headers)).json()["order_id"]
        await add(storesim, headers, BEANIE)
        await storesim.get(f"{API}/checkout", headers=headers)
        (draft,) = await orders_at_store(storesim)
        assert draft["id"] == order_id
        assert [(line["product_id"], line["quantity"]) for line in draft["lines"]] == [
            (BELT, 1),
            (BEANIE, 1),
        ]
        assert draft["total"] == "9460"  # 55 + 18 + 13 shipping, 10 % tax on all

    async def test_put_and_patch_update_the_draft_on_9_9_only(
        self, storesim: httpx.AsyncClient, sim_config: SimConfig
    ) -> None:
        """9.9.5: PUT sets the draft's payment method and answers with the cart; 8.9.1: 404."""
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        put = await storesim.put(
            f"{API}/checkout", json={"payment_method": "cheque"}, headers=headers
        )
        patch = await storesim.patch(f"{API}/checkout", json={}, headers=headers)
        if sim_config.woo == "8.9":
            assert (put.status_code, put.json()["code"]) == (404, "rest_no_route")
            assert patch.status_code == 404
            return
        assert put.status_code == patch.status_code == 200
        assert put.json()["payment_method"] == "cheque"
        assert put.json()["payment_result"] is None
        assert [i["id"] for i in put.json()["__experimentalCart"]["items"]] == [BELT]
        got = (await storesim.get(f"{API}/checkout", headers=headers)).json()
        assert got["payment_method"] == "cheque"  # kept in the session


class TestPlacing:
    async def test_an_order_has_the_carts_totals_and_empties_it(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """Totals as the cart's; after it the cart is empty, the addresses kept, the
        coupon and the rate dropped, the Cart-Token naming the same session."""
        headers = await new_cart(storesim)
        await add(storesim, headers, BEANIE, 2)
        await storesim.post(f"{API}/cart/apply-coupon", json={"code": "test"}, headers=headers)
        before = await cart(storesim, headers)
        answer = await checkout(storesim, headers, order_body(customer_note="ring twice"))
        body = answer.json()
        after = await storesim.get(f"{API}/cart", headers={"Cart-Token": headers["Cart-Token"]})
        (order,) = await orders_at_store(storesim)
        assert answer.status_code == 200
        assert order["total"] == before["totals"]["total_price"] == "4796"
        assert (order["discount_total"], order["coupons"]) == ("540", ["test"])
        assert body["customer_note"] == order["customer_note"] == "ring twice"
        assert body["payment_result"]["payment_status"] == "success"
        assert body["payment_result"]["redirect_url"] == (
            f"http://127.0.0.1:8181/checkout/order-received/{body['order_id']}/"
            f"?key={body['order_key']}"
        )
        emptied = after.json()
        assert (emptied["items"], emptied["coupons"], emptied["shipping_rates"]) == ([], [], [])
        assert emptied["billing_address"]["email"] == "ada@example.com"
        assert emptied["shipping_address"]["address_1"] == ADDRESS["address_1"]
        assert token_user(after.headers["Cart-Token"]) == token_user(headers["Cart-Token"])
        assert (await storesim.get("/__sim/state")).json()["sessions"] == 1

    async def test_the_same_post_twice_in_a_row_makes_one_order(
        self, storesim: httpx.AsyncClient, sim_config: SimConfig
    ) -> None:
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        first = await checkout(storesim, headers)
        second = await checkout(storesim, headers)
        assert first.status_code == 200
        expected = 409 if sim_config.woo == "9.9" else 400
        assert (second.status_code, second.json()["code"]) == (
            expected,
            "woocommerce_rest_cart_empty",
        )
        assert "order_id" not in second.json()
        assert len(await orders_at_store(storesim)) == 1

    async def test_a_shipping_address_is_copied_from_billing_on_8_9_only(
        self, storesim: httpx.AsyncClient, sim_config: SimConfig
    ) -> None:
        """No shipping_address: 8.9.1 ships to the billing address, 9.9.5 refuses with the
        missing fields of the session's (empty) shipping address and keeps the draft."""
        headers = await new_cart(storesim)
        await add(storesim, headers, ALBUM)
        answer = await checkout(
            storesim, headers, {"billing_address": BILLING, "payment_method": "cheque"}
        )
        (order,) = await orders_at_store(storesim)
        if sim_config.woo == "8.9":
            assert answer.status_code == 200
            assert answer.json()["shipping_address"]["first_name"] == "Ada"
            assert order["status"] == "on-hold"
            return
        assert (answer.status_code, answer.json()["code"]) == (
            400,
            "woocommerce_rest_invalid_address",
        )
        assert answer.json()["data"]["errors"]["shipping"][0] == "ZIP Code is required"
        assert (order["status"], order["payment_method"]) == ("checkout-draft", "cheque")


class TestRefusals:
    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"payment_method": "bacs"}, 400, "rest_missing_callback_param"),
            (order_body(email="not-an-email"), 400, "rest_invalid_param"),
            (order_body(payment_method="stripe"), 400, "rest_invalid_param"),
            (
                order_body(payment_method="cod"),
                400,
                "woocommerce_rest_checkout_payment_method_disabled",
            ),
            (
                {"billing_address": BILLING, "shipping_address": ADDRESS},
                400,
                "woocommerce_rest_checkout_missing_payment_method",
            ),
            (order_body(email=""), 400, "woocommerce_rest_missing_email_address"),
            (
                {**order_body(), "billing_address": {**BILLING, "postcode": "ABC"}},
                400,
                "rest_invalid_param",
            ),
        ],
    )
    async def test_a_refused_checkout_places_no_order(
        self, storesim: httpx.AsyncClient, body: dict[str, object], status: int, code: str
    ) -> None:
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        answer = await checkout(storesim, headers, body)
        assert (answer.status_code, answer.json()["code"]) == (status, code)
        assert [o["status"] for o in await orders_at_store(storesim, "on-hold")] == []
        assert [i["id"] for i in (await cart(storesim, headers))["items"]] == [BELT]

    async def test_argument_errors_come_before_the_nonce_and_without_session_headers(
        self, storesim: httpx.AsyncClient
    ) -> None:
        headers = await new_cart(storesim)
        answer = await storesim.post(
            f"{API}/checkout",
            json={"payment_method": "bacs"},
            headers={"Cart-Token": headers["Cart-Token"]},
        )
        assert answer.json()["code"] == "rest_missing_callback_param"
        assert "Cart-Token" not in answer.headers

    async def test_the_nonce_at_checkout_follows_the_version(
        self, storesim: httpx.AsyncClient, sim_config: SimConfig
    ) -> None:
        """8.9.1: a token alone gets 401, a wrong nonce 403; 9.9.5: the token is enough."""
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        token_only = {"Cart-Token": headers["Cart-Token"]}
        bad_nonce = {**token_only, "Nonce": "0123456789"}
        missing = await checkout(storesim, token_only)
        wrong = await checkout(storesim, bad_nonce)
        if sim_config.woo == "8.9":
            assert (missing.status_code, missing.json()["code"]) == (
                401,
                "woocommerce_rest_missing_nonce",
            )
            assert (wrong.status_code, wrong.json()["code"]) == (
                403,
                "woocommerce_rest_invalid_nonce",
            )
            assert await orders_at_store(storesim) == []
            return
        assert missing.status_code == 200
        assert len(await orders_at_store(storesim)) == 1

    async def test_a_cart_outside_every_shipping_zone_cannot_be_ordered(
        self, storesim: httpx.AsyncClient
    ) -> None:
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        abroad = {**ADDRESS, "country": "DE", "state": "", "postcode": "10115"}
        answer = await checkout(storesim, headers, order_body(shipping_address=abroad))
        assert (answer.status_code, answer.json()["code"]) == (
            400,
            "woocommerce_rest_invalid_shipping_option",
        )

    async def test_checkout_is_not_allowed_in_a_batch(self, storesim: httpx.AsyncClient) -> None:
        headers = await new_cart(storesim)
        sub = {"method": "POST", "path": "/wc/store/v1/checkout", "body": order_body()}
        answer = await storesim.post(
            f"{API}/batch",
            json={"requests": [{**sub, "headers": headers}]},
            headers={"Cart-Token": headers["Cart-Token"]},
        )
        assert answer.json()["responses"][0]["body"]["code"] == "rest_batch_not_allowed"


class TestReadingAnOrder:
    async def _placed(self, storesim: httpx.AsyncClient) -> dict[str, object]:
        headers = await new_cart(storesim)
        await add(storesim, headers, BEANIE, 2)
        body: dict[str, object] = (await checkout(storesim, headers)).json()
        return body

    async def test_the_email_is_checked_once_the_order_is_ten_minutes_old(
        self, storesim: httpx.AsyncClient
    ) -> None:
        placed = await self._placed(storesim)
        url = f"{API}/order/{placed['order_id']}"
        right = {"key": placed["order_key"], "billing_email": "ada@example.com"}
        wrong = {**right, "billing_email": "someone@example.com"}
        fresh = await storesim.get(url, params=wrong)
        await storesim.post("/__sim/clock", json={"advance_seconds": 10 * 60 + 1})
        aged_wrong = await storesim.get(url, params=wrong)
        aged_right = await storesim.get(url, params=right)
        assert fresh.status_code == 200
        assert fresh.json()["totals"]["total_price"] == "5390"
        assert (aged_wrong.status_code, aged_wrong.json()["code"]) == (
            401,
            "woocommerce_rest_invalid_billing_email",
        )
        assert "Allow" not in aged_wrong.headers
        assert aged_right.status_code == 200

    async def test_a_wrong_key_or_an_unknown_order_is_refused(
        self, storesim: httpx.AsyncClient
    ) -> None:
        placed = await self._placed(storesim)
        wrong_key = await storesim.get(
            f"{API}/order/{placed['order_id']}", params={"key": "wc_order_nope"}
        )
        unknown = await storesim.get(f"{API}/order/999", params={"key": placed["order_key"]})
        for answer in (wrong_key, unknown):
            assert (answer.status_code, answer.json()["code"]) == (
                401,
                "woocommerce_rest_invalid_order",
            )

    async def test_an_order_read_carries_no_session_headers(
        self, storesim: httpx.AsyncClient
    ) -> None:
        placed = await self._placed(storesim)
        answer = await storesim.get(
            f"{API}/order/{placed['order_id']}", params={"key": placed["order_key"]}
        )
        body = answer.json()
        assert "Cart-Token" not in answer.headers
        assert "Nonce" not in answer.headers
        assert body["items"][0]["key"] == placed["order_key"]  # WooCommerce's quirk
        assert body["items"][0]["quantity_limits"]["editable"] is False
        assert body["needs_payment"] is False


class TestPayingAnExistingOrder:
    async def test_only_a_pending_order_can_be_paid_and_only_with_both_addresses(
        self, storesim: httpx.AsyncClient
    ) -> None:
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        placed = (await checkout(storesim, headers)).json()
        url = f"{API}/checkout/{placed['order_id']}"
        pay = {
            "key": placed["order_key"],
            "billing_email": "ada@example.com",
            "billing_address": BILLING,
            "payment_method": "cheque",
        }
        on_hold = await storesim.post(url, json=pay, headers=headers)
        await storesim.put(f"/__sim/orders/{placed['order_id']}", json={"status": "pending"})
        no_shipping = await storesim.post(url, json=pay, headers=headers)
        paid = await storesim.post(url, json={**pay, "shipping_address": ADDRESS}, headers=headers)
        assert (on_hold.status_code, on_hold.json()) == (
            500,
            {
                "code": "invalid_order_update_status",
                "message": "This order cannot be paid for.",
                "data": None,
            },
        )
        assert (no_shipping.status_code, no_shipping.json()["code"]) == (
            500,
            "internal_server_error",
        )
        assert paid.status_code == 200
        assert (paid.json()["status"], paid.json()["payment_method"]) == ("on-hold", "cheque")
        (order,) = await orders_at_store(storesim)
        assert (order["status"], order["payment_method"]) == ("on-hold", "cheque")

    async def test_a_wrong_key_cannot_pay(self, storesim: httpx.AsyncClient) -> None:
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        placed = (await checkout(storesim, headers)).json()
        answer = await storesim.post(
            f"{API}/checkout/{placed['order_id']}",
            json={"key": "wc_order_nope", "billing_address": BILLING, "payment_method": "bacs"},
            headers=headers,
        )
        assert (answer.status_code, answer.json()["code"]) == (
            401,
            "woocommerce_rest_invalid_order",
        )
