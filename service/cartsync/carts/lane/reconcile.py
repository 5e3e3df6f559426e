"""Which operations of a batch of unknown outcome did the store apply?

A Store API batch is one PHP request: the session is written once, at its end, so a
batch whose answer was lost applied either none of its operations or all of those the
store accepted. cartsync re-reads the cart: unchanged means nothing applied (resending
is safe: it cannot double an effect); changed means the batch ran, and each operation
is checked against the cart it should have produced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from .. import operations as ops
from ..model import Cart


def _quantity(cart: Cart, product_id: int) -> int:
    return sum(i.quantity for i in cart.items if i.product_id == product_id)


def _line_quantity(cart: Cart, key: str) -> int | None:
    return next((i.quantity for i in cart.items if i.key == key), None)


def applied(before: Cart, after: Cart, batch: Sequence[ops.Operation]) -> list[bool]:
    """For each operation of ``batch`` (in order), whether ``after`` shows it applied.

    Relative adds of one product are credited in order while the observed increase
    allows (the store refuses the later ones when stock runs out); operations on one
    line, coupon or address count as applied when the final state is the one the last
    of them asked for.
    """
    result = [False] * len(batch)
    add_budget: dict[int, int] = defaultdict(int)
    counted_adds = {
        op.product_id for op in batch if isinstance(op, ops.AddItem) and not op.variation
    }
    for product_id in counted_adds:
        add_budget[product_id] = _quantity(after, product_id) - _quantity(before, product_id)
    # Variation adds by attributes cannot be matched to a line before knowing its id:
    # they share what is left of the cart's item count.
    other_budget = after.items_count - before.items_count - sum(add_budget.values())
    last_target: dict[tuple[str, str], int] = {}
    for index, op in enumerate(batch):
        match op:
            case ops.SetQuantity(key=key) | ops.RemoveItem(key=key):
                last_target[("line", key)] = index
            case ops.ApplyCoupon(code=code) | ops.RemoveCoupon(code=code):
                last_target[("coupon", code)] = index
            case ops.UpdateCustomer():
                last_target[("customer", "")] = index
            case ops.SelectShippingRate():
                last_target[("shipping", "")] = index
    for index, op in enumerate(batch):
        match op:
            case ops.AddItem(product_id=product_id, quantity=quantity, variation=variation):
                if not variation:
                    if add_budget[product_id] >= quantity:
                        add_budget[product_id] -= quantity
                        result[index] = True
                elif other_budget >= quantity:
                    other_budget -= quantity
                    result[index] = True
            case ops.SetQuantity(key=key, quantity=quantity):
                last = batch[last_target[("line", key)]]
                final = _line_quantity(after, key)
                if isinstance(last, ops.SetQuantity):
                    result[index] = final == last.quantity
                else:
                    result[index] = final is None
            case ops.RemoveItem(key=key):
                result[index] = _line_quantity(after, key) is None and (
                    _line_quantity(before, key) is not None
                    or any(isinstance(o, ops.SetQuantity) and o.key == key for o in batch[:index])
                )
            case ops.ApplyCoupon(code=code):
                result[index] = any(c.code == code for c in after.coupons)
            case ops.RemoveCoupon(code=code):
                result[index] = not any(c.code == code for c in after.coupons) and any(
                    c.code == code for c in before.coupons
                )
            case ops.UpdateCustomer(billing=billing, shipping=shipping):
                result[index] = _address_matches(after.billing_address, billing) and (
                    _address_matches(after.shipping_address, shipping)
                )
            case ops.SelectShippingRate(rate_id=rate_id):
                result[index] = any(p.selected_rate == rate_id for p in after.shipping)
    return result


def _address_matches(address: object, fields: dict[str, str] | None) -> bool:
    if not fields:
        return True
    # The store blanks an invalid email instead of refusing it: not a sign either way.
    return all(
        getattr(address, name, "") == value for name, value in fields.items() if name != "email"
    )
