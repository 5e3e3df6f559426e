"""What clients send: strict msgspec Structs (unknown fields are refused)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

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
    product_id: Annotated[int, Meta(ge=1, le=2**31 - 1, description="Product or variation id")]
    quantity: Annotated[int, Meta(ge=1, le=9999)] = 1
    variation: Annotated[list[VariationIn], Meta(max_length=20)] = []


class SetQuantityIn(_Body):
    quantity: Annotated[int, Meta(ge=0, le=9999, description="0 removes the line")]


class CouponIn(_Body):
    code: Annotated[str, Meta(min_length=1, max_length=100)]


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
    rate_id: Annotated[str, Meta(min_length=1, max_length=100)]
    package_id: Annotated[int, Meta(ge=0)] | Annotated[str, Meta(max_length=100)] | None = None


class GuestSession(msgspec.Struct):
    token: str
    expires_at: int


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
