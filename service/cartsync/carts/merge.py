"""Merging a guest's cart into a user's cart (on login), as a plan of operations.

WooCommerce does not merge carts when a user logs in with a token (woocommerce#55653),
so cartsync does: the guest's lines, coupons and addresses go into the user's cart
through the user's lane, under a policy:

- ``sum``: quantities add up, capped by the line's limits (the default);
- ``max``: the larger of the two quantities;
- ``replace``: the guest's quantity wins where both carts hold a line.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import operations as ops
from .model import Address, Cart, Item

POLICIES = ("sum", "max", "replace")


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """One guest line and the operation that brings it into the user's cart."""

    guest: Item
    operation: ops.Operation | None  # None: nothing to do (already there)


def _same_line(a: Item, b: Item) -> bool:
    return a.product_id == b.product_id and [(x.name, x.value) for x in a.attributes] == [
        (x.name, x.value) for x in b.attributes
    ]


def _address_fields(address: Address) -> dict[str, str]:
    fields = {name: getattr(address, name) for name in address.__struct_fields__}
    return {k: v for k, v in fields.items() if isinstance(v, str) and v}


def plan(user: Cart, guest: Cart, policy: str) -> tuple[list[PlannedLine], list[ops.Operation]]:
    """Operations (lines first, then coupons and addresses) that merge ``guest`` into
    ``user``. Lines are returned with the guest line they come from, for the report."""
    lines: list[PlannedLine] = []
    for item in guest.items:
        mine = next((i for i in user.items if _same_line(i, item)), None)
        if mine is None:
            lines.append(
                PlannedLine(item, ops.AddItem(item.product_id, min(item.quantity, item.limits.max)))
            )
            continue
        if policy == "sum":
            target = min(mine.quantity + item.quantity, mine.limits.max)
        elif policy == "max":
            target = max(mine.quantity, item.quantity)
        else:
            target = min(item.quantity, mine.limits.max)
        change = target != mine.quantity and mine.limits.editable
        lines.append(PlannedLine(item, ops.SetQuantity(mine.key, target) if change else None))
    extra: list[ops.Operation] = []
    have = {c.code for c in user.coupons}
    extra += [ops.ApplyCoupon(c.code) for c in guest.coupons if c.code not in have]
    billing = _address_fields(guest.billing_address)
    shipping = _address_fields(guest.shipping_address)
    user_has_billing = bool(user.billing_address.address_1 or user.billing_address.first_name)
    user_has_shipping = bool(user.shipping_address.address_1 or user.shipping_address.first_name)
    customer = ops.UpdateCustomer(
        billing if billing.get("address_1") and not user_has_billing else None,
        shipping if shipping.get("address_1") and not user_has_shipping else None,
    )
    if customer.billing or customer.shipping:
        extra.append(customer)
    return lines, extra
