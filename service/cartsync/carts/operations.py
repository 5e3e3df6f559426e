"""Cart mutations, as values: what a client asked for, independent of any store API.

They are msgspec Structs (tagged) because they travel: a replica queues them in Redis
for whichever replica holds the cart's lease.
"""

from __future__ import annotations

import msgspec


class _Op(msgspec.Struct, frozen=True, tag=True):
    pass


class VariationChoice(msgspec.Struct, frozen=True):
    attribute: str
    value: str


class AddItem(_Op, frozen=True, tag="add"):
    product_id: int
    quantity: int
    variation: tuple[VariationChoice, ...] = ()


class SetQuantity(_Op, frozen=True, tag="set_quantity"):
    key: str
    quantity: int


class RemoveItem(_Op, frozen=True, tag="remove"):
    key: str


class ApplyCoupon(_Op, frozen=True, tag="apply_coupon"):
    code: str


class RemoveCoupon(_Op, frozen=True, tag="remove_coupon"):
    code: str


class UpdateCustomer(_Op, frozen=True, tag="customer"):
    billing: dict[str, str] | None = None
    shipping: dict[str, str] | None = None


class SelectShippingRate(_Op, frozen=True, tag="shipping"):
    rate_id: str
    package_id: int | str | None = None


class Checkout(_Op, frozen=True, tag="checkout"):
    """Place the cart as an order (the store's native checkout). Addresses absent: the
    cart's own. It always has a lane turn to itself."""

    payment_method: str
    billing: dict[str, str] | None = None
    shipping: dict[str, str] | None = None
    payment_data: tuple[tuple[str, str], ...] = ()
    customer_note: str = ""


Operation = (
    AddItem
    | SetQuantity
    | RemoveItem
    | ApplyCoupon
    | RemoveCoupon
    | UpdateCustomer
    | SelectShippingRate
    | Checkout
)
