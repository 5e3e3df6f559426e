"""The callers waiting on this replica for their operations' results, and the one step
that records results (by whichever replica holds the lease) and wakes them.

A caller's operations may be carried by a holder on another replica: results reach it
through the state store's announcement (``ResultsReady``) or, should that be missed, by
reading the recorded results every second until its deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from ..ports.state import (
    Commit,
    Committed,
    Message,
    ResultsReady,
    Snapshot,
    StateStore,
    StateUnavailable,
)
from .records import PACK, RESULT, RESULTS_TTL_S, OpResult

_POLL_S = 1.0


class Waiters:
    def __init__(self, state: StateStore) -> None:
        self._state = state
        self._futures: dict[str, asyncio.Future[OpResult]] = {}
        self.stopping = False  # the replica is draining: see ``wait``

    @property
    def count(self) -> int:
        """Operations this replica has queued and not yet had answered."""
        return len(self._futures)

    def register(self, op_ids: Sequence[str]) -> dict[str, asyncio.Future[OpResult]]:
        loop = asyncio.get_running_loop()
        futures = {op_id: loop.create_future() for op_id in op_ids}
        self._futures.update(futures)
        return futures

    def release(self, op_ids: Sequence[str]) -> None:
        for op_id in op_ids:
            self._futures.pop(op_id, None)

    async def wait(
        self,
        cart_id: str,
        futures: dict[str, asyncio.Future[OpResult]],
        timeout_s: float,
        kick: Callable[[str], None],
    ) -> list[OpResult | None]:
        """The results, None for those not in within ``timeout_s``; ``kick`` is called
        when results are late (a dead holder: someone must take the lease). While the
        replica is stopping, a state store that cannot be read ends the wait at once
        (None: the operations stay queued, and a retry with the same key learns their
        results): holding the stop until the timeout would learn nothing more."""
        deadline = time.monotonic() + timeout_s
        pending = set(futures)
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.wait(
                [futures[op_id] for op_id in pending], timeout=min(remaining, _POLL_S)
            )
            pending = {op_id for op_id in pending if not futures[op_id].done()}
            if pending:
                # Missed announcement, or a dead holder: read recorded results, and
                # take the lease if nobody holds it.
                reachable = await self.fetch(cart_id, sorted(pending))
                pending = {op_id for op_id in pending if not futures[op_id].done()}
                if pending and not reachable and self.stopping:
                    break
                if pending:
                    kick(cart_id)
        return [futures[op_id].result() if futures[op_id].done() else None for op_id in futures]

    async def fetch(self, cart_id: str, op_ids: Sequence[str]) -> bool:
        """Resolve the recorded results; False when the state store could not be read."""
        try:
            recorded = await self._state.results(cart_id, op_ids)
        except StateUnavailable:
            return False
        for raw in recorded:
            if raw is not None:
                self.resolve(RESULT.decode(raw))
        return True

    def resolve(self, result: OpResult) -> None:
        future = self._futures.get(result.op_id)
        if future is not None and not future.done():
            future.set_result(result)

    def fail_all(self) -> None:
        """The state store lost its data: no waiting operation's result will ever be
        recorded. Each is answered ``state_lost``; the caller binds the cart again and
        sends it anew (whatever the store did with it went to a cart nobody points at)."""
        for op_id, future in self._futures.items():
            if not future.done():
                future.set_result(
                    OpResult(
                        op_id,
                        "state_lost",
                        kind="unavailable",
                        code="cart_state_lost",
                        message="The cart's state was lost before this change was settled.",
                    )
                )

    async def on_message(self, message: Message | None) -> None:
        """Results announced by a holder (maybe on another replica). A gap (None) needs
        nothing: waiters read recorded results periodically anyway."""
        if isinstance(message, ResultsReady):
            futures = self._futures
            mine = [
                op_id
                for op_id in message.op_ids
                if (future := futures.get(op_id)) is not None and not future.done()
            ]
            if mine:
                await self.fetch(message.cart_id, mine)

    async def complete(
        self,
        cart_id: str,
        lease: str,
        count: int,
        results: list[OpResult],
    ) -> bool:
        """Record results and drop their operations from the queue (fenced by the
        lease), then wake the local waiters; False when the lease was lost."""
        done = await self.commit(cart_id, lease, count, results)
        if done.status is Commit.LOST:
            return False
        self.wake(results)
        return True

    async def commit(
        self,
        cart_id: str,
        lease: str,
        count: int,
        results: list[OpResult],
        *,
        snapshot: Snapshot | None = None,
        release: bool = False,
        limit: int = 0,
    ) -> Committed:
        """``complete`` in the state store's ``commit`` step (with the turn's snapshot,
        and the lease let go when nothing is queued); the caller wakes the waiters
        (``wake``) once its near copy is the cart they will be answered with."""
        packed = {r.op_id: PACK.encode(r) for r in results}
        # Only results someone waits for on another replica are announced: this
        # replica's own callers are woken by ``wake`` (every replica would otherwise
        # decode an announcement a write, to find nobody of its own waiting).
        elsewhere = [op_id for op_id in packed if op_id not in self._futures]
        return await self._state.commit(
            cart_id,
            lease,
            count,
            packed,
            RESULTS_TTL_S,
            snapshot=snapshot,
            release=release,
            limit=limit,
            announce=elsewhere,
        )

    def wake(self, results: list[OpResult]) -> None:
        for result in results:
            self.resolve(result)
