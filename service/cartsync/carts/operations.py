"""Cart mutations, as values: what a client asked for, independent of any store API."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class VariationChoice:
    attribute: str
    value: str


@dataclass(frozen=True, slots=True)
class AddItem:
    product_id: int
    quantity: int
    variation: tuple[VariationChoice, ...] = ()


@dataclass(frozen=True, slots=True)
class SetQuantity:
    key: str
    quantity: int


@dataclass(frozen=True, slots=True)
class RemoveItem:
    key: str


@dataclass(frozen=True, slots=True)
class ApplyCoupon:
    code: str


@dataclass(frozen=True, slots=True)
class RemoveCoupon:
    code: str


@dataclass(frozen=True, slots=True)
class UpdateCustomer:
    billing: dict[str, str] | None = None
    shipping: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class SelectShippingRate:
    rate_id: str
    package_id: int | str | None = field(default=None)


Operation = (
    AddItem
    | SetQuantity
    | RemoveItem
    | ApplyCoupon
    | RemoveCoupon
    | UpdateCustomer
    | SelectShippingRate
)
