"""A lane turn's operations as CoCart requests, in order.

Adds, removals and customer updates leave one request each. Quantity sets that follow
each other, on distinct lines the cart holds and within their limits, leave together
as one ``cart/update`` (``namespace=update-cart``): CoCart applies that map without
checking stock or telling what it skipped, so a set it might refuse goes alone through
``cart/item/{key}``, where CoCart does check and says no. What CoCart free cannot do
(coupons, choosing a rate, a shipping address of its own) is refused without a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...carts import operations as ops
from ...carts.errors import Conflict, not_supported
from ...carts.model import ADDRESS_FIELDS, Cart, Item
from ...carts.ports.upstream_errors import UpstreamRefused

_BILLING_FIELDS = (*ADDRESS_FIELDS, "email")


@dataclass(slots=True)
class Request:
    """One CoCart request (``path`` None: nothing to send) for ``operations``, or their
    refusal without a request."""

    operations: list[ops.Operation]
    method: str = "POST"
    path: str | None = None
    body: dict[str, Any] | None = None
    refused: UpstreamRefused | None = None
    keys: set[str] = field(default_factory=set)


def attribute_field(name: str) -> str:
    """``pa_color`` → ``attribute_pa_color``; a custom attribute's name → its field."""
    if name.startswith("attribute_"):
        return name
    return "attribute_" + name.strip().lower().replace(" ", "-")


def _single(op: ops.Operation) -> Request:
    match op:
        case ops.AddItem(product_id, quantity, variation):
            body: dict[str, Any] = {"id": str(product_id), "quantity": str(quantity)}
            if variation:
                body["variation"] = {attribute_field(v.attribute): v.value for v in variation}
            return Request([op], path="/cart/add-item", body=body)
        case ops.SetQuantity(key, quantity):
            return Request([op], path=f"/cart/item/{key}", body={"quantity": str(quantity)})
        case ops.RemoveItem(key):
            return Request([op], method="DELETE", path=f"/cart/item/{key}")
        case ops.UpdateCustomer(billing, shipping):
            return _customer(op, billing or {}, shipping or {})
        case ops.ApplyCoupon() | ops.RemoveCoupon():
            return Request([op], refused=UpstreamRefused(not_supported("coupons", "code")))
        case ops.SelectShippingRate():
            return Request(
                [op], refused=UpstreamRefused(not_supported("shipping_rates", "rate_id"))
            )
    raise TypeError(f"unknown operation {op!r}")


def _customer(op: ops.Operation, billing: dict[str, str], shipping: dict[str, str]) -> Request:
    """CoCart free keeps the billing address only (its shipping fields come back blank,
    and the store copies country and state from billing): a shipping address that
    differs from billing cannot be kept, so it is refused rather than dropped."""
    differs = [name for name, value in shipping.items() if billing.get(name, "") != value]
    if differs:
        return Request(
            [op],
            refused=UpstreamRefused(
                Conflict(
                    "shipping_address_not_supported",
                    "This shop's store keeps only the billing address; send a shipping "
                    "address equal to it, or none.",
                    field="shipping_address",
                )
            ),
        )
    fields = {name: value for name, value in billing.items() if name in _BILLING_FIELDS}
    if not fields:
        return Request([op])  # nothing CoCart would change
    return Request([op], path="/cart/update", body={"namespace": "update-customer", **fields})


def _settable(op: ops.Operation, lines: dict[str, Item]) -> bool:
    if not isinstance(op, ops.SetQuantity):
        return False
    line = lines.get(op.key)
    return line is not None and line.limits.editable and 1 <= op.quantity <= line.limits.max


def plan_requests(operations: Sequence[ops.Operation], current: Cart | None) -> list[Request]:
    lines = {item.key: item for item in current.items} if current is not None else {}
    requests: list[Request] = []
    for op in operations:
        last = requests[-1] if requests else None
        if _settable(op, lines):
            assert isinstance(op, ops.SetQuantity)
            if last is not None and last.keys and op.key not in last.keys:
                last.operations.append(op)
                last.keys.add(op.key)
                continue
            requests.append(Request([op], keys={op.key}))
            continue
        requests.append(_single(op))
    return [_finished(request) for request in requests]


def _finished(request: Request) -> Request:
    """A group of quantity sets: one alone goes to its line's route; several, together."""
    if not request.keys:
        return request
    if len(request.operations) == 1:
        return _single(request.operations[0])
    quantities = {
        op.key: str(op.quantity) for op in request.operations if isinstance(op, ops.SetQuantity)
    }
    return Request(
        request.operations,
        path="/cart/update",
        body={"namespace": "update-cart", "quantity": quantities},
        keys=request.keys,
    )
