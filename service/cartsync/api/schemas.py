"""What clients send: strict msgspec Structs (unknown fields are refused; ``body.py``
decodes them with ``strict=True``: no string is taken for a number).

Every integer has bounds a real store accepts, so nothing out of range reaches the
store or the lane's msgpack records (int64): ``MAX_ID`` for ids, ``MAX_QUANTITY`` for
quantities."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from ..carts import model
from ..carts.operations import (
    AddItem,
    ApplyCoupon,
    Operation,
    RemoveCoupon,
    RemoveItem,
    SelectShippingRate,
    SetQuantity,
    UpdateCustomer,
    VariationChoice,
)

MAX_ID = 2**53 - 1
"""Product, variation and package ids. WooCommerce's are BIGINT UNSIGNED; 2**53 - 1 is
the largest integer JSON carries exactly between implementations (I-JSON, RFC 7493)
and a JavaScript client can hold, far above any store's auto-increment."""
MAX_QUANTITY = 9999
"""The Store API's default maximum quantity of a line."""

ProductId = Annotated[
    int, Meta(ge=1, le=MAX_ID, description="Product or variation id", examples=[10])
]
Quantity = Annotated[int, Meta(ge=1, le=MAX_QUANTITY, examples=[2])]
NewQuantity = Annotated[int, Meta(ge=0, le=MAX_QUANTITY, description="0 removes the line")]
PackageId = Annotated[int, Meta(ge=0, le=MAX_ID)] | Annotated[str, Meta(max_length=100)]
Text100 = Annotated[str, Meta(max_length=100)]
Text200 = Annotated[str, Meta(max_length=200)]


class _Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class VariationIn(_Body):
    attribute: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=100,
            description="Attribute taxonomy (pa_color) or label (Color)",
        ),
    ]
    value: Annotated[str, Meta(min_length=1, max_length=200, description="Term slug")]


class AddItemIn(_Body):
    product_id: ProductId
    quantity: Quantity = 1
    variation: Annotated[list[VariationIn], Meta(max_length=20)] = []


class SetQuantityIn(_Body):
    quantity: NewQuantity


class CouponIn(_Body):
    code: Annotated[str, Meta(min_length=1, max_length=100, examples=["test"])]


class AddressIn(_Body):
    first_name: Text100 | None = None
    last_name: Text100 | None = None
    company: Text100 | None = None
    address_1: Text200 | None = None
    address_2: Text200 | None = None
    city: Text100 | None = None
    state: Text100 | None = None
    postcode: Annotated[str, Meta(max_length=20)] | None = None
    country: Annotated[str, Meta(min_length=2, max_length=2, pattern="^[A-Z]{2}$")] | None = None
    phone: Annotated[str, Meta(max_length=40)] | None = None
    email: Annotated[str, Meta(max_length=200)] | None = None


class CustomerIn(_Body):
    billing_address: AddressIn | None = None
    shipping_address: AddressIn | None = None


class ShippingIn(_Body):
    rate_id: Annotated[str, Meta(min_length=1, max_length=100, examples=["free_shipping:2"])]
    package_id: PackageId | None = None


class GuestSession(msgspec.Struct):
    token: str
    expires_at: int


class StreamToken(msgspec.Struct):
    token: str
    expires_at: int


class CheckoutLink(msgspec.Struct):
    url: str
    expires_at: int


class PaymentDatum(_Body):
    key: Annotated[str, Meta(min_length=1, max_length=100)]
    value: Annotated[str, Meta(max_length=2000)]


class CheckoutIn(_Body):
    """Place the cart as an order. Addresses absent (or fields absent): the cart's."""

    payment_method: Annotated[
        str, Meta(min_length=1, max_length=100, description="The store's id, e.g. bacs")
    ]
    billing_address: AddressIn | None = None
    shipping_address: AddressIn | None = None
    payment_data: Annotated[list[PaymentDatum], Meta(max_length=20)] = []
    customer_note: Annotated[str, Meta(max_length=2000)] = ""


class CheckoutOut(msgspec.Struct):
    order: model.Order
    cart: model.Cart


class MergeIn(_Body):
    guest_token: Annotated[str, Meta(min_length=10, max_length=4096)]


class MergeLineOut(msgspec.Struct):
    product_id: int
    name: str
    quantity: int
    status: str  # merged | unchanged | refused | pending
    error: dict[str, str | None] | None


class MergeReportOut(msgspec.Struct):
    policy: str
    lines: list[MergeLineOut]
    coupons: list[MergeLineOut]


class MergeOut(msgspec.Struct):
    merge: MergeReportOut
    cart: dict[str, object]


class ErrorBody(msgspec.Struct):
    """Every 4xx and 5xx answer."""

    code: str
    message: str
    field: str | None
    cart: dict[str, object] | None = None


def address_fields(address: AddressIn | None) -> dict[str, str] | None:
    """Only the fields the client sent: the store merges partial addresses."""
    if address is None:
        return None
    return {k: v for k, v in msgspec.structs.asdict(address).items() if v is not None}


OpId = Annotated[str, Meta(min_length=1, max_length=64, description="The client's id")]


class _OpIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="type"):
    op_id: OpId


class AddOp(_OpIn, tag="add"):
    product_id: ProductId
    quantity: Quantity = 1
    variation: Annotated[list[VariationIn], Meta(max_length=20)] = []


class SetQuantityOp(_OpIn, tag="set_quantity"):
    key: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    quantity: NewQuantity


class RemoveOp(_OpIn, tag="remove"):
    key: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class ApplyCouponOp(_OpIn, tag="apply_coupon"):
    code: Annotated[str, Meta(min_length=1, max_length=100)]


class RemoveCouponOp(_OpIn, tag="remove_coupon"):
    code: Annotated[str, Meta(min_length=1, max_length=100)]


class CustomerOp(_OpIn, tag="customer"):
    billing_address: AddressIn | None = None
    shipping_address: AddressIn | None = None


class ShippingOp(_OpIn, tag="shipping"):
    rate_id: Annotated[str, Meta(min_length=1, max_length=100)]
    package_id: PackageId | None = None


OpIn = AddOp | SetQuantityOp | RemoveOp | ApplyCouponOp | RemoveCouponOp | CustomerOp | ShippingOp


class OpsIn(_Body):
    operations: Annotated[list[OpIn], Meta(min_length=1, max_length=100)]


class OpError(msgspec.Struct):
    code: str
    message: str
    field: str | None


class OpOut(msgspec.Struct):
    op_id: str
    status: str  # applied | refused | precondition_failed | not_applied | pending
    error: OpError | None


class OpsOut(msgspec.Struct):
    results: list[OpOut]
    cart: dict[str, object]


def to_operation(op: OpIn) -> Operation:
    """The domain operation for one entry of ``POST /v1/cart/ops``."""
    match op:
        case AddOp():
            return AddItem(
                op.product_id,
                op.quantity,
                tuple(VariationChoice(v.attribute, v.value) for v in op.variation),
            )
        case SetQuantityOp():
            return RemoveItem(op.key) if op.quantity == 0 else SetQuantity(op.key, op.quantity)
        case RemoveOp():
            return RemoveItem(op.key)
        case ApplyCouponOp():
            return ApplyCoupon(op.code.strip().lower())
        case RemoveCouponOp():
            return RemoveCoupon(op.code.strip().lower())
        case CustomerOp():
            return UpdateCustomer(
                address_fields(op.billing_address), address_fields(op.shipping_address)
            )
        case ShippingOp():
            return SelectShippingRate(op.rate_id, op.package_id)
    raise TypeError(op)
