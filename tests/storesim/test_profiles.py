"""WooCommerce profiles (``--woo``, ``SimConfig.woo``, ``PUT /__sim/profile``) and the
control plane's orders and stock."""

from __future__ import annotations

import httpx
import pytest

from storesim import SimConfig
from storesim.__main__ import config_from, parse_args

from .helpers import API, add, checkout, new_cart, order_body, orders_at_store

BEANIE, BELT, CAP, ALBUM = 10, 11, 12, 13


async def _use(storesim: httpx.AsyncClient, woo: str) -> None:
    (await storesim.put("/__sim/profile", json={"woo": woo})).raise_for_status()


class TestChoosingAProfile:
    def test_the_command_line_takes_a_version(self) -> None:
        assert config_from(parse_args([])).woo == "8.9"
        assert config_from(parse_args(["--woo", "9.9"])).woo == "9.9"
        assert config_from(parse_args(["--woo", "9.9.5"])).woo == "9.9"
        with pytest.raises(SystemExit):
            parse_args(["--woo", "10.1"])

    def test_an_unknown_version_fails_at_start_up(self) -> None:
        with pytest.raises(ValueError, match="unknown WooCommerce profile"):
            SimConfig(woo="7.0")

    async def test_the_control_plane_switches_and_reset_restores(
        self, storesim: httpx.AsyncClient
    ) -> None:
        assert (await storesim.get("/__sim/profile")).json() == {"woo": "8.9", "version": "8.9.1"}
        switched = await storesim.put("/__sim/profile", json={"woo": "9.9"})
        refused = await storesim.put("/__sim/profile", json={"woo": "6.0"})
        assert (switched.json()["woo"], switched.json()["woo_version"]) == ("9.9", "9.9.5")
        assert refused.status_code == 400
        await storesim.post("/__sim/reset")
        assert (await storesim.get("/__sim/profile")).json()["woo"] == "8.9"


class TestWhatTheProfileChanges:
    async def test_headers_follow_the_version(self, storesim: httpx.AsyncClient) -> None:
        """8.9.1 sends X-WC-Store-API-Nonce; 9.9.5 sends Cart-Hash and exposes Cart-Token."""
        old = await storesim.get(f"{API}/cart")
        await _use(storesim, "9.9")
        new = await storesim.get(f"{API}/cart")
        assert "X-WC-Store-API-Nonce" in old.headers
        assert "Cart-Hash" not in old.headers
        assert "X-WC-Store-API-Nonce" not in new.headers
        assert new.headers["Cart-Hash"] == ""  # an empty cart
        assert new.headers["Access-Control-Expose-Headers"].endswith(", Cart-Token")
        assert "X-WC-Store-API-Nonce" not in new.headers["Access-Control-Allow-Headers"]

    async def test_a_valid_token_exempts_writes_from_the_nonce_on_9_9(
        self, storesim: httpx.AsyncClient
    ) -> None:
        headers = await new_cart(storesim)
        token_only = {"Cart-Token": headers["Cart-Token"]}
        refused = await add(storesim, token_only, BEANIE)
        await _use(storesim, "9.9")
        accepted = await add(storesim, token_only, BEANIE)
        aged = await add(storesim, {**token_only, "Nonce": "0000000000"}, BEANIE)
        no_token = await add(storesim, {}, BEANIE)
        assert (refused.status_code, accepted.status_code, aged.status_code) == (401, 201, 201)
        assert accepted.headers["Cart-Hash"] != ""
        assert no_token.json()["code"] == "woocommerce_rest_missing_nonce"

    async def test_quantity_zero_on_a_sold_individually_line(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """8.9.1 says readonly_quantity, 9.9.5 invalid_quantity."""
        headers = await new_cart(storesim)
        key = (await add(storesim, headers, ALBUM)).json()["items"][0]["key"]
        update = {"key": key, "quantity": 0}
        old = await storesim.post(f"{API}/cart/update-item", json=update, headers=headers)
        await _use(storesim, "9.9")
        new = await storesim.post(f"{API}/cart/update-item", json=update, headers=headers)
        again = await storesim.post(
            f"{API}/cart/update-item", json={"key": key, "quantity": 2}, headers=headers
        )
        assert old.json()["code"] == "readonly_quantity"
        assert new.json()["code"] == "invalid_quantity"
        assert again.json() == {
            "code": "readonly_quantity",
            "message": "The quantity of &quot;Album&quot; cannot be changed",
            "data": {"status": 400},
        }

    async def test_product_and_list_fields_follow_the_version(
        self, storesim: httpx.AsyncClient
    ) -> None:
        headers = await new_cart(storesim)
        await add(storesim, headers, BEANIE)
        old_product = (await storesim.get(f"{API}/products/{CAP}")).json()
        old_links = (await storesim.get(f"{API}/cart/items", headers=headers)).json()[0]["_links"]
        await _use(storesim, "9.9")
        new_product = (await storesim.get(f"{API}/products/{CAP}")).json()
        new_links = (await storesim.get(f"{API}/cart/items", headers=headers)).json()[0]["_links"]
        assert "brands" not in old_product
        assert "stock_availability" not in old_product
        assert new_product["stock_availability"] == {"text": "3 in stock", "class": "in-stock"}
        assert new_product["add_to_cart"]["single_text"] == "Add to cart"
        assert "targetHints" not in old_links["self"][0]
        assert new_links["self"][0]["targetHints"] == {
            "allow": ["GET", "POST", "PUT", "PATCH", "DELETE"]
        }


class TestOrdersControlPlane:
    async def test_orders_are_listed_with_what_a_test_counts(
        self, storesim: httpx.AsyncClient
    ) -> None:
        await storesim.post("/__sim/clock", json={"set_to": 1_800_000_000, "freeze": True})
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        placed = (await checkout(storesim, headers, order_body(email="lin@example.com"))).json()
        (order,) = await orders_at_store(storesim)
        assert order == {
            "id": placed["order_id"],
            "order_key": placed["order_key"],
            "status": "on-hold",
            "created_at": 1_800_000_000,
            "session": order["session"],
            "total": "7480",
            "subtotal": "5500",
            "discount_total": "0",
            "shipping_total": "1300",
            "tax_total": "550",
            "shipping_tax": "130",
            "payment_method": "bacs",
            "billing_email": "lin@example.com",
            "customer_note": "",
            "shipping_rate": "flat_rate:1",
            "coupons": [],
            "lines": [{"product_id": BELT, "name": "Belt", "quantity": 1, "total": "5500"}],
        }
        one = await storesim.get(f"/__sim/orders/{placed['order_id']}")
        assert one.json() == order
        assert await orders_at_store(storesim, "checkout-draft") == []
        assert (await storesim.get("/__sim/orders/999")).status_code == 404
        assert (await storesim.get("/__sim/state")).json()["orders"] == 1

    async def test_an_order_can_be_changed_as_an_admin_would(
        self, storesim: httpx.AsyncClient
    ) -> None:
        headers = await new_cart(storesim)
        await add(storesim, headers, BELT)
        placed = (await checkout(storesim, headers)).json()
        url = f"/__sim/orders/{placed['order_id']}"
        changed = await storesim.put(url, json={"status": "pending", "created_at": 5.0})
        refused = await storesim.put(url, json={"status": "lost"})
        assert (changed.json()["status"], changed.json()["created_at"]) == ("pending", 5.0)
        assert refused.status_code == 400
        assert (await storesim.put("/__sim/orders/999", json={})).status_code == 404

    async def test_the_stock_can_be_set_for_products_that_manage_it(
        self, storesim: httpx.AsyncClient
    ) -> None:
        set_cap = await storesim.put(f"/__sim/products/{CAP}/stock", json={"stock": 0})
        not_managed = await storesim.put(f"/__sim/products/{BELT}/stock", json={"stock": 4})
        unknown = await storesim.put("/__sim/products/999/stock", json={"in_stock": False})
        headers = await new_cart(storesim)
        refused = await add(storesim, headers, CAP)
        assert set_cap.json() == {"out_of_stock": [], "stock": {str(CAP): 0}}
        assert (not_managed.status_code, unknown.status_code) == (400, 404)
        assert refused.json()["code"] == "woocommerce_rest_product_out_of_stock"
        await storesim.post("/__sim/reset")
        assert (await storesim.get("/__sim/state")).json()["stock"] == {str(CAP): 3}

    async def test_settle_waits_for_nothing_when_the_store_is_idle(
        self, storesim: httpx.AsyncClient
    ) -> None:
        assert (await storesim.post("/__sim/settle")).json() == {"settled": 0}
