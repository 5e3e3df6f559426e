"""Cart totals to the cent, as ``WC_Cart_Totals`` and ``WC_Discounts`` compute them.

Work is in integer cents. Tax is per line, rounded half up (prices exclude tax,
rounding is per line, not at subtotal). Coupons follow ``WC_Discounts``: items are
sorted by line price times quantity (descending, stable); percent coupons floor each
line's share and hand out the rounding remainder a cent per unit; fixed-cart coupons
split per quantity unit, then a cent per unit for the remainder. The tax on a coupon's
discount is summed unrounded and rounded once (as the recordings show).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from . import catalog
from .cart import CartState, Line, coupon_invalid_reason
from .catalog import SHIPPING_RATES, TAX_RATE, ShippingRate
from .money import round_half_down, round_half_up

_SORT_BY_TYPE = {"fixed_product": 1, "percent": 2, "fixed_cart": 3}


@dataclass(slots=True)
class LineTotals:
    line: Line
    subtotal: int
    subtotal_tax: int
    total: int = 0
    total_tax: int = 0


@dataclass(slots=True)
class CouponTotals:
    code: str
    discount_type: str
    discount: int
    discount_tax_exact: Fraction

    @property
    def discount_tax(self) -> int:
        return round_half_down(self.discount_tax_exact)


@dataclass(slots=True)
class Package:
    destination: dict[str, str]
    rates: tuple[ShippingRate, ...]
    selected: str | None

    @property
    def selected_rate(self) -> ShippingRate | None:
        return next((r for r in self.rates if r.rate_id == self.selected), None)


@dataclass(slots=True)
class Totals:
    lines: list[LineTotals]
    coupons: list[CouponTotals]
    package: Package | None
    items: int = 0
    items_tax: int = 0
    discount: int = 0
    discount_tax: int = 0
    shipping: int | None = None
    shipping_tax: int | None = None
    total_tax: int = 0
    total_price: int = 0
    removed_coupons: list[str] = field(default_factory=list)


def _tax(amount: int | Fraction, rate: Fraction = TAX_RATE) -> Fraction:
    return Fraction(amount) * rate


def _apply_remainder(
    items: list[LineTotals], discounts: dict[str, int], given: dict[str, int], amount: int
) -> int:
    total = 0
    for item in items:
        for _ in range(item.line.quantity):
            available = item.subtotal - given[item.line.key]
            discount = min(available, 1)
            if discount <= 0:
                break
            total += discount
            discounts[item.line.key] += discount
            given[item.line.key] += discount
            if total >= amount:
                return total
    return total


def _apply_percent(
    items: list[LineTotals], percent: int, discounts: dict[str, int], given: dict[str, int]
) -> None:
    total = 0
    cart_total = 0
    for item in items:
        available = item.subtotal - given[item.line.key]
        discount = min(available, math.floor(Fraction(item.subtotal * percent, 100)))
        cart_total += item.subtotal
        total += discount
        discounts[item.line.key] += discount
        given[item.line.key] += discount
    whole_cart = round_half_up(Fraction(cart_total * percent, 100))
    if total < whole_cart:
        _apply_remainder(items, discounts, given, whole_cart - total)


def _apply_fixed_cart(
    items: list[LineTotals], amount: int, discounts: dict[str, int], given: dict[str, int]
) -> int:
    priced = [i for i in items if i.subtotal > 0]
    count = sum(i.line.quantity for i in priced)
    if not count or amount <= 0:
        return 0
    per_unit = amount // count
    if per_unit == 0:
        return _apply_remainder(priced, discounts, given, amount)
    total = 0
    for item in priced:
        available = item.subtotal - given[item.line.key]
        unit_price = Fraction(item.subtotal, item.line.quantity)
        discount = min(available, int(min(Fraction(per_unit), unit_price) * item.line.quantity))
        total += discount
        discounts[item.line.key] += discount
        given[item.line.key] += discount
    if 0 < total < amount:
        total += _apply_fixed_cart(priced, amount - total, discounts, given)
    return total


def shipping_tax(rate: ShippingRate) -> int:
    return round_half_up(_tax(rate.cost_cents)) if rate.taxable else 0


def _shipping_package(state: CartState) -> Package:
    destination = {
        k: state.shipping.get(k, "")
        for k in ("address_1", "address_2", "city", "state", "postcode", "country")
    }
    in_zone = destination["country"] in catalog.SHIPPING_ZONE_COUNTRIES
    rates = SHIPPING_RATES if in_zone else ()
    chosen = state.chosen_shipping.get("0")
    if not any(r.rate_id == chosen for r in rates):
        chosen = rates[0].rate_id if rates else None
        # WooCommerce stores the fallback as the new choice.
        if chosen is None:
            state.chosen_shipping.pop("0", None)
        else:
            state.chosen_shipping["0"] = chosen
    return Package(destination, rates, chosen)


def calculate(state: CartState) -> Totals:
    """Compute every total of the cart; also drops coupons that are no longer valid.

    Tax follows the shipping address: with no shipping country no rate matches
    (``WC_Tax::find_rates`` needs a country), so nothing is taxed.
    """
    tax_rate = TAX_RATE if state.shipping.get("country") else Fraction(0)
    lines = [
        LineTotals(
            line,
            line.product.price_cents * line.quantity,
            round_half_up(_tax(line.product.price_cents * line.quantity, tax_rate)),
        )
        for line in state.lines.values()
    ]
    items_total = sum(t.subtotal for t in lines)
    removed = []
    for code in list(state.coupons):
        coupon = catalog.COUPONS.get(code)
        if coupon is None or coupon_invalid_reason(coupon, items_total) or not lines:
            state.coupons.remove(code)
            removed.append(code)

    by_price = sorted(lines, key=lambda t: t.subtotal * t.line.quantity, reverse=True)
    given = {t.line.key: 0 for t in lines}
    coupon_order = sorted(
        (catalog.COUPONS[c] for c in state.coupons),
        key=lambda c: (_SORT_BY_TYPE.get(c.discount_type, 0), c.amount, -c.id),
    )
    coupon_totals: dict[str, CouponTotals] = {}
    for coupon in coupon_order:
        discounts = {t.line.key: 0 for t in lines}
        if coupon.discount_type == "percent":
            _apply_percent(by_price, coupon.amount, discounts, given)
        else:
            _apply_fixed_cart(by_price, coupon.amount, discounts, given)
        coupon_totals[coupon.code] = CouponTotals(
            coupon.code,
            coupon.discount_type,
            sum(discounts.values()),
            sum((_tax(d, tax_rate) for d in discounts.values()), Fraction(0)),
        )

    for t in lines:
        t.total = t.subtotal - given[t.line.key]
        t.total_tax = round_half_up(_tax(t.total, tax_rate))

    totals = Totals(lines, [coupon_totals[c] for c in state.coupons], None, removed_coupons=removed)
    totals.items = items_total
    totals.items_tax = sum(t.subtotal_tax for t in lines)
    totals.discount = sum(c.discount for c in totals.coupons)
    totals.discount_tax = round_half_up(
        sum((c.discount_tax_exact for c in totals.coupons), Fraction(0))
    )
    if lines:
        totals.package = _shipping_package(state)
        rate = totals.package.selected_rate
        totals.shipping = rate.cost_cents if rate else 0
        totals.shipping_tax = shipping_tax(rate) if rate else 0
    line_tax = sum(t.total_tax for t in lines)
    totals.total_tax = line_tax + (totals.shipping_tax or 0)
    totals.total_price = totals.items - totals.discount + (totals.shipping or 0) + totals.total_tax
    return totals
