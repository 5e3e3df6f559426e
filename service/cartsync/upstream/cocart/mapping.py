"""CoCart v2 JSON → the mobile cart and compact products (the same shapes as for the
Store API: a client cannot tell which store is behind cartsync).

Decoded leniently: only the fields used are declared. CoCart's money is mixed (cart
totals are cent strings, an empty cart's totals integer zeros; item totals floats in
major units beside a cent string), its weight is in the store's unit (kg), its
shipping rates an object keyed by rate id: all of it is normalised here.
"""

from __future__ import annotations

import html
import math
from typing import Any

import msgspec

from ...carts import model
from .._text import plain_text
from . import php

UNLIMITED = 9999  # what the Store API shows for "no maximum"; CoCart says -1


class _In(msgspec.Struct, kw_only=True):
    """Lenient base for upstream payloads."""


class CurrencyIn(_In):
    currency_code: str = "USD"
    currency_minor_unit: int = 2
    currency_symbol: str = "$"
    currency_prefix: str = ""
    currency_suffix: str = ""


class _Quantity(_In):
    value: int = 0
    min_purchase: int = 1
    max_purchase: int = -1


class _ItemMeta(_In):
    product_type: str = "simple"
    sku: str = ""
    variation: dict[str, str] | list[Any] = msgspec.field(default_factory=list)


class _Item(_In):
    item_key: str
    id: int
    name: str = ""
    title: str = ""
    price: str | int | float = "0"
    quantity: _Quantity = msgspec.field(default_factory=_Quantity)
    totals: dict[str, str | int | float] = msgspec.field(default_factory=dict)
    meta: _ItemMeta = msgspec.field(default_factory=_ItemMeta)
    featured_image: str | bool | None = None


class _Rate(_In):
    key: str = ""
    label: str = ""
    cost: str | int | float = "0"
    taxes: str | int | float = ""
    chosen_method: bool = False


class _Package(_In):
    package_name: str = ""
    rates: dict[str, _Rate] | list[Any] = msgspec.field(default_factory=dict)
    chosen_method: str | bool | None = None
    index: int = 0


class _Shipping(_In):
    packages: dict[str, _Package] | list[Any] = msgspec.field(default_factory=dict)


class _Customer(_In):
    billing_address: dict[str, str | None] = msgspec.field(default_factory=dict)
    shipping_address: dict[str, str | None] = msgspec.field(default_factory=dict)


class CoCartCart(_In):
    cart_key: str = ""
    currency: CurrencyIn = msgspec.field(default_factory=CurrencyIn)
    customer: _Customer = msgspec.field(default_factory=_Customer)
    items: list[_Item] = msgspec.field(default_factory=list)
    item_count: int = 0
    items_weight: str | int | float = 0
    coupons: list[Any] | dict[str, Any] = msgspec.field(default_factory=list)
    needs_payment: bool = False
    needs_shipping: bool = False
    shipping: _Shipping | list[Any] = msgspec.field(default_factory=_Shipping)
    fees: list[Any] | dict[str, Any] = msgspec.field(default_factory=list)
    totals: dict[str, str | int | float] = msgspec.field(default_factory=dict)
    notices: dict[str, list[str]] | list[Any] = msgspec.field(default_factory=list)


def cart_of(body: bytes) -> CoCartCart:
    return php.decode(body, CoCartCart)


def cents(value: str | int | float | None) -> int:
    """A cent amount as CoCart writes cart totals: a string of minor units (or 0)."""
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        return int(float(value))
    return int(value)


def minor(value: str | int | float | None, minor_unit: int) -> int:
    """An item total in major units (a float or an int), as minor units."""
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        return int(float(value))  # a string is already minor units
    return math.floor(float(value) * float(10**minor_unit) + 0.5)


def _grams(weight: str | int | float) -> int:
    try:
        return math.floor(float(weight or 0) * 1000 + 0.5)
    except ValueError:
        return 0


def currency(c: CurrencyIn) -> model.Currency:
    return model.Currency(
        code=c.currency_code,
        minor_unit=c.currency_minor_unit,
        symbol=html.unescape(c.currency_symbol),
        prefix=html.unescape(c.currency_prefix),
        suffix=html.unescape(c.currency_suffix),
    )


def _address(raw: dict[str, str | None], prefix: str, with_email: bool) -> model.Address:
    values = {name: raw.get(prefix + name) or "" for name in model.ADDRESS_FIELDS}
    email = raw.get(prefix + "email") if with_email else None
    return model.Address(**values, email=email)


def _limits(q: _Quantity) -> model.QuantityLimits:
    most = q.max_purchase if q.max_purchase > 0 else UNLIMITED
    return model.QuantityLimits(
        min=max(q.min_purchase, 1), max=most, step=1, editable=not (most == 1 == q.min_purchase)
    )


def _item(i: _Item, minor_unit: int) -> model.Item:
    variation = i.meta.variation if isinstance(i.meta.variation, dict) else {}
    image = i.featured_image if isinstance(i.featured_image, str) and i.featured_image else None
    is_variation = i.meta.product_type == "variation"
    return model.Item(
        key=i.item_key,
        product_id=i.id,
        variation_id=i.id if is_variation else None,
        name=plain_text(i.title or i.name),
        sku=i.meta.sku,
        quantity=i.quantity.value,
        limits=_limits(i.quantity),
        unit_price=cents(i.price),
        regular_price=cents(i.price),
        subtotal=cents(i.totals.get("subtotal")),
        total=minor(i.totals.get("total"), minor_unit),
        tax=minor(i.totals.get("tax"), minor_unit),
        image=image,
        attributes=[
            model.Attribute(name=plain_text(name), value=plain_text(str(value)))
            for name, value in variation.items()
        ],
    )


def _packages(shipping: _Shipping | list[Any]) -> list[model.Package]:
    if not isinstance(shipping, _Shipping) or not isinstance(shipping.packages, dict):
        return []
    packages = []
    for package in shipping.packages.values():
        rates = package.rates if isinstance(package.rates, dict) else {}
        chosen = package.chosen_method if isinstance(package.chosen_method, str) else None
        selected = chosen or next((k for k, r in rates.items() if r.chosen_method), None)
        packages.append(
            model.Package(
                id=package.index,
                name=plain_text(package.package_name),
                rates=[
                    model.Rate(
                        id=rate.key or key,
                        name=plain_text(rate.label),
                        price=cents(rate.cost),
                        tax=cents(rate.taxes),
                    )
                    for key, rate in rates.items()
                ],
                selected_rate=selected,
            )
        )
    return packages


def _errors(notices: dict[str, list[str]] | list[Any]) -> list[model.CartError]:
    """Error notices only: success notices are delivered once and would make every
    answer a new version of the same cart."""
    if not isinstance(notices, dict):
        return []
    return [
        model.CartError(code="store_notice", message=plain_text(str(message)))
        for message in notices.get("error", [])
    ]


def to_cart(store: CoCartCart) -> model.Cart:
    """The mobile cart for a CoCart cart; id and version are set by the cart service."""
    t = store.totals
    unit = store.currency.currency_minor_unit
    shipping = _packages(store.shipping)
    return model.Cart(
        id="",
        version="",
        currency=currency(store.currency),
        items=[_item(i, unit) for i in store.items],
        items_count=store.item_count,
        items_weight=_grams(store.items_weight),
        coupons=[],
        fees=[],
        shipping=shipping,
        totals=model.Totals(
            subtotal=cents(t.get("subtotal")),
            subtotal_tax=cents(t.get("subtotal_tax")),
            discount=cents(t.get("discount_total")),
            discount_tax=cents(t.get("discount_tax")),
            shipping=cents(t.get("shipping_total")) if store.needs_shipping else None,
            shipping_tax=cents(t.get("shipping_tax")) if store.needs_shipping else None,
            fees=cents(t.get("fee_total")),
            fees_tax=cents(t.get("fee_tax")),
            tax=cents(t.get("total_tax")),
            total=cents(t.get("total")),
        ),
        billing_address=_address(store.customer.billing_address, "billing_", True),
        shipping_address=_address(store.customer.shipping_address, "shipping_", False),
        needs_shipping=store.needs_shipping,
        needs_payment=store.needs_payment,
        errors=_errors(store.notices),
    )
