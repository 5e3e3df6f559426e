"""The cart service: the one facade the web layer calls.

Reads come from snapshots (``reads.py``); writes go through the cart's lane
(``lane/``), which serialises and coalesces every write to a cart from every replica;
``registry.py`` knows whose cart is whose, ``handoff.py`` makes checkout links,
``products.py`` caches the catalogue. The parts are built by the composition root
(``app.py``) and handed in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import structlog

from ..request_context import note_batch
from .errors import not_supported, state_lost
from .feed import ChangeFeed
from .handoff import Handoff
from .health import UpstreamHealth
from .lane import Lane
from .lane.records import OpResult, QueuedOp, new_op_id, refused
from .near_cache import NearCache
from .operations import ApplyCoupon, Checkout, Operation, RemoveCoupon, SelectShippingRate
from .orders import Orders
from .owners import Owner
from .policy import CartPolicy
from .ports.state import Change, Message, Snapshot, StateLost, StateStore, StateUnavailable
from .ports.tracing import NO_TRACING, Tracing
from .ports.upstream import Capabilities, ProductQuery
from .products import Catalogue
from .reads import CartReads, CartView, ReadStats
from .registry import Registry
from .state_watch import StateWatch

log = structlog.get_logger(__name__)


def _unsupported(operation: Operation) -> tuple[str, str | None]:
    """The feature an operation needs, and the request field that asks for it."""
    if isinstance(operation, ApplyCoupon | RemoveCoupon):
        return "coupons", "code"
    if isinstance(operation, SelectShippingRate):
        return "shipping_rates", "rate_id"
    if isinstance(operation, Checkout):
        return "checkout", None
    return "operation", None


class CartService:
    def __init__(
        self,
        policy: CartPolicy,
        state: StateStore,
        capabilities: Capabilities,
        *,
        near: NearCache,
        registry: Registry,
        reads: CartReads,
        lane: Lane,
        feed: ChangeFeed,
        handoff: Handoff,
        catalogue: Catalogue,
        health: UpstreamHealth,
        watch: StateWatch,
        orders: Orders,
        tracing: Tracing = NO_TRACING,
    ) -> None:
        self._tracing = tracing
        self._policy = policy
        self._state = state
        self.capabilities = capabilities
        self._near = near
        self._registry = registry
        self._reads = reads
        self.lane = lane
        self.feed = feed
        self._handoff = handoff
        self._catalogue = catalogue
        self._health = health
        self.watch = watch
        self._orders = orders
        watch.on_loss(near.drop_everything)
        watch.on_loss(lane.state_lost)
        watch.on_loss(registry.forget_touches)
        watch.on_loss(catalogue.forget)
        self._checks: set[asyncio.Task[bool]] = set()

    @property
    def stats(self) -> ReadStats:
        return self._reads.stats

    async def start(self) -> None:
        await self.watch.start()
        await self._state.subscribe(self._on_message)

    @property
    def draining(self) -> bool:
        return self.feed.closing

    def drain(self) -> None:
        """SIGTERM: stop being ready and end the change-feed streams; requests in flight
        (writes waiting for their turn included) are still answered before the server
        stops, and ``close()`` then hands the lanes over."""
        if not self.feed.closing:
            log.info("draining: streams closed, readiness off")
            self.feed.close_all()
            self.lane.drain()

    async def close(self) -> None:
        grace = self._policy.shutdown_lane_grace_s if self.draining else 0.0
        await self.lane.close(grace_s=grace)
        await self._reads.close()
        await self.watch.close()

    async def _on_message(self, message: Message | None) -> None:
        if message is None or isinstance(message, Change):
            self._near.apply(message)
            self.feed.dispatch(message)
        if message is None:
            # The change feed reconnected: the state store may have restarted empty.
            check = asyncio.create_task(self._check_state())
            self._checks.add(check)
            check.add_done_callback(self._checks.discard)
        await self.lane.on_message(message)

    async def _check_state(self) -> bool:
        try:
            return await self.watch.check()
        except StateUnavailable:
            return False

    def upstream_health(self) -> dict[str, object]:
        """For ``/healthz``: an upstream outage is reported, never a reason to stop
        serving; with what the store can do."""
        return {
            "last_success": self._health.last_success,
            "last_failure": self._health.last_failure,
            "carts_served_stale": len(self._reads.failing),
            "capabilities": self.capabilities.describe(),
        }

    async def ready(self) -> None:
        """Raise ``StateUnavailable`` when this replica cannot serve."""
        await self._state.ping()

    # -- owners ----------------------------------------------------------------------
    async def cart_id(self, owner: Owner) -> str:
        return await self._registry.cart_id(owner)

    def forget_owner(self, owner_id: str) -> None:
        self._registry.forget(owner_id)

    # -- reads -----------------------------------------------------------------------
    def hot_snapshot(self, owner: Owner) -> Snapshot | None:
        return self._reads.hot_snapshot(owner)

    async def read(self, owner: Owner, if_none_match: str | None = None) -> CartView:
        return await self._reads.read(owner, if_none_match)

    async def wait_for_change(self, owner: Owner, known: str, timeout_s: float) -> CartView:
        return await self._reads.wait_for_change(owner, known, timeout_s)

    # -- writes ------------------------------------------------------------------------
    async def apply(
        self,
        owner: Owner,
        operations: Sequence[tuple[str, Operation]],
        *,
        if_match: str | None = None,
        may_repeat: bool = False,
    ) -> list[OpResult | None]:
        """Queue operations (``(op_id, operation)``, in order) on the owner's cart and wait
        for their results; None where the outcome is not known within the write timeout.
        ``if_match`` (an ETag) guards the first operation. What the store cannot do at
        all is refused here, without a turn.

        When the cart's state turns out lost, the owner is bound again (the cart marked)
        and the operations are sent once more, to the cart the owner now has: whatever
        became of them went to a cart nobody points at. Unless ``may_repeat`` (an
        Idempotency-Key the state store has no record of: perhaps a retry of a change
        the loss swallowed): then nothing is sent and ``Conflict`` ``cart_state_lost``
        carries the cart."""
        await self._registry.touch(owner)
        supports = self.capabilities.supports
        results: list[OpResult | None] = [
            None if supports(op) else refused(op_id, not_supported(*_unsupported(op)))
            for op_id, op in operations
        ]
        pending = [(i, pair) for i, pair in enumerate(operations) if supports(pair[1])]
        cart_id = await self._registry.cart_id(owner)
        for attempt in (1, 2):
            if not pending:
                break
            try:
                answers = await self._submit(cart_id, [pair for _, pair in pending], if_match)
            except StateLost as lost:
                if attempt == 2:
                    raise
                cart_id = await self._lost(owner, lost, may_repeat)
                continue
            for (index, _), answer in zip(pending, answers, strict=True):
                results[index] = answer
            pending = [
                (index, pair)
                for index, pair in pending
                if (answer := results[index]) is not None and answer.outcome == "state_lost"
            ]
            if pending and attempt == 1:
                cart_id = await self._lost(owner, StateLost(cart_id), may_repeat)
        note_batch(max((r.batch for r in results if r is not None), default=0))
        return results

    async def _lost(self, owner: Owner, lost: StateLost, may_repeat: bool) -> str:
        cart_id = await self._reads.recover(owner, lost)
        if may_repeat:
            raise state_lost((await self.read(owner)).body)
        return cart_id

    async def _submit(
        self, cart_id: str, operations: list[tuple[str, Operation]], if_match: str | None
    ) -> list[OpResult | None]:
        now = time.time()
        tag = if_match.strip().removeprefix("W/").strip('"') if if_match else None
        group = new_op_id() if len(operations) > 1 else ""
        caller = self._tracing.caller()  # the batch that carries them links to it
        queued = [
            QueuedOp(op_id, op, tag if n == 0 else None, group, len(operations), now, caller)
            for n, (op_id, op) in enumerate(operations)
        ]
        return await self.lane.submit(cart_id, queued, self._policy.write_timeout_s)

    async def unacknowledged_loss(self, owner: Owner) -> bytes | None:
        """While a loss of the state store's data is recent: the owner's cart, when it is
        marked lost. A write with an Idempotency-Key the state store has no record of
        and no If-Match is then not applied (it may repeat a change the loss
        swallowed); with an If-Match the lane decides (412 for a version of the lost
        cart; a version of the cart as it is now shows the owner saw the loss). None:
        nothing in the way."""
        if not self.watch.in_window():
            return None  # a cart found lost later is caught by ``apply(may_repeat=True)``
        view = await self.read(owner)
        snapshot = self._near.get(await self._registry.cart_id(owner))
        if snapshot is None or snapshot.lost_at is None:
            return None
        return view.body

    async def abandoned(self, owner: Owner, op_ids: Sequence[str]) -> bool:
        """None of these operations is queued, in flight or answered: they never left the
        request that reserved them."""
        cart_id = await self._registry.cart_id(owner)
        return not await self.lane.knows(cart_id, op_ids)

    async def recorded(self, owner: Owner, op_ids: Sequence[str]) -> list[OpResult | None]:
        """Results recorded so far for operations queued by an earlier request; takes the
        cart's lease if nobody holds it, so a dead holder's work resumes."""
        cart_id = await self._registry.cart_id(owner)
        results = await self.lane.recorded(cart_id, op_ids)
        if any(r is None for r in results):
            self.lane.kick(cart_id)
        return results

    # -- checkout handoff ------------------------------------------------------------
    async def checkout_code(self, owner: Owner) -> tuple[str, int]:
        return await self._handoff.code(owner)

    async def redeem(self, code: str) -> str:
        """The shop URL a checkout code opens (once)."""
        return await self._handoff.redeem(code)

    # -- orders --------------------------------------------------------------------------
    async def orders(self, owner: Owner) -> bytes:
        """The owner's orders placed through cartsync, newest first, read from the store."""
        return await self._orders.list(owner)

    async def order(self, owner: Owner, order_id: int) -> bytes:
        return await self._orders.one(owner, order_id)

    # -- products ------------------------------------------------------------------------
    async def products(self, query: ProductQuery) -> bytes:
        return await self._catalogue.page(query)

    async def product(self, product_id: int) -> bytes:
        return await self._catalogue.product(product_id)


__all__ = ["CartService", "CartView", "new_op_id"]
