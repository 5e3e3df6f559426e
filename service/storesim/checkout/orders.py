"""The store's orders table (``wp_posts`` of type ``shop_order``): drafts and placed orders.

Orders are store data, not session data: a request writes them at once, while the
session it read is saved only when it ends. So two overlapping checkouts of one cart
each find the cart full and each place an order, as on the real store. Ids come from one
counter for drafts and orders (the first after the recorded catalogue's posts, 24), as
do line-item ids (from 1).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import catalog
from ..cart import CartState, display_name
from ..catalog import Product
from ..totals import Totals

FIRST_ORDER_ID = 24
_KEY_CHARS = string.ascii_letters + string.digits
# Statuses an order can be paid in (``woocommerce_valid_order_statuses_for_payment``;
# the Store API adds its drafts).
PAYABLE = ("pending", "failed", "checkout-draft")


def order_key() -> str:
    """``wc_generate_order_key``: ``wc_order_`` and 13 letters and digits."""
    return "wc_order_" + "".join(secrets.choice(_KEY_CHARS) for _ in range(13))


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A ``line_item``: a product, its quantity and its totals frozen in cents."""

    item_id: int
    product_id: int
    quantity: int
    subtotal: int
    subtotal_tax: int
    total: int
    total_tax: int

    @property
    def product(self) -> Product:
        return catalog.PRODUCTS[self.product_id]


@dataclass(frozen=True, slots=True)
class OrderCoupon:
    code: str
    discount_type: str
    discount: int
    discount_tax: int


@dataclass(slots=True)
class Order:
    """One order; a draft (``checkout-draft``) follows its cart until it is placed."""

    id: int
    key: str
    created_at: float
    session: str  # the Cart-Token user whose cart made it
    status: str = "checkout-draft"
    lines: list[OrderLine] = field(default_factory=list)
    coupons: list[OrderCoupon] = field(default_factory=list)
    shipping_rate: str | None = None
    shipping: int = 0
    shipping_tax: int = 0
    taxable: bool = True
    billing: dict[str, str] = field(default_factory=dict)
    shipping_address: dict[str, str] = field(default_factory=dict)
    payment_method: str = ""
    customer_note: str = ""
    stock_reduced: bool = False
    _copied: tuple[tuple[str, int, int], ...] = ()  # the cart lines last copied

    # -- totals (cents) -------------------------------------------------------------
    @property
    def subtotal(self) -> int:
        return sum(line.subtotal for line in self.lines)

    @property
    def items_total(self) -> int:
        return sum(line.total for line in self.lines)

    @property
    def items_tax(self) -> int:
        return sum(line.total_tax for line in self.lines)

    @property
    def discount(self) -> int:
        return sum(c.discount for c in self.coupons)

    @property
    def discount_tax(self) -> int:
        return sum(c.discount_tax for c in self.coupons)

    @property
    def total_tax(self) -> int:
        return self.items_tax + self.shipping_tax

    @property
    def total(self) -> int:
        return self.items_total + self.shipping + self.total_tax

    @property
    def needs_payment(self) -> bool:
        return self.status in PAYABLE and self.total > 0

    # -- changes ----------------------------------------------------------------------
    def fill_from_cart(
        self, state: CartState, totals: Totals, next_item_id: Callable[[], int]
    ) -> None:
        """``OrderController::update_order_from_cart``: lines, coupons, shipping, totals
        and addresses as the cart has them now (line items are made again when the
        cart's lines changed)."""
        copied = tuple((t.line.key, t.line.product_id, t.line.quantity) for t in totals.lines)
        if copied == self._copied:
            ids = [line.item_id for line in self.lines]
        else:
            ids = [next_item_id() for _ in totals.lines]
        self.lines = [
            OrderLine(
                item_id,
                t.line.product_id,
                t.line.quantity,
                t.subtotal,
                t.subtotal_tax,
                t.total,
                t.total_tax,
            )
            for item_id, t in zip(ids, totals.lines, strict=True)
        ]
        self._copied = copied
        self.coupons = [
            OrderCoupon(c.code, c.discount_type, c.discount, c.discount_tax) for c in totals.coupons
        ]
        rate = totals.package.selected_rate if totals.package else None
        self.shipping_rate = rate.rate_id if rate else None
        self.shipping = totals.shipping or 0
        self.shipping_tax = totals.shipping_tax or 0
        self.taxable = bool(state.shipping.get("country"))
        self.billing = dict(state.billing)
        self.shipping_address = dict(state.shipping)

    def reduce_stock(self, levels: dict[int, int]) -> None:
        """``wc_reduce_stock_levels``, once per order, for products that manage stock."""
        if self.stock_reduced:
            return
        for line in self.lines:
            product = line.product
            if product.stock is not None:
                levels[product.id] = levels.get(product.id, product.stock) - line.quantity
        self.stock_reduced = True

    # -- the control plane's view ---------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_key": self.key,
            "status": self.status,
            "created_at": self.created_at,
            "session": self.session,
            "total": str(self.total),
            "subtotal": str(self.subtotal),
            "discount_total": str(self.discount),
            "shipping_total": str(self.shipping),
            "tax_total": str(self.items_tax),
            "shipping_tax": str(self.shipping_tax),
            "payment_method": self.payment_method,
            "billing_email": self.billing.get("email", ""),
            "customer_note": self.customer_note,
            "shipping_rate": self.shipping_rate,
            "coupons": [c.code for c in self.coupons],
            "lines": [
                {
                    "product_id": line.product_id,
                    "name": display_name(line.product),
                    "quantity": line.quantity,
                    "total": str(line.total),
                }
                for line in self.lines
            ],
        }


class OrderBook:
    """Every order the store holds, by id."""

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self._next_id = FIRST_ORDER_ID
        self._next_item = 1

    def create(self, session: str, now: float) -> Order:
        order = Order(self._next_id, order_key(), now, session)
        self.orders[order.id] = order
        self._next_id += 1
        return order

    def next_item_id(self) -> int:
        item_id = self._next_item
        self._next_item += 1
        return item_id

    def get(self, order_id: int | None) -> Order | None:
        return self.orders.get(order_id) if order_id is not None else None

    def describe(self, status: str | None = None) -> list[dict[str, Any]]:
        return [o.describe() for o in self.orders.values() if status in (None, o.status)]
