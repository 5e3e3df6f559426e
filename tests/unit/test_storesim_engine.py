"""storesim's cart engine, checked against figures of the real store."""

from __future__ import annotations

from fractions import Fraction

import pytest

from storesim import catalog
from storesim.cart import CartState, add_item, apply_coupon, line_key
from storesim.money import round_half_down, round_half_up
from storesim.params import form_to_params, is_integer, php_intval
from storesim.totals import calculate


def _cart(*lines: tuple[int, int]) -> CartState:
    state = CartState()
    for product_id, quantity in lines:
        add_item(state, product_id, quantity, None)
    return state


class TestRounding:
    def test_half_up_and_half_down_differ_only_on_halves(self) -> None:
        assert [round_half_up(Fraction(n, 10)) for n in (4675, 4674, 825)] == [468, 467, 83]
        assert [round_half_down(Fraction(n, 10)) for n in (4675, 4676, 825)] == [467, 468, 82]


class TestLineKeys:
    def test_simple_products_hash_their_id(self) -> None:
        assert line_key(catalog.PRODUCTS[10], ()) == "d3d9446802a44259755d38e6d163e820"

    def test_variations_hash_parent_variation_and_attributes(self) -> None:
        product = catalog.PRODUCTS[19]
        assert line_key(product, product.attributes) == "3f089590b9925978f3122ce21ed2f73b"


class TestCoupons:
    def test_fixed_cart_splits_per_unit_and_gives_the_remainder_by_line_value(self) -> None:
        """20.00 over 12 units: 166 each; the 8-cent remainder goes to the lines of the
        highest price times quantity first (Beanie x4, then Cap x3, then Sunglasses)."""
        state = _cart((15, 1), (10, 4), (11, 1), (17, 1), (18, 1), (12, 3), (13, 1))
        apply_coupon(state, "20off", 37000)
        totals = calculate(state)
        discounts = {t.line.product_id: t.subtotal - t.total for t in totals.lines}
        assert discounts == {15: 167, 10: 668, 11: 166, 17: 166, 18: 166, 12: 501, 13: 166}
        assert totals.coupons[0].discount_tax == 200

    def test_percent_coupons_apply_before_fixed_cart_ones(self) -> None:
        state = _cart((15, 1), (10, 4), (11, 1), (17, 1), (18, 1), (12, 3), (13, 1))
        apply_coupon(state, "20off", 37000)
        apply_coupon(state, "test", 37000)
        totals = calculate(state)
        assert [(c.code, c.discount, c.discount_tax) for c in totals.coupons] == [
            ("20off", 2000, 200),
            ("test", 5550, 555),
        ]
        assert totals.total_price == 33825

    def test_an_empty_cart_has_no_shipping_total(self) -> None:
        totals = calculate(CartState())
        assert (totals.shipping, totals.total_price) == (None, 0)


class TestWordPressParameters:
    @pytest.mark.parametrize(
        ("value", "expected"), [("12abc", 12), ("abc", 0), (" 7", 7), (3.9, 3), (True, 1)]
    )
    def test_intval_reads_leading_digits_like_php(self, value: object, expected: int) -> None:
        assert php_intval(value) == expected

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("1", True), ("1.0", True), ("1.5", False), (True, False), ("x", False), (2, True)],
    )
    def test_integer_validation_follows_rest_is_integer(
        self, value: object, expected: bool
    ) -> None:
        assert is_integer(value) is expected

    def test_form_bodies_nest_like_parse_str(self) -> None:
        parsed = form_to_params("id=16&variation[0][attribute]=Color&variation[0][value]=red")
        assert parsed == {"id": "16", "variation": [{"attribute": "Color", "value": "red"}]}
