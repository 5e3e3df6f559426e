"""The mobile cart made from real Store API carts: values, plain text and size."""

from __future__ import annotations

import json

import msgspec
from bench.cart_size import recorded_carts, sizes

from cartsync.carts.model import mark_stale
from cartsync.upstream.storeapi.mapping import CART_DECODER, plain_text, to_cart
from tests.fidelity.replay import recordings_dir


def _recorded(step: str) -> bytes:
    path = next((recordings_dir() / "storeapi").glob(f"{step}-*.json"))
    return json.dumps(json.loads(path.read_text())["response"]["json"]).encode()


class TestMapping:
    def test_money_is_integer_minor_units_with_the_currency_once(self) -> None:
        """Step 071 (two fixed-cart coupons, US shipping): totals to the cent."""
        cart = to_cart(CART_DECODER.decode(_recorded("071")))
        assert cart.currency.code == "USD"
        assert cart.currency.minor_unit == 2
        t = cart.totals
        assert (t.subtotal, t.discount, t.shipping, t.tax, t.total) == (
            37000,
            3000,
            1300,
            3530,
            38830,
        )
        assert [(c.code, c.discount) for c in cart.coupons] == [("20off", 2000), ("min100", 1000)]
        assert cart.shipping[0].selected_rate == "flat_rate:1"
        assert [r.id for r in cart.shipping[0].rates] == [
            "flat_rate:1",
            "free_shipping:2",
            "local_pickup:3",
        ]

    def test_lines_carry_limits_prices_and_variation_attributes(self) -> None:
        cart = to_cart(CART_DECODER.decode(_recorded("071")))
        hoodie = next(i for i in cart.items if i.product_id == 17)
        assert hoodie.variation_id == 17
        assert [(a.name, a.value) for a in hoodie.attributes] == [
            ("Logo", "Yes"),
            ("Color", "Blue"),
        ]
        cap = next(i for i in cart.items if i.product_id == 12)
        assert (cap.quantity, cap.limits.max, cap.unit_price, cap.subtotal) == (3, 3, 1600, 4800)
        album = next(i for i in cart.items if i.product_id == 13)
        assert album.limits.editable is False

    def test_names_are_plain_text(self) -> None:
        assert plain_text("<p>Caf&eacute; &amp; <b>Tea</b></p>") == "Café & Tea"

    def test_a_stale_copy_differs_only_in_its_stale_flag(self) -> None:
        body = msgspec.json.encode(to_cart(CART_DECODER.decode(_recorded("039"))))
        stale = json.loads(mark_stale(body))
        assert stale.pop("stale") is True
        fresh = json.loads(body)
        assert fresh.pop("stale") is False
        assert stale == fresh


class TestSize:
    def test_every_recorded_cart_with_lines_is_at_most_a_third_of_the_store_api_cart(
        self,
    ) -> None:
        """The product goal (README, Performance): compact ≤ 1/3 of the Store API bytes."""
        ratios = {
            name: sizes(raw)[1] / sizes(raw)[0]
            for name, raw in recorded_carts()
            if json.loads(raw)["items"]
        }
        assert ratios
        assert max(ratios.values()) <= 1 / 3, ratios
