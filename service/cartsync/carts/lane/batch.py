"""One lane turn: the head of a cart's queue, sent to the store as one request and
settled.

The holder checks If-Match at the head, takes as many operations as one request of
this store carries (``Upstream.turn``: a Store API batch of up to 25; one CoCart add,
or quantity sets together), records them as in flight (with the cart they apply to) in
the same round trip that renews its lease, sends them, stores the cart the store
answered as the new snapshot, and records each operation's result. One request is one
session write, so a lost answer means all of the turn applied or none of it, and the
cart tells which (``recovery.py``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from ..operations import Checkout
from ..ports.state import Snapshot, StateStore
from ..ports.tracing import NO_TRACING, Tracing
from ..ports.upstream import BatchOutcome, Upstream
from ..ports.upstream_errors import UpstreamOutcomeUnknown, UpstreamUnavailable
from ..snapshots import Snapshots, decode
from .checkout import CheckoutTurn
from .credentials import CartCredentials
from .rebuild import UpstreamReader
from .records import (
    INFLIGHT,
    QUEUED,
    RESULT,
    LaneStats,
    OpResult,
    QueuedOp,
    inflight_record,
    not_applied,
    precondition_failed,
    refused,
)
from .recovery import Recovery, Resend
from .waiters import Waiters

_ATTEMPTS = 3  # sends of one write whose answers keep getting lost


class BatchRunner:
    def __init__(
        self,
        state: StateStore,
        upstream: Upstream,
        snapshots: Snapshots,
        credentials: CartCredentials,
        reader: UpstreamReader,
        recovery: Recovery,
        waiters: Waiters,
        stats: LaneStats,
        checkout: CheckoutTurn,
        *,
        lease_ttl_s: float,
        grace_s: float,
        on_upstream: Callable[[bool], None],
        tracing: Tracing = NO_TRACING,
    ) -> None:
        self._tracing = tracing
        self._state = state
        self._upstream = upstream
        self._snapshots = snapshots
        self._credentials = credentials
        self._reader = reader
        self._recovery = recovery
        self._waiters = waiters
        self._stats = stats
        self._checkout = checkout
        self._lease_ttl_s = lease_ttl_s
        self._grace_s = grace_s
        self._on_upstream = on_upstream

    async def run(
        self, cart_id: str, lease: str, queue: list[QueuedOp], raw_inflight: bytes | None
    ) -> bool:
        """Process the head of the queue; False when the lease was lost."""
        if raw_inflight is not None:
            record = INFLIGHT.decode(raw_inflight)
            if record.order is not None and queue:
                # A checkout whose answer was lost: its draft order says what happened.
                before = Snapshot("", 0, 0.0, record.before_digest, record.before)
                return await self._checkout.settle(
                    cart_id,
                    lease,
                    queue[0],
                    before,
                    await self._credentials.get(cart_id) or "",
                    record.order,
                    record.sent_at,
                )
            lost, outcome = await self._recovery.resume(cart_id, lease, queue, raw_inflight)
            return await self._after_recovery(cart_id, lease, lost, outcome, _ATTEMPTS)
        limit = self._upstream.capabilities.max_batch
        try:
            stored, credentials = await self._state.snapshot_and_token(cart_id)
            if stored is None or self._upstream.renewal_due(credentials, time.time()):
                # A cart never read, or credentials to renew before they land us in a
                # new cart: read the store first.
                stored = await self._reader.read(cart_id, lease)
                credentials = await self._credentials.get(cart_id)
        except UpstreamUnavailable as exc:
            # Nothing has left: these operations certainly did not apply.
            batch = queue[:limit]
            return await self._waiters.complete(cart_id, lease, len(batch), not_applied(batch, exc))
        head = queue[0]
        if head.if_match is not None and head.if_match != stored.tag:
            group = [head]
            if head.group_size > 1:
                raw = await self._state.queued(cart_id, head.group_size)
                group = [q for q in map(QUEUED.decode, raw) if q.group == head.group]
            failed = precondition_failed(group, stored)
            return await self._waiters.complete(cart_id, lease, len(failed), failed)
        if stored.lost_at is not None and head.if_match is not None:
            # The owner names a version of the cart as it is since its state was lost:
            # they have seen the loss, so the cart need not say it any more.
            await self._state.clear_lost(cart_id)
            stored = dataclasses.replace(stored, lost_at=None)
        if isinstance(head.operation, Checkout):
            # The cart as the store has it now, not as last seen: that is what is ordered.
            stored = await self._reader.read(cart_id, lease)
            credentials = await self._credentials.get(cart_id)
            with self._tracing.batch([head.trace], 1):  # a turn of its own
                return await self._checkout.run(cart_id, lease, head, stored, credentials or "")
        batch = queue[:limit]
        for index, queued in enumerate(batch[1:], start=1):
            if queued.if_match is not None or isinstance(queued.operation, Checkout):
                # A precondition is checked at the head of a batch; a checkout has a
                # turn to itself.
                batch = batch[:index]
                break
        batch = batch[: self._upstream.turn([q.operation for q in batch], decode(stored))]
        # One round trip: renew the lease (nothing leaves with less lease left than a
        # call may take), find operations queued twice, record the batch as in flight.
        answered = await self._state.begin_batch(
            cart_id,
            lease,
            self._lease_ttl_s,
            [q.op_id for q in batch],
            inflight_record(batch, stored, time.time()),
        )
        if answered is None:
            return False
        if answered[0] is not None:
            # Queued twice (a retry raced the first attempt): answered already, drop it.
            return await self._waiters.complete(cart_id, lease, 1, [RESULT.decode(answered[0])])
        if any(a is not None for a in answered):
            # Not recorded in flight (begin_batch saw answered ones): record the prefix.
            batch = batch[: next(i for i, a in enumerate(answered) if a is not None)]
            if not await self._state.set_inflight(
                cart_id, lease, inflight_record(batch, stored, time.time())
            ):
                return False
        return await self._send(cart_id, lease, batch, stored, _ATTEMPTS, credentials)

    async def _send(
        self,
        cart_id: str,
        lease: str,
        batch: list[QueuedOp],
        before: Snapshot,
        attempts: int,
        credentials: str | None = None,
    ) -> bool:
        """Send a turn and settle it, in a span linking the callers it carries."""
        with self._tracing.batch([q.trace for q in batch], len(batch)):
            return await self._send_traced(cart_id, lease, batch, before, attempts, credentials)

    async def _send_traced(
        self,
        cart_id: str,
        lease: str,
        batch: list[QueuedOp],
        before: Snapshot,
        attempts: int,
        credentials: str | None,
    ) -> bool:
        if credentials is None:
            credentials = await self._credentials.get(cart_id)
        if credentials is None:
            await self._reader.read(cart_id, lease)
            credentials = await self._credentials.get(cart_id)
        self._stats.count_batch(len(batch))
        try:
            outcome = await self._upstream.apply_batch(
                credentials, [q.operation for q in batch], decode(before)
            )
        except UpstreamOutcomeUnknown as lost:
            self._on_upstream(False)
            # A store that answered (5xx) is done with the request: no grace to wait.
            sent_at = time.time() - (self._grace_s if lost.finished else 0.0)
            settled = await self._recovery.reconcile(
                cart_id, lease, batch, before, attempts, sent_at
            )
            return await self._after_recovery(cart_id, lease, batch, settled, attempts)
        except UpstreamUnavailable as exc:
            # Certainly not applied (not sent, or refused before running): retry is safe.
            self._on_upstream(False)
            return await self._waiters.complete(cart_id, lease, len(batch), not_applied(batch, exc))
        self._on_upstream(True)
        if (
            outcome.cart is not None
            and outcome.credentials is not None
            and self._upstream.cart_lost(credentials, outcome.credentials)
            and decode(before).items
        ):
            # The credentials expired between our check and the store: the operations
            # went to a new cart. Put the rest of the cart back beside them.
            restored = await self._reader.restore(cart_id, decode(before), outcome.credentials)
            outcome = dataclasses.replace(outcome, cart=restored, credentials=None)
        return await self._record(cart_id, lease, batch, before, outcome)

    async def _record(
        self,
        cart_id: str,
        lease: str,
        batch: list[QueuedOp],
        before: Snapshot,
        outcome: BatchOutcome,
    ) -> bool:
        """Store the cart the store answered and record each operation's result."""
        await self._credentials.keep(cart_id, outcome.credentials)
        after = before
        if outcome.cart is not None:
            # ``before`` is what the holder read under this lease: the stored snapshot.
            recorded = await self._snapshots.record(
                cart_id, outcome.cart, lease, current=before if before.epoch else None
            )
            if recorded is None:
                return False
            after = recorded
        size = len(batch)
        results = [
            OpResult(q.op_id, "applied", etag=after.etag, body=after.body, batch=size)
            if refusal is None
            else refused(q.op_id, refusal.error, after if refusal.cart is not None else None, size)
            for q, refusal in zip(batch, outcome.refusals, strict=True)
        ]
        return await self._waiters.complete(cart_id, lease, len(results), results)

    async def _after_recovery(
        self, cart_id: str, lease: str, lost: list[QueuedOp], outcome: bool | Resend, attempts: int
    ) -> bool:
        if isinstance(outcome, Resend):
            return await self._send(cart_id, lease, lost, outcome.before, attempts - 1)
        return outcome
