"""The checkout's JSON: ``CheckoutSchema`` (the draft and the placed order, as ``/checkout``
answers) and ``OrderSchema`` (``GET /order/{id}``), as the recordings show them.

``GET /order/{id}`` repeats two WooCommerce quirks: every item's ``key`` is the order key
and its ``id`` the line-item id (not the product's), and ``total_items`` is after
discounts; its ``tax_lines`` hold the items' tax only.
"""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..cart import Line, display_name
from ..inventory import Inventory
from ..money import with_currency
from ..profiles import WooProfile
from ..render import Renderer
from ..totals import LineTotals
from .orders import Order

EMPTY_PAYMENT = {"payment_status": "", "payment_details": [], "redirect_url": ""}


def order_received_url(site: str, order: Order) -> str:
    return f"{site}/checkout/order-received/{order.id}/?key={order.key}"


def payment_success(site: str, order: Order) -> dict[str, Any]:
    """The ``payment_result`` of a bacs or cheque payment: on to the order-received page."""
    url = order_received_url(site, order)
    return {
        "payment_status": "success",
        "payment_details": [
            {"key": "result", "value": "success"},
            {"key": "redirect", "value": url},
        ],
        "redirect_url": url,
    }


def checkout_body(
    order: Order,
    profile: WooProfile,
    payment_result: dict[str, Any] | None,
    cart: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``/checkout`` answers: the draft (GET, PUT, PATCH) or the placed order (POST)."""
    body: dict[str, Any] = {
        "order_id": order.id,
        "status": order.status,
        "order_key": order.key,
        "order_number": str(order.id),
        "customer_note": order.customer_note,
        "customer_id": 0,
        "billing_address": dict(order.billing),
        "shipping_address": dict(order.shipping_address),
        "payment_method": order.payment_method,
        "payment_result": payment_result,
        "additional_fields": {} if profile.additional_fields_object else [],
    }
    if profile.experimental_cart:
        body["__experimentalCart"] = cart
    body["extensions"] = {}
    return body


def _item(
    renderer: Renderer, order: Order, index: int, site: str, inventory: Inventory
) -> dict[str, Any]:
    line = order.lines[index]
    totals = LineTotals(
        Line(order.key, line.product_id, line.quantity, line.product.attributes),
        line.subtotal,
        line.subtotal_tax,
        line.total,
        line.total_tax,
    )
    item = renderer.item(totals, site, inventory)
    item.pop("type")
    item.pop("extensions")
    item["id"] = line.item_id
    item["name"] = display_name(line.product)
    item["quantity_limits"] = {
        "minimum": line.quantity,
        "maximum": line.quantity,
        "multiple_of": 1,
        "editable": False,
    }
    return item


def order_body(
    order: Order, profile: WooProfile, renderer: Renderer, site: str, inventory: Inventory
) -> dict[str, Any]:
    """``GET /order/{id}``."""
    tax_lines = (
        [
            {
                "name": profile.order_tax_label,
                "price": str(order.items_tax),
                "rate": catalog.TAX_RATE_LABEL.rstrip("%"),
            }
        ]
        if order.lines and order.taxable
        else []
    )
    totals = with_currency(
        {
            "subtotal": str(order.subtotal),
            "total_discount": str(order.discount),
            "total_shipping": str(order.shipping),
            "total_fees": "0",
            "total_tax": str(order.total_tax),
            "total_refund": "0",
            "total_price": str(order.total),
            "total_items": str(order.items_total),
            "total_items_tax": str(order.items_tax),
            "total_fees_tax": "0",
            "total_discount_tax": str(order.discount_tax),
            "total_shipping_tax": str(order.shipping_tax),
            "tax_lines": tax_lines,
        }
    )
    coupons = [
        {
            "code": c.code,
            "discount_type": c.discount_type,
            "totals": with_currency(
                {"total_discount": str(c.discount), "total_discount_tax": str(c.discount_tax)}
            ),
        }
        for c in order.coupons
    ]
    return {
        "id": order.id,
        "status": order.status,
        "items": [_item(renderer, order, i, site, inventory) for i in range(len(order.lines))],
        "coupons": coupons,
        "fees": [],
        "totals": totals,
        "shipping_address": dict(order.shipping_address),
        "billing_address": dict(order.billing),
        "needs_payment": order.needs_payment,
        "needs_shipping": bool(order.lines),
        "payment_requirements": ["products"],
        "errors": [],
    }
