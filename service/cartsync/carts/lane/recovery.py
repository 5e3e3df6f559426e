"""Operations whose answer was lost: find out from the cart what the store did.

A lost write is one upstream request, which the store applies as one session write:
none of its operations, or every one it accepted. So the holder re-reads the cart:
changed means the request ran, and each operation is checked against the cart it
should have produced (``reconcile.py``); unchanged proves nothing at once, since a lost
request may still be running (PHP does not stop when the client gives up), so the cart
is read until it changes or until the grace period after sending has passed: then the
operations are sent again (``Resend``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog

from ..ports.state import Snapshot, StateStore
from ..ports.upstream_errors import UpstreamOutcomeUnknown
from ..snapshots import decode
from .rebuild import UpstreamReader
from .reconcile import applied
from .records import INFLIGHT, Inflight, LaneStats, OpResult, QueuedOp, inflight_record
from .waiters import Waiters

log = structlog.get_logger(__name__)
_POLL_S = 0.25


@dataclass(frozen=True, slots=True)
class Resend:
    """Nothing of the lost write applied, and its request is surely over: send it again,
    onto ``before`` (recorded in flight already)."""

    before: Snapshot


class Recovery:
    def __init__(
        self,
        state: StateStore,
        reader: UpstreamReader,
        waiters: Waiters,
        stats: LaneStats,
        *,
        lease_ttl_s: float,
        grace_s: float,
    ) -> None:
        self._state = state
        self._reader = reader
        self._waiters = waiters
        self._stats = stats
        self._lease_ttl_s = lease_ttl_s
        self._grace_s = grace_s

    async def reconcile(
        self,
        cart_id: str,
        lease: str,
        lost: list[QueuedOp],
        before: Snapshot,
        attempts: int,
        sent_at: float,
    ) -> bool | Resend:
        """Settle ``lost`` (the head of the queue, recorded in flight): True when their
        results are recorded, False when the lease was lost, or ``Resend``."""
        self._stats.reconciliations += 1
        while True:
            now = await self._reader.read(cart_id, lease)  # raises: retried by the loop
            if now.digest != before.digest:
                break
            if time.time() - sent_at >= self._grace_s:
                if attempts <= 1:
                    raise UpstreamOutcomeUnknown("the store keeps losing this write's answers")
                self._stats.resent_batches += 1
                record = inflight_record(lost, now, time.time())
                if not await self._state.set_inflight(cart_id, lease, record):
                    return False
                return Resend(now)
            if not await self._state.renew_lease(cart_id, lease, self._lease_ttl_s):
                return False
            await asyncio.sleep(_POLL_S)
        done = applied(decode(before), decode(now), [q.operation for q in lost])
        results = [
            OpResult(q.op_id, "applied", etag=now.etag, body=now.body)
            if ok
            else OpResult(
                q.op_id,
                "refused",
                kind="conflict",
                code="not_applied",
                message="The store did not apply this change.",
            )
            for q, ok in zip(lost, done, strict=True)
        ]
        return await self._waiters.complete(cart_id, lease, len(lost), results)

    async def resume(
        self, cart_id: str, lease: str, queue: list[QueuedOp], raw_inflight: bytes
    ) -> tuple[list[QueuedOp], bool | Resend]:
        """A previous holder left operations in flight: reconcile them before anything
        else. Returns them with the outcome."""
        record: Inflight = INFLIGHT.decode(raw_inflight)
        by_id = {q.op_id: q for q in queue}
        lost = [by_id[op_id] for op_id in record.op_ids if op_id in by_id]
        if len(lost) != len(record.op_ids) or queue[: len(lost)] != lost:
            log.error("in-flight record does not match the queue", cart_id=cart_id)
            lost = queue[: len(record.op_ids)]
        before = Snapshot("", 0, 0.0, record.before_digest, record.before)
        outcome = await self.reconcile(
            cart_id, lease, lost, before, attempts=3, sent_at=record.sent_at
        )
        return lost, outcome
