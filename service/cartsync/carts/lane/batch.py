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
from ..ports.state import Commit, Committed, Head, Snapshot, StateStore
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

Turn = bool | Head | None
"""How a turn ended: True done (the lease kept), False the lease was lost, None done
and the lease released (nothing was queued), a ``Head``: done, the lease kept, and what
the next turn starts from."""


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
        self,
        cart_id: str,
        lease: str,
        queue: list[QueuedOp],
        raw_inflight: bytes | None,
        known: Head | None = None,
    ) -> Turn:
        """Process the head of the queue; ``known``: the snapshot and credentials were
        read with the queue (``Head.read``)."""
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
            if known is not None and known.read:
                stored, credentials = known.snapshot, known.credentials
            else:
                stored, credentials = await self._state.snapshot_and_token(cart_id)
            if stored is None or self._upstream.renewal_due(credentials, time.time()):
                # A cart never read, or credentials to renew before they land us in a
                # new cart: read the store first.
                stored = await self._reader.read(cart_id, lease)
                credentials = await self._credentials.get(cart_id)
        except UpstreamUnavailable as exc:
            # Nothing has left: these operations certainly did not apply.
            return await self._finish(cart_id, lease, not_applied(queue[:limit], exc))
        head = queue[0]
        if head.if_match is not None and head.if_match != stored.tag:
            group = [head]
            if head.group_size > 1:
                raw = await self._state.queued(cart_id, head.group_size)
                group = [q for q in map(QUEUED.decode, raw) if q.group == head.group]
            failed = precondition_failed(group, stored)
            return await self._finish(cart_id, lease, failed, stored, credentials)
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
            answer = [RESULT.decode(answered[0])]
            return await self._finish(cart_id, lease, answer, stored, credentials)
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
    ) -> Turn:
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
    ) -> Turn:
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
            return await self._finish(cart_id, lease, not_applied(batch, exc), before, credentials)
        self._on_upstream(True)
        carried = outcome.credentials or credentials  # what the next turn sends
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
            carried = None  # the rebuild stored its own: the next turn reads them
        return await self._record(cart_id, lease, batch, before, outcome, carried)

    async def _record(
        self,
        cart_id: str,
        lease: str,
        batch: list[QueuedOp],
        before: Snapshot,
        outcome: BatchOutcome,
        carried: str | None,
    ) -> Turn:
        """Store the cart the store answered and record each operation's result: in one
        step with the lease's release when the cart changed and its version is the next
        (the usual turn), else step by step."""
        await self._credentials.keep(cart_id, outcome.credentials)
        following = None
        if outcome.cart is not None and before.epoch:
            # ``before`` is what the holder read under this lease: the stored snapshot.
            following = self._snapshots.following(cart_id, outcome.cart, before)
        if following is not None:
            results = _results(batch, outcome, following)
            done = await self._waiters.commit(
                cart_id,
                lease,
                len(results),
                results,
                snapshot=following,
                release=True,
                limit=self._upstream.capabilities.max_batch,
            )
            if done.status is not Commit.BEHIND:
                if done.status is not Commit.LOST:
                    self._snapshots.near.put(cart_id, following)  # announced to every replica
                return self._woken(done, results, following, carried)
            # The sequence moved on (a version reserved and never stored): step by step.
        after = before
        if outcome.cart is not None:
            recorded = await self._snapshots.record(
                cart_id, outcome.cart, lease, current=before if before.epoch else None
            )
            if recorded is None:
                return False
            after = recorded
        return await self._finish(cart_id, lease, _results(batch, outcome, after), after, carried)

    async def _finish(
        self,
        cart_id: str,
        lease: str,
        results: list[OpResult],
        current: Snapshot | None = None,
        credentials: str | None = None,
    ) -> Turn:
        """Record a turn's results (its operations leave the queue) and let the lease go
        when nothing more is queued; ``current``: the stored cart now, which the next
        turn may start from (with ``credentials``)."""
        limit = self._upstream.capabilities.max_batch
        done = await self._waiters.commit(
            cart_id, lease, len(results), results, release=True, limit=limit
        )
        return self._woken(done, results, current, credentials)

    def _woken(
        self,
        done: Committed,
        results: list[OpResult],
        current: Snapshot | None,
        credentials: str | None,
    ) -> Turn:
        if done.status is Commit.LOST:
            return False
        self._waiters.wake(results)
        if done.status is Commit.RELEASED:
            return None
        if done.queued:
            known = current is not None and credentials is not None
            return Head(None, done.queued, current, credentials, read=known)
        return True

    async def _after_recovery(
        self, cart_id: str, lease: str, lost: list[QueuedOp], outcome: bool | Resend, attempts: int
    ) -> Turn:
        if isinstance(outcome, Resend):
            return await self._send(cart_id, lease, lost, outcome.before, attempts - 1)
        return outcome


def _results(batch: list[QueuedOp], outcome: BatchOutcome, after: Snapshot) -> list[OpResult]:
    """Each operation's result, with the cart after the turn."""
    size = len(batch)
    return [
        OpResult(q.op_id, "applied", etag=after.etag, body=after.body, batch=size)
        if refusal is None
        else refused(q.op_id, refusal.error, after if refusal.cart is not None else None, size)
        for q, refusal in zip(batch, outcome.refusals, strict=True)
    ]
