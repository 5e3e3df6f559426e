"""CoCart's cart and products, as recorded on a real store, map to the mobile shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cartsync.upstream.cocart.mapping import CoCartCart, cart_of, to_cart
from cartsync.upstream.cocart.php import decode
from cartsync.upstream.cocart.products import product_of, products_of, to_product

RECORDINGS = Path(__file__).resolve().parents[1] / "fidelity" / "recordings"


def _answers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for folder in ("cocart", "cocart-extra"):
        for path in sorted((RECORDINGS / folder).glob("[0-9]*.json")):
            step = json.loads(path.read_text())
            body = step.get("response", {}).get("json")
            if isinstance(body, dict) and "cart_key" in body and "items" in body:
                found.append((f"{folder}/{path.stem}", body))
    return found


CARTS = _answers()


def test_the_recordings_hold_carts_to_map() -> None:
    """The fixture below is not vacuous: the recordings hold a dozen CoCart carts."""
    assert len(CARTS) >= 12


@pytest.mark.parametrize(("step", "body"), CARTS, ids=[s for s, _ in CARTS])
def test_every_recorded_cart_maps_with_consistent_money(step: str, body: dict[str, Any]) -> None:
    """Each recorded cart decodes (PHP's ``[]`` for empty objects included) and its
    lines' subtotals add up to the cart's subtotal, in minor units."""
    cart = to_cart(cart_of(msgspec.json.encode(body)))
    assert cart.items_count == sum(i.quantity for i in cart.items)
    assert sum(i.subtotal for i in cart.items) == cart.totals.subtotal


def test_a_cart_in_minor_units_and_grams() -> None:
    """The recorded five-line cart [cocart/017]: cent strings, major-unit floats and a
    kilogram weight all come out as integers of the mobile schema."""
    body = json.loads((RECORDINGS / "cocart" / "017-cart-get-with-key.json").read_text())
    cart = to_cart(cart_of(msgspec.json.encode(body["response"]["json"])))
    beanie = cart.items[0]
    assert (beanie.product_id, beanie.quantity, beanie.unit_price) == (10, 2, 1800)
    assert (beanie.subtotal, beanie.total, beanie.tax) == (3600, 3600, 360)
    hoodie = cart.items[1]
    assert hoodie.variation_id == 17
    assert [(a.name, a.value) for a in hoodie.attributes] == [("Color", "Blue"), ("Logo", "Yes")]
    assert (cart.totals.subtotal, cart.totals.total, cart.totals.tax) == (22800, 26510, 2410)
    assert cart.items_weight == 4000
    assert [r.id for r in cart.shipping[0].rates] == [
        "flat_rate:1",
        "free_shipping:2",
        "local_pickup:3",
    ]
    assert cart.shipping[0].selected_rate == "flat_rate:1"
    assert beanie.limits.max == 9999  # CoCart's -1: no maximum


def test_an_empty_php_array_stands_for_an_empty_object() -> None:
    """``"totals": []`` and ``"customer": {"billing_address": []}`` decode as empty
    objects, while a real list (``items``) stays a list."""
    raw = b'{"cart_key":"k","items":[],"totals":[],"customer":{"billing_address":[]}}'
    cart = decode(raw, CoCartCart)
    assert (cart.totals, cart.customer.billing_address, cart.items) == ({}, {}, [])


def test_recorded_products_map_with_attributes_and_variations() -> None:
    """The variable Hoodie [cocart/004]: its attributes (taxonomy for the global one)
    and variations come out as the Store API mapping gives them."""
    step = json.loads((RECORDINGS / "cocart" / "004-product-variable.json").read_text())
    hoodie = to_product(product_of(msgspec.json.encode(step["response"]["json"])))
    assert (hoodie.type, hoodie.price, hoodie.regular_price) == ("variable", 4200, 4500)
    assert [(a.name, a.taxonomy) for a in hoodie.attributes] == [
        ("Color", "pa_color"),
        ("Logo", None),
    ]
    assert {v.id for v in hoodie.variations} == {17, 18, 19}
    listing = json.loads((RECORDINGS / "cocart" / "002-products-list.json").read_text())
    products = products_of(msgspec.json.encode(listing["response"]["json"]))
    assert len(products) == 5
