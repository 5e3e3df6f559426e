"""The lane: every write to one cart, from any replica, serialised and coalesced.

Any replica queues operations in the cart's queue (state store) and tries to take the
cart's lease. The lease holder (one per cart in the whole deployment) drains the queue:
the first operation leaves at once; those that arrive while a call is in flight leave
together in the next turn (as many as the store takes at once: a Store API batch of 25;
one CoCart request each, quantity sets together). It records each operation's result
and announces them; waiting callers, on whichever replica, collect their own.

Nothing is lost or applied twice:
- operations leave the queue only when their results are recorded, by the holder, in
  one fenced step;
- before operations leave, the holder records them as in flight; if the answer is lost
  (or the holder dies), the next holder re-reads the cart: unchanged, they are sent
  again after a grace period; changed, each is checked against the cart;
- the lease outlives an upstream call, is renewed while one runs, and a holder that
  cannot renew stops sending; snapshots and results are fenced by the lease.

Modules: ``records`` (what is stored), ``waiters`` (callers and results),
``leadership`` (the lease and the drain loop), ``batch`` (one turn), ``checkout`` (a
checkout's turn, exactly once), ``recovery``
(lost answers), ``rebuild`` (reading the store, rebuilding lost carts),
``credentials`` (each cart's upstream credentials).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from ..ports.state import Message, Snapshot, StateStore
from ..ports.tracing import NO_TRACING, Tracing
from ..ports.upstream import Upstream
from ..snapshots import Snapshots
from .batch import BatchRunner
from .checkout import CheckoutTurn
from .credentials import CartCredentials
from .leadership import Leadership
from .rebuild import UpstreamReader
from .records import INFLIGHT, QUEUED, RESULT, LaneStats, OpResult, QueuedOp, encode_op
from .recovery import Recovery
from .waiters import Waiters


class Lane:
    """This replica's part of every cart's lane."""

    def __init__(
        self,
        state: StateStore,
        upstream: Upstream,
        snapshots: Snapshots,
        credentials: CartCredentials,
        *,
        lease_ttl_s: float,
        reconcile_grace_s: float = 30.0,
        linger_s: float = 0.0,
        on_upstream: Callable[[bool], None] | None = None,
        tracing: Tracing = NO_TRACING,
    ) -> None:
        self._state = state
        self.stats = LaneStats()
        self.credentials = credentials
        seen = on_upstream or (lambda ok: None)
        self._waiters = Waiters(state)
        self._reader = UpstreamReader(upstream, snapshots, credentials, self.stats, seen)
        recovery = Recovery(
            state,
            self._reader,
            self._waiters,
            self.stats,
            lease_ttl_s=lease_ttl_s,
            grace_s=reconcile_grace_s,
        )
        checkout = CheckoutTurn(
            state,
            upstream,
            credentials,
            self._reader,
            self._waiters,
            lease_ttl_s=lease_ttl_s,
            grace_s=reconcile_grace_s,
            on_upstream=seen,
        )
        runner = BatchRunner(
            state,
            upstream,
            snapshots,
            credentials,
            self._reader,
            recovery,
            self._waiters,
            self.stats,
            checkout,
            lease_ttl_s=lease_ttl_s,
            grace_s=reconcile_grace_s,
            on_upstream=seen,
            tracing=tracing,
        )
        self._leadership = Leadership(
            state,
            runner,
            self.stats,
            max_batch=upstream.capabilities.max_batch,
            lease_ttl_s=lease_ttl_s,
            linger_s=linger_s,
        )

    # -- callers ----------------------------------------------------------------------
    async def submit(
        self, cart_id: str, queued: Sequence[QueuedOp], timeout_s: float
    ) -> list[OpResult | None]:
        """Queue operations (in order, together) and wait for their results; None for
        an operation whose result did not come within ``timeout_s``."""
        op_ids = [q.op_id for q in queued]
        futures = self._waiters.register(op_ids)
        try:
            await self._leadership.enqueue(cart_id, [encode_op(q) for q in queued])
            return await self._waiters.wait(cart_id, futures, timeout_s, self.kick)
        finally:
            self._waiters.release(op_ids)

    async def knows(self, cart_id: str, op_ids: Sequence[str]) -> bool:
        """Whether any of these operations is queued, in flight or has a result."""
        wanted = set(op_ids)
        if any(r is not None for r in await self._state.results(cart_id, list(op_ids))):
            return True
        queued = await self._state.queued(cart_id, 10_000)
        if any(QUEUED.decode(raw).op_id in wanted for raw in queued):
            return True
        raw_inflight = await self._state.inflight(cart_id)
        return raw_inflight is not None and bool(wanted & set(INFLIGHT.decode(raw_inflight).op_ids))

    async def recorded(self, cart_id: str, op_ids: Sequence[str]) -> list[OpResult | None]:
        """The recorded results of operations, None where not recorded (yet)."""
        raw = await self._state.results(cart_id, op_ids)
        return [RESULT.decode(r) if r is not None else None for r in raw]

    async def on_message(self, message: Message | None) -> None:
        await self._waiters.on_message(message)

    def state_lost(self) -> set[str]:
        """The state store lost its data: answer every local waiter ``state_lost``, and
        forget the credentials this replica wrote."""
        self._waiters.fail_all()
        self.credentials.forget()
        return set()

    # -- leadership ---------------------------------------------------------------------
    def kick(self, cart_id: str) -> None:
        """Take the cart's lease if nobody holds it, and drain its queue."""
        self._leadership.kick(cart_id)

    @contextlib.asynccontextmanager
    async def holding(self, cart_id: str) -> AsyncIterator[str | None]:
        async with self._leadership.holding(cart_id) as lease:
            yield lease

    async def read_upstream(self, cart_id: str, lease: str) -> Snapshot:
        """Read the cart from the store and record it (the caller holds the lease)."""
        return await self._reader.read(cart_id, lease)

    def drain(self) -> None:
        """The replica is stopping: callers stop waiting on a state store that is gone."""
        self._waiters.stopping = True

    async def close(self, grace_s: float = 0.0) -> None:
        await self._leadership.close(grace_s)

    @property
    def waiting(self) -> int:
        """Operations this replica has queued and not yet had answered."""
        return self._waiters.count

    @property
    def leading(self) -> int:
        """Carts whose lane this replica is draining now."""
        return self._leadership.count


__all__ = ["Lane", "LaneStats", "OpResult", "QueuedOp"]
