"""The mobile cart: small, typed, money as integers in minor units, currency given once.

These Structs are what every client reads (and what snapshots store, encoded once).
Schema evolution: new fields get defaults, types never change; a breaking change
gets a new key prefix for stored snapshots (``state/keys.py``).
"""

from __future__ import annotations

import msgspec


class _Out(msgspec.Struct, kw_only=True):
    """Base of what we send: fields in declaration order, nothing omitted."""


class _Sparse(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of parts where an absent field means empty: ``""``, ``null`` or ``[]``."""


class Currency(_Out):
    code: str
    minor_unit: int
    symbol: str
    prefix: str
    suffix: str


class QuantityLimits(_Out):
    min: int
    max: int
    step: int
    editable: bool


class Attribute(_Out):
    name: str
    value: str


class Item(_Sparse):
    key: str
    product_id: int
    name: str
    sku: str
    quantity: int
    limits: QuantityLimits
    unit_price: int
    regular_price: int
    subtotal: int
    total: int
    tax: int
    variation_id: int | None = None
    image: str | None = None
    attributes: list[Attribute] = []


class Coupon(_Out):
    code: str
    type: str
    discount: int
    discount_tax: int


class Fee(_Out):
    key: str
    name: str
    total: int
    tax: int


class Rate(_Out):
    id: str  # method:instance, e.g. flat_rate:1
    name: str
    price: int
    tax: int


class Package(_Sparse):
    id: int | str
    name: str
    rates: list[Rate]
    selected_rate: str | None = None
    items: list[str] = []  # line keys, given only when the cart ships in several packages


class Totals(_Out):
    subtotal: int
    subtotal_tax: int
    discount: int
    discount_tax: int
    shipping: int | None
    shipping_tax: int | None
    fees: int
    fees_tax: int
    tax: int
    total: int


class Address(_Sparse):
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    phone: str = ""
    email: str | None = None


# The address's fields as both stores name them, in order; the email is billing's alone.
ADDRESS_FIELDS: tuple[str, ...] = tuple(f for f in Address.__struct_fields__ if f != "email")


class CartError(_Out):
    code: str
    message: str


class Cart(_Out):
    """The caller's cart. ``version`` is ``<epoch>.<n>``, the ETag without quotes;
    ``stale`` is last so a stale copy can be served without re-encoding."""

    id: str
    version: str
    currency: Currency
    items: list[Item]
    items_count: int
    items_weight: int
    coupons: list[Coupon]
    fees: list[Fee]
    shipping: list[Package]
    totals: Totals
    billing_address: Address
    shipping_address: Address
    needs_shipping: bool
    needs_payment: bool
    errors: list[CartError]
    stale: bool = False


class ProductImage(_Out):
    url: str
    alt: str


class ProductVariation(_Out):
    id: int
    attributes: list[Attribute]


class ProductAttribute(_Out):
    name: str
    taxonomy: str | None
    values: list[Attribute]  # name = display name, value = the slug to send


class Product(_Out):
    id: int
    name: str
    slug: str
    type: str
    parent_id: int
    sku: str
    price: int
    regular_price: int
    on_sale: bool
    in_stock: bool
    purchasable: bool
    sold_individually: bool
    limits: QuantityLimits
    image: str | None
    short_description: str
    attributes: list[ProductAttribute]
    variations: list[ProductVariation]


class ProductPage(_Out):
    currency: Currency | None
    items: list[Product]
    page: int
    per_page: int
    total: int
    total_pages: int


class OrderLine(_Out):
    product_id: int  # the purchasable (a variation's own id), as in the cart
    name: str
    sku: str
    quantity: int
    subtotal: int  # before discounts, without tax
    total: int  # after discounts, without tax
    tax: int


class OrderTotals(_Out):
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int


class Payment(_Out):
    method: str
    status: str  # the gateway's word: "success", "pending", "failure", "" (not yet)
    redirect_url: str | None  # where the shopper goes next, when the gateway needs it


class Order(_Out):
    """An order placed through cartsync, compact: what an app shows after "pay"."""

    id: int
    number: str
    status: str  # the store's: on-hold, pending, processing, completed, ...
    currency: Currency
    lines: list[OrderLine]
    totals: OrderTotals
    payment: Payment
    warnings: list[CartError]  # e.g. a line the store placed with less than was asked


def with_products(order: Order, products: dict[str, int], method: str) -> Order:
    """The order with its lines' product ids (the store's order names lines by SKU
    and its own line ids) and its payment method (the store's order omits it)."""
    lines = [
        msgspec.structs.replace(line, product_id=products.get(line.sku, line.product_id))
        for line in order.lines
    ]
    payment = order.payment
    if not payment.method:
        payment = msgspec.structs.replace(payment, method=method)
    return msgspec.structs.replace(order, lines=lines, payment=payment)


class OrderList(_Out):
    items: list[Order]


CART_ENCODER = msgspec.json.Encoder()
STALE_FALSE = b'"stale":false}'
STALE_TRUE = b'"stale":true}'


def mark_stale(body: bytes) -> bytes:
    """The same encoded cart with ``stale: true`` (``stale`` is its last field)."""
    if body.endswith(STALE_FALSE):
        return body[: -len(STALE_FALSE)] + STALE_TRUE
    return body


def unmark_stale(body: bytes) -> bytes:
    if body.endswith(STALE_TRUE):
        return body[: -len(STALE_TRUE)] + STALE_FALSE
    return body
