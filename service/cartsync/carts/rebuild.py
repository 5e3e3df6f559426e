"""Rebuilding a lost upstream cart from the last snapshot.

A Store API Cart-Token lives 48 h; an idle cart's token expires and the store then
answers with a new, empty cart (a new ``user_id``). cartsync still has the snapshot, so
it puts the cart back: customer first (so shipping rates exist), then lines, coupons and
the chosen shipping rates.
"""

from __future__ import annotations

from . import operations as ops
from .model import Address, Cart


def _fields(address: Address) -> dict[str, str] | None:
    values = {name: getattr(address, name) for name in address.__struct_fields__}
    present = {k: v for k, v in values.items() if isinstance(v, str) and v}
    return present or None


def restore_plan(cart: Cart) -> list[ops.Operation]:
    plan: list[ops.Operation] = []
    billing, shipping = _fields(cart.billing_address), _fields(cart.shipping_address)
    if billing or shipping:
        plan.append(ops.UpdateCustomer(billing, shipping))
    plan += [ops.AddItem(item.product_id, item.quantity) for item in cart.items]
    plan += [ops.ApplyCoupon(coupon.code) for coupon in cart.coupons]
    plan += [
        ops.SelectShippingRate(package.selected_rate, package.id)
        for package in cart.shipping
        if package.selected_rate
    ]
    return plan
