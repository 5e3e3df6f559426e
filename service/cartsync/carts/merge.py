"""Merging a guest's cart into a user's cart (on login), as a plan of operations.

WooCommerce does not merge carts when a user logs in with a token (woocommerce#55653),
so cartsync does: the guest's lines, coupons and addresses go into the user's cart
through the user's lane, under a policy:

- ``sum``: quantities add up, capped by the line's limits (the default);
- ``max``: the larger of the two quantities;
- ``replace``: the guest's quantity wins where both carts hold a line.

Running a merge again changes nothing: its report is kept (by guest) and replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from . import operations as ops
from .errors import Conflict, Invalid
from .lane.records import OpResult, new_op_id
from .model import Address, Cart, Item
from .owners import Owner
from .ports.state import StateStore
from .snapshots import decode_body

if TYPE_CHECKING:
    from .service import CartService

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


class MergeLine(msgspec.Struct):
    product_id: int
    name: str
    quantity: int
    status: str  # merged | unchanged | refused | pending
    error: dict[str, str | None] | None = None


class MergeReport(msgspec.Struct):
    policy: str
    lines: list[MergeLine]
    coupons: list[MergeLine]


_MERGE_RECORD = msgspec.msgpack.Decoder(tuple[str, MergeReport])


async def merge_guest(
    service: CartService, state: StateStore, user: Owner, guest: Owner, policy: str, ttl_s: int
) -> MergeReport:
    """Merge ``guest``'s cart into ``user``'s; running it again changes nothing."""
    if user.kind != "user":
        raise Invalid(
            "invalid_request",
            "Only a signed-in user's cart can take a guest cart.",
            field="authorization",
        )
    key = f"merge:{guest.id}"
    existing = await state.reserve_record(key, msgspec.msgpack.encode(("pending", None)), ttl_s)
    if existing is not None:
        status, report = msgspec.msgpack.decode(existing, type=tuple[str, MergeReport | None])
        if status == "pending" or report is None:
            raise Conflict(
                "merge_in_progress",
                "This guest cart is being merged.",
                field="guest_token",
                retry_after=1,
            )
        if status != user.id:
            raise Conflict(
                "guest_already_merged",
                "This guest cart was merged into another account.",
                field="guest_token",
            )
        return report
    try:
        report = MergeReport(policy, [], [])
        if await state.cart_of(guest.id) is not None:
            guest_cart = decode_body((await service.read(guest)).body)
            user_cart = decode_body((await service.read(user)).body)
            lines, extra = plan(user_cart, guest_cart, policy)
            if not service.capabilities.shipping_address:
                # The store derives shipping from billing: merge the billing address only.
                extra = [
                    ops.UpdateCustomer(op.billing, None)
                    if isinstance(op, ops.UpdateCustomer)
                    else op
                    for op in extra
                ]
                extra = [
                    op
                    for op in extra
                    if not isinstance(op, ops.UpdateCustomer) or op.billing is not None
                ]
            todo = [(new_op_id(), line.operation) for line in lines if line.operation is not None]
            todo += [(new_op_id(), op) for op in extra]
            results = await service.apply(user, todo) if todo else []
            outcome = dict(zip([op_id for op_id, _ in todo], results, strict=True))
            by_operation = {id(op): op_id for op_id, op in todo}
            for line in lines:
                if line.operation is None:
                    status, error = "unchanged", None
                else:
                    status, error = _status(outcome.get(by_operation[id(line.operation)]))
                report.lines.append(
                    MergeLine(
                        line.guest.product_id, line.guest.name, line.guest.quantity, status, error
                    )
                )
            for op_id, op in todo:
                if isinstance(op, ops.ApplyCoupon):
                    status, error = _status(outcome.get(op_id))
                    report.coupons.append(MergeLine(0, op.code, 0, status, error))
            await state.forget_owner(guest.id)
            service.forget_owner(guest.id)
        await state.put_record(key, msgspec.msgpack.encode((user.id, report)), ttl_s)
        return report
    except BaseException:
        await state.drop_record(key)
        raise


def _status(result: OpResult | None) -> tuple[str, dict[str, str | None] | None]:
    if result is None:
        return "pending", None
    if result.outcome == "applied":
        return "merged", None
    return "refused", {"code": result.code, "message": result.message}
