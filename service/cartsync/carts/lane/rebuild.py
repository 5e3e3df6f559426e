"""Reading the cart from the store under the lease, and rebuilding it when the store
lost it.

A store forgets an idle cart (its credentials expire) and then answers with a new,
empty one under new credentials; the adapter says when that happened
(``cart_lost``). cartsync still has the snapshot, so it puts the cart back: customer
first (so shipping rates exist), then lines, coupons and the chosen shipping rates,
each only where the store supports it. The new credentials are kept only once the cart
is back: a failure leaves the old ones, and the next attempt starts over in another
new cart.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import structlog

from .. import model
from .. import operations as ops
from ..model import Address, Cart
from ..ports.state import Snapshot, StateUnavailable
from ..ports.upstream import Capabilities, Upstream
from ..ports.upstream_errors import UpstreamUnavailable
from ..snapshots import Snapshots, decode
from .credentials import CartCredentials
from .records import LaneStats

log = structlog.get_logger(__name__)


def _fields(address: Address) -> dict[str, str] | None:
    values = {name: getattr(address, name) for name in address.__struct_fields__}
    present = {k: v for k, v in values.items() if isinstance(v, str) and v}
    return present or None


def restore_plan(cart: Cart, capabilities: Capabilities) -> list[ops.Operation]:
    """The operations that put ``cart`` back into an empty cart of this store."""
    customer: list[ops.Operation] = []
    billing, shipping = _fields(cart.billing_address), _fields(cart.shipping_address)
    if not capabilities.shipping_address:
        shipping = None  # the store derives it from billing: nothing of ours to restore
    if billing or shipping:
        customer.append(ops.UpdateCustomer(billing, shipping))
    plan = customer if capabilities.customer_first else []
    plan += [ops.AddItem(item.product_id, item.quantity) for item in cart.items]
    if not capabilities.customer_first:
        plan += customer
    plan += [ops.ApplyCoupon(coupon.code) for coupon in cart.coupons]
    plan += [
        ops.SelectShippingRate(package.selected_rate, package.id)
        for package in cart.shipping
        if package.selected_rate
    ]
    return [op for op in plan if capabilities.supports(op)]


class UpstreamReader:
    """Reads carts from the store for a lease holder; rebuilds lost ones."""

    def __init__(
        self,
        upstream: Upstream,
        snapshots: Snapshots,
        credentials: CartCredentials,
        stats: LaneStats,
        on_upstream: Callable[[bool], None],
    ) -> None:
        self._upstream = upstream
        self._snapshots = snapshots
        self._credentials = credentials
        self._stats = stats
        self._on_upstream = on_upstream

    async def read(self, cart_id: str, lease: str) -> Snapshot:
        """Read the cart from the store and record it (the caller holds the lease)."""
        sent = await self._credentials.get(cart_id)
        try:
            result = await self._upstream.fetch_cart(sent)
        except UpstreamUnavailable:
            self._on_upstream(False)
            raise
        self._stats.upstream_reads += 1
        self._on_upstream(True)
        cart = result.cart
        if self._upstream.cart_lost(sent, result.credentials) and not cart.items:
            previous = await self._snapshots.current(cart_id)
            if previous is not None and decode(previous).items:
                cart = await self.restore(cart_id, decode(previous), result.credentials)
                snapshot = await self._snapshots.record(cart_id, cart, lease)
                if snapshot is None:
                    raise StateUnavailable("lease lost while rebuilding the cart")
                return snapshot
        await self._credentials.keep(cart_id, result.credentials)
        snapshot = await self._snapshots.record(cart_id, cart, lease)
        if snapshot is None:
            raise StateUnavailable("lease lost while reading the cart")
        return snapshot

    async def restore(self, cart_id: str, previous: model.Cart, credentials: str) -> model.Cart:
        """Put ``previous`` back into the store's new cart ``credentials`` name; the lines
        that could not be restored are reported in the cart's ``errors``."""
        self._stats.rebuilds += 1
        log.info("rebuilding a lost upstream cart", cart_id=cart_id, lines=len(previous.items))
        capabilities = self._upstream.capabilities
        plan = restore_plan(previous, capabilities)
        cart: model.Cart | None = None
        unrestored: list[model.CartError] = []
        newest = credentials
        while plan:
            chunk = plan[: self._upstream.turn(plan, cart or previous)]
            plan = plan[len(chunk) :]
            self._stats.upstream_writes += 1
            # A failure raises: the next attempt starts over in another new cart.
            outcome = await self._upstream.apply_batch(newest, chunk, cart)
            newest = outcome.credentials or newest
            cart = outcome.cart or cart
            for op, refusal in zip(chunk, outcome.refusals, strict=True):
                if refusal is not None and isinstance(op, ops.AddItem):
                    name = next(
                        (i.name for i in previous.items if i.product_id == op.product_id),
                        str(op.product_id),
                    )
                    unrestored.append(
                        model.CartError(
                            code="line_not_restored",
                            message=f"{name} × {op.quantity} could not be restored: "
                            f"{refusal.error.message}",
                        )
                    )
        await self._credentials.keep(cart_id, newest)
        if cart is None:
            cart = (await self._upstream.fetch_cart(newest)).cart
        return msgspec.structs.replace(cart, errors=[*cart.errors, *unrestored])
