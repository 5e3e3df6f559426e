"""The Store API's checkout, as wire schemas and mappings: the draft order, placing it,
and reading an order back.

``GET /checkout`` answers the cart's draft order (``order_id``, ``order_key``, status
``checkout-draft``); ``POST /checkout`` places that very order; ``GET /order/{id}``
with ``key`` and ``billing_email`` reads it (the email is not checked in the first ten
minutes). Addresses a checkout does not name are the cart's own.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...carts import model
from ...carts.operations import Checkout
from ...carts.ports.upstream import OrderRef, Placement
from .._text import plain_text
from .mapping import money


class _In(msgspec.Struct, kw_only=True):
    pass


class _PaymentResult(_In):
    payment_status: str = ""
    redirect_url: str = ""


class DraftAnswer(_In):
    """``GET /checkout`` and ``POST /checkout``."""

    order_id: int
    order_key: str = ""
    order_number: str = ""
    status: str = ""
    payment_method: str = ""
    payment_result: _PaymentResult = msgspec.field(default_factory=_PaymentResult)


class _Prices(_In):
    currency_code: str = "USD"
    currency_minor_unit: int = 2
    currency_symbol: str = "$"
    currency_prefix: str = ""
    currency_suffix: str = ""


class _LineTotals(_In):
    line_subtotal: str = "0"
    line_total: str = "0"
    line_total_tax: str = "0"


class _Line(_In):
    name: str = ""
    sku: str = ""
    quantity: int = 0
    totals: _LineTotals = msgspec.field(default_factory=_LineTotals)


class _Totals(_Prices):
    subtotal: str = "0"
    total_discount: str = "0"
    total_shipping: str | None = "0"
    total_tax: str = "0"
    total_price: str = "0"


class OrderAnswer(_In):
    """``GET /order/{id}``."""

    id: int
    status: str = ""
    items: list[_Line] = msgspec.field(default_factory=list)
    totals: _Totals = msgspec.field(default_factory=_Totals)
    payment_method: str = ""


DRAFT_DECODER = msgspec.json.Decoder(DraftAnswer)
ORDER_DECODER = msgspec.json.Decoder(OrderAnswer)


def _address(fields: dict[str, str] | None, cart: model.Address, email: bool) -> dict[str, str]:
    """The address to send: the cart's, with the fields the checkout names over it."""
    values = {name: getattr(cart, name) for name in model.ADDRESS_FIELDS}
    if email and cart.email:
        values["email"] = cart.email
    return {**values, **(fields or {})}


def checkout_body(checkout: Checkout, cart: model.Cart) -> dict[str, Any]:
    billing = _address(checkout.billing, cart.billing_address, email=True)
    if checkout.shipping or cart.shipping_address.address_1:
        shipping = _address(checkout.shipping, cart.shipping_address, email=False)
    else:
        # No shipping address anywhere: ship to the billing one (what the store itself
        # does when a checkout names none; WooCommerce 9.9 refuses a blank one).
        shipping = {name: value for name, value in billing.items() if name != "email"}
    body: dict[str, Any] = {
        "billing_address": billing,
        "shipping_address": shipping,
        "payment_method": checkout.payment_method,
    }
    if checkout.payment_data:
        body["payment_data"] = [{"key": k, "value": v} for k, v in checkout.payment_data]
    if checkout.customer_note:
        body["customer_note"] = checkout.customer_note
    return body


def _redirect(result: _PaymentResult) -> str | None:
    """Where the shopper must go next, if anywhere. A paid order's redirect is the
    store's order-received page, whose URL carries the order key (a secret of the
    owner's that stays server side): nothing the shopper needs, so not passed on."""
    url = result.redirect_url or None
    if url and result.payment_status == "success" and "order-received" in url:
        return None
    return url


def placement(answer: DraftAnswer, email: str) -> Placement:
    result = answer.payment_result
    return Placement(
        ref=OrderRef(answer.order_id, answer.order_key, email),
        number=answer.order_number or str(answer.order_id),
        status=answer.status,
        payment=model.Payment(
            method=answer.payment_method,
            status=result.payment_status,
            redirect_url=_redirect(result),
        ),
    )


def to_order(answer: OrderAnswer, number: str = "") -> model.Order:
    t = answer.totals
    return model.Order(
        id=answer.id,
        number=number or str(answer.id),
        status=answer.status,
        currency=model.Currency(
            code=t.currency_code,
            minor_unit=t.currency_minor_unit,
            symbol=plain_text(t.currency_symbol),
            prefix=plain_text(t.currency_prefix),
            suffix=plain_text(t.currency_suffix),
        ),
        lines=[
            model.OrderLine(
                product_id=0,  # the order names its lines by SKU (``with_products``)
                name=plain_text(line.name),
                sku=line.sku,
                quantity=line.quantity,
                subtotal=money(line.totals.line_subtotal),
                total=money(line.totals.line_total),
                tax=money(line.totals.line_total_tax),
            )
            for line in answer.items
        ],
        totals=model.OrderTotals(
            subtotal=money(t.subtotal),
            discount=money(t.total_discount),
            shipping=money(t.total_shipping),
            tax=money(t.total_tax),
            total=money(t.total_price),
        ),
        payment=model.Payment(method=answer.payment_method, status="", redirect_url=None),
        warnings=[],
    )
