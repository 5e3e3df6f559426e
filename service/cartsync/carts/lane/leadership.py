"""Who drains a cart's queue: the holder of its lease, one in the whole deployment.

Any replica that queues work tries to take the lease (``kick``). The holder drains the
queue turn by turn: the first operation leaves at once; those that arrive while a call
is in flight leave together as the next turn. The lease outlives an upstream call and
is renewed while the holder works; should a renewal fail (another holder, or Redis
gone for longer than the lease could last) the holder stops at once, so no request
leaves without the lease (WooCommerce cannot check a fencing token: this is the
guard). A holder cut short leaves its in-flight record; the next one reconciles it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable

import structlog

from .. import errors as domain
from ..ports.state import Head, StateStore, StateUnavailable
from ..ports.upstream_errors import UpstreamUnavailable
from .batch import BatchRunner, Turn
from .records import QUEUED, LaneStats

log = structlog.get_logger(__name__)


class Leadership:
    def __init__(
        self,
        state: StateStore,
        runner: BatchRunner,
        stats: LaneStats,
        *,
        max_batch: int,
        lease_ttl_s: float,
        linger_s: float = 0.0,
    ) -> None:
        self._state = state
        self._runner = runner
        self._stats = stats
        self._max_batch = max_batch
        self._lease_ttl_s = lease_ttl_s
        self._linger_s = linger_s
        self._leading: dict[str, asyncio.Task[None]] = {}
        self._closing = asyncio.Event()

    @property
    def count(self) -> int:
        """Carts whose lane this replica is draining now."""
        return len(self._leading)

    def kick(self, cart_id: str, held: str | None = None, first: Head | None = None) -> None:
        """Try to become the cart's holder and drain its queue (in the background);
        ``held``: we already hold the lease with this token (``first``: and read this)."""
        task = self._leading.get(cart_id)
        if task is not None and not task.done() and held is None:
            return
        task = asyncio.create_task(self._lead(cart_id, held, first))
        self._leading[cart_id] = task
        task.add_done_callback(lambda done: self._ended(cart_id, done))

    async def enqueue(self, cart_id: str, entries: list[bytes]) -> None:
        """Queue operations and see that someone drains them. When this replica is not
        draining the cart already, the operations are queued and the lease tried in one
        step that also reads what the first turn needs (an idle cart's write starts its
        turn without another round trip)."""
        task = self._leading.get(cart_id)
        if task is not None and not task.done():
            await self._state.enqueue(cart_id, entries)
            return  # our holder takes them in its next turn (or its release refuses)
        lease = secrets.token_hex(8)
        first = await self._state.enqueue_and_lead(
            cart_id, entries, lease, self._lease_ttl_s, self._max_batch
        )
        if first is not None:
            self.kick(cart_id, held=lease, first=first)

    def _ended(self, cart_id: str, task: asyncio.Task[None]) -> None:
        if self._leading.get(cart_id) is task:
            del self._leading[cart_id]
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "lane stopped by an unexpected error", cart_id=cart_id, exc_info=task.exception()
            )

    async def close(self, grace_s: float = 0.0) -> None:
        """Stop leading. Turns under way get ``grace_s`` to finish (at shutdown: what is
        left is other replicas' callers' work, and finishing it spares them waiting out
        the lease). A turn postponed meanwhile (the state store or the store failing) is
        not tried again: it is left queued for the lease's next holder."""
        self._closing.set()
        tasks = list(self._leading.values())
        if tasks and grace_s > 0:
            await asyncio.wait(tasks, timeout=grace_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def holding(self, cart_id: str) -> AsyncIterator[str | None]:
        """Hold the cart's lease for a block (a read from the store), renewing it;
        yields None when someone else holds it."""
        lease = secrets.token_hex(8)
        if not await self._state.acquire_lease(cart_id, lease, self._lease_ttl_s):
            yield None
            return
        renew = asyncio.create_task(self._renew(cart_id, lease, on_lost=None))
        try:
            yield lease
        finally:
            await _stop(renew)
            if await self._state.release_lease(cart_id, lease) == 0:
                # Work was queued meanwhile and the lease stays ours: drain the queue.
                self.kick(cart_id, held=lease)

    async def _renew(self, cart_id: str, lease: str, on_lost: Callable[[], None] | None) -> None:
        """Renew every third of the lease; a lease that cannot be renewed before it
        could have expired is lost (``on_lost``: stop sending)."""
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self._lease_ttl_s / 3)
            try:
                held = await self._state.renew_lease(cart_id, lease, self._lease_ttl_s)
            except StateUnavailable:
                if time.monotonic() - renewed < self._lease_ttl_s * 2 / 3:
                    continue  # a blip: try again before the lease could run out
                held = False
            if not held:
                log.warning("lease lost", cart_id=cart_id)
                if on_lost is not None:
                    on_lost()
                return
            renewed = time.monotonic()

    async def _lead(self, cart_id: str, held: str | None = None, first: Head | None = None) -> None:
        lease = held or secrets.token_hex(8)
        if held is None:
            try:
                lead = await self._state.lead(cart_id, lease, self._lease_ttl_s, self._max_batch)
            except StateUnavailable:
                return
            if lead is None:
                return
            first = Head(*lead)
        if first is not None and first.inflight is not None:
            self._stats.lease_takeovers += 1
            log.info("lease taken over with a write in flight", cart_id=cart_id)
        me = asyncio.current_task()

        def stop_sending() -> None:
            if me is not None:
                me.cancel()

        renew = asyncio.create_task(self._renew(cart_id, lease, on_lost=stop_sending))
        try:
            await self._drain(cart_id, lease, first)
        except asyncio.CancelledError:
            raise
        except StateUnavailable:
            log.warning("lane stopped: state store unavailable", cart_id=cart_id)
        finally:
            await _stop(renew)

    async def _drain(self, cart_id: str, lease: str, first: Head | None) -> None:
        """Turn after turn until the queue is empty. Any failure (the store, or the state
        store between two steps: a Redis restart) postpones the turn under the same
        lease, with a back-off; the renewal stops the drain if the lease cannot be kept."""
        backoff = 0.2
        while True:
            try:
                done = await self._turn(cart_id, lease, first)
            except (UpstreamUnavailable, StateUnavailable, domain.CartError) as exc:
                log.warning("turn postponed", cart_id=cart_id, error=type(exc).__name__)
                first = None
                with contextlib.suppress(TimeoutError):  # a stop cuts the back-off short
                    await asyncio.wait_for(self._closing.wait(), backoff)
                if self._closing.is_set():
                    return  # stopping: the queue waits for the lease's next holder
                backoff = min(backoff * 2, 5.0)
                continue
            if isinstance(done, Head):
                first = done  # the turn's last step read what the next one starts from
                backoff = 0.2
                continue
            first = None
            if done is None:
                return  # the queue is empty and the lease released
            if not done:
                log.warning("lease lost during a turn", cart_id=cart_id)
                return  # another holder carries on
            backoff = 0.2

    async def _turn(self, cart_id: str, lease: str, first: Head | None) -> Turn:
        """One turn: True done, False the lease was lost, None nothing left (released),
        a ``Head``: done, and the next turn starts from it."""
        known = None
        if first is not None and not self._linger_s:
            raw_inflight, raw_queue = first.inflight, first.queued  # read with the lease
            known = first
        else:
            if self._linger_s:
                await asyncio.sleep(self._linger_s)
            elif first is None and await self._state.release_lease(cart_id, lease) != 0:
                # Most often the queue is empty now: released in one round trip
                # (refused while work is queued, so nothing is stranded).
                return None
            raw_inflight = await self._state.inflight(cart_id)
            raw_queue = await self._state.queued(cart_id, self._max_batch)
        queue = [QUEUED.decode(raw) for raw in raw_queue]
        if not queue:
            if await self._state.release_lease(cart_id, lease) == 0:
                return True  # work was queued meanwhile: another turn
            return None
        return await self._runner.run(cart_id, lease, queue, raw_inflight, known)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, StateUnavailable):
        await task
