"""A checkout turn: the cart placed as an order, exactly once.

The store's checkout is dangerous to call twice: two POSTs on one cart make two orders,
and a client that gave up never learns the order its request placed. So a checkout is
a lane operation, alone in its turn (no write to the cart overlaps it, on any replica),
and it is made safe to retry the way the store itself allows:

1. the store keeps a draft order for the cart (``checkout_draft``); that draft is the
   very order the checkout places, so its id and key are recorded in flight **before**
   anything is sent;
2. then the order is placed. A lost answer, a timeout or a dead holder leaves the
   record; the next holder reads the draft back: placed, that is the answer; still a
   draft once the grace period has passed (the lost request is surely over), it is
   safe to send again;
3. a checkout that finds the cart empty because another checkout of the same cart
   placed it meanwhile answers with that order, never a second one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec
import structlog

from .. import model
from ..errors import Conflict
from ..operations import Checkout
from ..ports.state import Snapshot, StateStore
from ..ports.upstream import OrderRef, Placement, Upstream
from ..ports.upstream_errors import (
    UpstreamOutcomeUnknown,
    UpstreamRefused,
    UpstreamUnavailable,
)
from ..snapshots import decode
from .credentials import CartCredentials
from .rebuild import UpstreamReader
from .records import (
    PACK,
    PLACED,
    OpResult,
    PlacedOrder,
    QueuedOp,
    inflight_record,
    not_applied,
    refused,
)
from .waiters import Waiters

log = structlog.get_logger(__name__)
_DRAFT = "checkout-draft"
_POLL_S = 0.5
_ENCODE = msgspec.json.Encoder()
_UNREAD = model.Payment(method="", status="", redirect_url=None)


def _cart_empty() -> Conflict:
    return Conflict("cart_empty", "The cart is empty: there is nothing to check out.")


def _warnings(cart: model.Cart, order: model.Order) -> list[model.CartError]:
    """What the store placed differently from the cart (WooCommerce 9.9 cuts a line to
    the stock left instead of refusing it)."""
    placed: dict[int, int] = {}
    for line in order.lines:
        placed[line.product_id] = placed.get(line.product_id, 0) + line.quantity
    warnings = []
    for item in cart.items:
        got = placed.get(item.product_id, 0)
        if got < item.quantity:
            warnings.append(
                model.CartError(
                    code="quantity_reduced",
                    message=f"{item.name}: {got} of {item.quantity} ordered "
                    "(the store had no more in stock).",
                )
            )
    return warnings


class CheckoutTurn:
    def __init__(
        self,
        state: StateStore,
        upstream: Upstream,
        credentials: CartCredentials,
        reader: UpstreamReader,
        waiters: Waiters,
        *,
        lease_ttl_s: float,
        grace_s: float,
        on_upstream: Callable[[bool], None],
    ) -> None:
        self._state = state
        self._upstream = upstream
        self._credentials = credentials
        self._reader = reader
        self._waiters = waiters
        self._lease_ttl_s = lease_ttl_s
        self._grace_s = grace_s
        self._on_upstream = on_upstream

    async def run(
        self, cart_id: str, lease: str, queued: QueuedOp, stored: Snapshot, credentials: str
    ) -> bool:
        """Place the cart as an order; False when the lease was lost."""
        checkout = queued.operation
        assert isinstance(checkout, Checkout)
        cart = decode(stored)
        if not cart.items:
            return await self._answer_empty(cart_id, lease, queued, stored)
        try:
            draft = await self._upstream.checkout_draft(credentials)
        except UpstreamRefused as refusal:
            return await self._finish(cart_id, lease, [refused(queued.op_id, refusal.error)])
        except UpstreamUnavailable as exc:
            log.warning("checkout: no draft order", error=str(exc))
            return await self._finish(cart_id, lease, not_applied([queued], exc))
        email = (checkout.billing or {}).get("email") or cart.billing_address.email or ""
        draft = OrderRef(draft.id, draft.key, email)
        answered = await self._state.begin_batch(
            cart_id,
            lease,
            self._lease_ttl_s,
            [queued.op_id],
            inflight_record([queued], stored, time.time(), draft),
        )
        if answered is None:
            return False
        return await self._place(cart_id, lease, queued, stored, credentials, draft, attempts=3)

    async def _place(
        self,
        cart_id: str,
        lease: str,
        queued: QueuedOp,
        stored: Snapshot,
        credentials: str,
        draft: OrderRef,
        attempts: int,
    ) -> bool:
        checkout = queued.operation
        assert isinstance(checkout, Checkout)
        sent_at = time.time()
        try:
            placement = await self._upstream.place_order(
                credentials, draft, checkout, decode(stored)
            )
        except UpstreamRefused as refusal:
            self._on_upstream(True)
            return await self._refused(cart_id, lease, queued, refusal)
        except UpstreamOutcomeUnknown as lost:
            self._on_upstream(False)
            since = sent_at - (self._grace_s if lost.finished else 0.0)
            return await self.settle(
                cart_id, lease, queued, stored, credentials, draft, since, attempts
            )
        except UpstreamUnavailable as exc:
            self._on_upstream(False)
            log.warning("checkout: not sent", error=str(exc))
            return await self._finish(cart_id, lease, not_applied([queued], exc))
        self._on_upstream(True)
        return await self._placed(cart_id, lease, queued, stored, placement.ref, placement)

    async def settle(
        self,
        cart_id: str,
        lease: str,
        queued: QueuedOp,
        stored: Snapshot,
        credentials: str,
        draft: OrderRef,
        sent_at: float,
        attempts: int = 3,
    ) -> bool:
        """The placing request's answer was lost (or its holder died): read the draft
        back until it is placed (the answer) or the grace period is over (send again)."""
        while True:
            try:
                order = await self._upstream.read_order(draft)
            except (UpstreamRefused, UpstreamUnavailable) as exc:
                log.info("checkout: order not readable yet", error=type(exc).__name__)
                order = None
            if order is not None and order.status != _DRAFT:
                return await self._placed(cart_id, lease, queued, stored, draft, None, order)
            if time.time() - sent_at >= self._grace_s:
                now = await self._reader.read(cart_id, lease)
                if order is None and not decode(now).items and decode(stored).items:
                    # The order cannot be read, but it emptied the cart: it was placed.
                    unread = Placement(draft, str(draft.id), "unknown", _UNREAD)
                    order = _from_placement(unread, decode(stored))
                    return await self._placed(cart_id, lease, queued, stored, draft, None, order)
                if attempts <= 1:
                    raise UpstreamOutcomeUnknown("the store keeps losing the checkout's answer")
                log.info("checkout: still a draft after the grace period: sent again")
                return await self._place(
                    cart_id, lease, queued, stored, credentials, draft, attempts - 1
                )
            if not await self._state.renew_lease(cart_id, lease, self._lease_ttl_s):
                return False
            await asyncio.sleep(_POLL_S)

    async def _placed(
        self,
        cart_id: str,
        lease: str,
        queued: QueuedOp,
        stored: Snapshot,
        ref: OrderRef,
        placement: Placement | None,
        order: model.Order | None = None,
    ) -> bool:
        if order is None:
            try:
                order = await self._upstream.read_order(ref)
            except (UpstreamRefused, UpstreamUnavailable):
                assert placement is not None  # placed, and said so: show what we know
                order = _from_placement(placement, decode(stored))
        checkout = queued.operation
        assert isinstance(checkout, Checkout)
        cart = decode(stored)
        products = {item.sku: item.product_id for item in cart.items if item.sku}
        if placement is not None and order.payment.status == "":
            order = msgspec.structs.replace(order, payment=placement.payment)
        order = model.with_products(order, products, checkout.payment_method)
        order = msgspec.structs.replace(order, warnings=[*order.warnings, *_warnings(cart, order)])
        number = placement.number if placement is not None else order.number
        record = PlacedOrder(
            ref, number, time.time(), queued.op_id, products, checkout.payment_method
        )
        await self._state.record_order(cart_id, ref.id, PACK.encode(record))
        after = await self._reader.read(cart_id, lease)  # the cart the order emptied
        return await self._finish(cart_id, lease, [_placed(queued, after, order)])

    async def _refused(
        self, cart_id: str, lease: str, queued: QueuedOp, refusal: UpstreamRefused
    ) -> bool:
        after = None
        if refusal.cart is not None or isinstance(refusal.error, Conflict):
            after = await self._reader.read(cart_id, lease)  # e.g. out of stock: the cart
        return await self._finish(cart_id, lease, [refused(queued.op_id, refusal.error, after)])

    async def _answer_empty(
        self, cart_id: str, lease: str, queued: QueuedOp, stored: Snapshot
    ) -> bool:
        """An empty cart: placed by another checkout meanwhile (that order is the
        answer), or nothing to check out."""
        placed = [PLACED.decode(raw) for raw in await self._state.orders(cart_id)]
        latest = max(placed, key=lambda p: p.placed_at, default=None)
        if latest is None or latest.placed_at < queued.enqueued_at:
            return await self._finish(cart_id, lease, [refused(queued.op_id, _cart_empty())])
        try:
            order = await self._upstream.read_order(latest.ref)
        except (UpstreamRefused, UpstreamUnavailable) as exc:
            return await self._finish(cart_id, lease, not_applied([queued], _unavailable(exc)))
        order = model.with_products(order, latest.products, latest.payment_method)
        warning = model.CartError(
            code="placed_by_another_checkout",
            message="Another checkout of this cart placed this order a moment ago.",
        )
        order = msgspec.structs.replace(order, warnings=[*order.warnings, warning])
        return await self._finish(cart_id, lease, [_placed(queued, stored, order)])

    async def _finish(self, cart_id: str, lease: str, results: list[OpResult]) -> bool:
        return await self._waiters.complete(cart_id, lease, len(results), results)


def _unavailable(exc: Exception) -> UpstreamUnavailable:
    return exc if isinstance(exc, UpstreamUnavailable) else UpstreamUnavailable(str(exc))


def _from_placement(placement: Placement, cart: model.Cart) -> model.Order:
    """An order the store placed but will not show: its cart's lines and totals."""
    return model.Order(
        id=placement.ref.id,
        number=placement.number,
        status=placement.status,
        currency=cart.currency,
        lines=[
            model.OrderLine(
                product_id=i.product_id,
                name=i.name,
                sku=i.sku,
                quantity=i.quantity,
                subtotal=i.subtotal,
                total=i.total,
                tax=i.tax,
            )
            for i in cart.items
        ],
        totals=model.OrderTotals(
            subtotal=cart.totals.subtotal,
            discount=cart.totals.discount,
            shipping=cart.totals.shipping or 0,
            tax=cart.totals.tax,
            total=cart.totals.total,
        ),
        payment=placement.payment,
        warnings=[],
    )


def _placed(queued: QueuedOp, cart: Snapshot, order: model.Order) -> OpResult:
    """A checkout's answer: the order, with the cart as it is after it."""
    return OpResult(
        queued.op_id,
        "applied",
        etag=cart.etag,
        body=cart.body,
        batch=1,
        order=_ENCODE.encode(order),
    )
