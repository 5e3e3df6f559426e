"""The lane: every write to one cart, from any replica, coalesced into Store API batches.

Any replica queues operations in the cart's Redis list and tries to take the cart's
lease. The lease holder (one per cart in the whole deployment) drains the queue: the
first operation leaves at once; those that arrive while a call is in flight leave
together as the next batch (at most 25). It records each operation's result in Redis
and announces them; waiting callers, on whichever replica, collect their own.

Nothing is lost or applied twice:
- operations leave the queue only when their results are recorded, by the holder, in
  one fenced step;
- before a batch leaves, the holder records it as in flight; if the answer is lost (or
  the holder dies), the next holder re-reads the cart: unchanged, the batch is sent
  again; changed, each operation is checked against the cart (``reconcile.py``);
- the lease outlives an upstream call, is renewed while one runs, and no batch leaves
  with less lease left than the upstream timeout (WooCommerce cannot check a fencing
  token, so this is the guard); snapshots and results are fenced by the lease token.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import msgspec
import structlog

from ..state.port import Message, ResultsReady, Snapshot, StateStore, StateUnavailable
from ..upstream.errors import (
    UpstreamNonceRejected,
    UpstreamOutcomeUnknown,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from ..upstream.port import BatchOutcome, Upstream
from ..upstream.storeapi_mapping import plain_text
from . import errors as domain
from . import model
from .operations import AddItem, Operation
from .rebuild import restore_plan
from .reconcile import applied
from .snapshots import Snapshots, decode

log = structlog.get_logger(__name__)
MAX_BATCH = 25
RESULTS_TTL_S = 600
_RECONCILE_POLL_S = 0.25
_TOKEN_REFRESH_S = 3600.0  # renew upstream tokens with less than this left


class QueuedOp(msgspec.Struct, array_like=True):
    """An operation waiting in a cart's queue."""

    op_id: str
    operation: Operation
    if_match: str | None = None  # guards the whole group: one request's operations
    group: str = ""
    group_size: int = 1
    enqueued_at: float = 0.0


class OpResult(msgspec.Struct, omit_defaults=True):
    """What became of one operation. ``outcome``: applied, refused (the store said no),
    precondition_failed (If-Match), not_applied (certainly not: retry is safe)."""

    op_id: str
    outcome: str
    kind: str = ""
    code: str = ""
    message: str = ""
    field: str | None = None
    retry_after: int | None = None
    etag: str = ""
    body: bytes = b""  # the cart after the batch (applied), or the store's cart (refused)
    batch: int = 0  # operations in the upstream write that carried it (0: none, or unknown)


class Inflight(msgspec.Struct):
    """A batch that left for the store and whose results are not recorded yet."""

    op_ids: list[str]
    before: bytes  # the cart the batch was applied to (encoded snapshot body)
    before_digest: str
    sent_at: float = 0.0  # wall clock: a lost request may still run this long after


_QUEUED = msgspec.msgpack.Decoder(QueuedOp)
_RESULT = msgspec.msgpack.Decoder(OpResult)
_INFLIGHT = msgspec.msgpack.Decoder(Inflight)
_PACK = msgspec.msgpack.Encoder()

_KIND_BY_CLASS: dict[type[domain.CartError], str] = {
    domain.Invalid: "invalid",
    domain.NotFound: "not_found",
    domain.Conflict: "conflict",
    domain.RateLimited: "rate_limited",
    domain.Unavailable: "unavailable",
    domain.UpstreamTimedOut: "timeout",
}
CLASS_BY_KIND = {kind: cls for cls, kind in _KIND_BY_CLASS.items()}


def encode_op(op: QueuedOp) -> bytes:
    return _PACK.encode(op)


@dataclass(slots=True)
class LaneStats:
    batches: int = 0
    batch_operations: int = 0
    batch_sizes: dict[int, int] = field(default_factory=dict)
    upstream_writes: int = 0
    upstream_reads: int = 0
    lease_takeovers: int = 0
    rebuilds: int = 0
    reconciliations: int = 0
    resent_batches: int = 0


class UpstreamSession:
    """Tokens and nonce for a cart: what the lane needs to call the store.

    Every round trip to Redis shows in a write's latency, so: the guest nonce (one for
    the whole store, 12-24 h) is kept in memory for an hour; a token is written back
    only when it names another session or its expiry moved on by ten minutes (tokens
    slide 48 h: the stored one stays good); tokens are always read from the state store,
    since another replica may have rebuilt the cart into another session.
    """

    _NONCE_MEMORY_S = 3600.0
    _TOKEN_WRITE_STEP_S = 600.0

    def __init__(
        self, state: StateStore, upstream: Upstream, nonce_key: str, nonce_ttl_s: float
    ) -> None:
        self._state = state
        self._upstream = upstream
        self._nonce_key = nonce_key
        self._nonce_ttl_s = nonce_ttl_s
        self._nonce: tuple[str, float] | None = None
        self._written: dict[str, tuple[str | None, float]] = {}

    async def keep(self, cart_id: str, token: str | None, nonce: str | None) -> None:
        if token:
            session = self._upstream.token_session(token)
            expiry = self._upstream.token_expiry(token) or 0.0
            last = self._written.get(cart_id)
            if last is None or last[0] != session or expiry - last[1] >= self._TOKEN_WRITE_STEP_S:
                await self._state.set_upstream_token(cart_id, token)
                self._written[cart_id] = (session, expiry)
                if len(self._written) > 50_000:
                    self._written.pop(next(iter(self._written)))
        if nonce and (self._nonce is None or self._nonce[0] != nonce):
            await self._state.set_value(self._nonce_key, nonce.encode(), self._nonce_ttl_s)
            self._nonce = (nonce, time.monotonic())

    async def token(self, cart_id: str) -> str | None:
        return await self._state.upstream_token(cart_id)

    async def nonce(self) -> str | None:
        if self._nonce is not None and time.monotonic() - self._nonce[1] < self._NONCE_MEMORY_S:
            return self._nonce[0]
        cached = await self._state.get_value(self._nonce_key)
        if not cached:
            return None
        self._nonce = (cached.decode(), time.monotonic())
        return self._nonce[0]

    async def forget_nonce(self) -> None:
        self._nonce = None
        await self._state.set_value(self._nonce_key, b"", 0.001)


class Lane:
    """This replica's part of every cart's lane."""

    def __init__(
        self,
        state: StateStore,
        upstream: Upstream,
        snapshots: Snapshots,
        session: UpstreamSession,
        *,
        lease_ttl_s: float,
        upstream_timeout_s: float,
        reconcile_grace_s: float = 30.0,
        linger_s: float = 0.0,
        on_upstream: Callable[[bool], None] | None = None,
    ) -> None:
        self._state = state
        self._upstream = upstream
        self._snapshots = snapshots
        self._session = session
        self._lease_ttl_s = lease_ttl_s
        self._upstream_timeout_s = upstream_timeout_s
        self._grace_s = reconcile_grace_s
        self._linger_s = linger_s
        self._on_upstream = on_upstream or (lambda ok: None)
        self._waiters: dict[str, asyncio.Future[OpResult]] = {}
        self._leading: dict[str, asyncio.Task[None]] = {}
        self._tokens: dict[str, str] = {}
        self.stats = LaneStats()

    # -- callers ----------------------------------------------------------------------
    async def submit(
        self, cart_id: str, queued: Sequence[QueuedOp], timeout_s: float
    ) -> list[OpResult | None]:
        """Queue operations (in order, together) and wait for their results; None for
        an operation whose result did not come within ``timeout_s``."""
        loop = asyncio.get_running_loop()
        futures = {q.op_id: loop.create_future() for q in queued}
        self._waiters.update(futures)
        try:
            await self._state.enqueue(cart_id, [encode_op(q) for q in queued])
            self.kick(cart_id)
            return await self._wait(cart_id, futures, timeout_s)
        finally:
            for op_id in futures:
                self._waiters.pop(op_id, None)

    async def knows(self, cart_id: str, op_ids: Sequence[str]) -> bool:
        """Whether any of these operations is queued, in flight or has a result."""
        wanted = set(op_ids)
        if any(r is not None for r in await self._state.results(cart_id, list(op_ids))):
            return True
        queued = await self._state.queued(cart_id, 10_000)
        if any(_QUEUED.decode(raw).op_id in wanted for raw in queued):
            return True
        raw_inflight = await self._state.inflight(cart_id)
        return raw_inflight is not None and bool(
            wanted & set(_INFLIGHT.decode(raw_inflight).op_ids)
        )

    async def recorded(self, cart_id: str, op_ids: Sequence[str]) -> list[OpResult | None]:
        """The recorded results of operations, None where not recorded (yet)."""
        raw = await self._state.results(cart_id, op_ids)
        return [_RESULT.decode(r) if r is not None else None for r in raw]

    async def _wait(
        self, cart_id: str, futures: dict[str, asyncio.Future[OpResult]], timeout_s: float
    ) -> list[OpResult | None]:
        deadline = time.monotonic() + timeout_s
        pending = set(futures)
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            waiting = [futures[op_id] for op_id in pending]
            await asyncio.wait(waiting, timeout=min(remaining, 1.0))
            pending = {op_id for op_id in pending if not futures[op_id].done()}
            if pending:
                # Missed announcement, or a dead holder: read recorded results, and
                # take the lease if nobody holds it.
                await self._fetch_results(cart_id, sorted(pending))
                pending = {op_id for op_id in pending if not futures[op_id].done()}
                if pending:
                    self.kick(cart_id)
        return [futures[op_id].result() if futures[op_id].done() else None for op_id in futures]

    async def _fetch_results(self, cart_id: str, op_ids: Sequence[str]) -> None:
        with contextlib.suppress(StateUnavailable):
            for raw in await self._state.results(cart_id, op_ids):
                if raw is not None:
                    self._resolve(_RESULT.decode(raw))

    def _resolve(self, result: OpResult) -> None:
        future = self._waiters.get(result.op_id)
        if future is not None and not future.done():
            future.set_result(result)

    async def on_message(self, message: Message | None) -> None:
        """Results announced by a holder (maybe on another replica)."""
        if isinstance(message, ResultsReady):
            mine = [op_id for op_id in message.op_ids if op_id in self._waiters]
            if mine:
                await self._fetch_results(message.cart_id, mine)
        # A gap (message None) needs nothing here: waiters read recorded results
        # periodically anyway.

    # -- leadership -----------------------------------------------------------------------
    def kick(self, cart_id: str, held: str | None = None) -> None:
        """Try to become the cart's holder and drain its queue (in the background);
        ``held``: we already hold the lease with this token."""
        task = self._leading.get(cart_id)
        if task is not None and not task.done() and held is None:
            return
        task = asyncio.create_task(self._lead(cart_id, held))
        self._leading[cart_id] = task
        task.add_done_callback(lambda done: self._lead_ended(cart_id, done))

    def _lead_ended(self, cart_id: str, task: asyncio.Task[None]) -> None:
        if self._leading.get(cart_id) is task:
            del self._leading[cart_id]
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "lane stopped by an unexpected error", cart_id=cart_id, exc_info=task.exception()
            )

    @property
    def waiting(self) -> int:
        """Operations this replica has queued and not yet had answered."""
        return len(self._waiters)

    @property
    def leading(self) -> int:
        """Carts whose lane this replica is draining now."""
        return len(self._leading)

    async def close(self, grace_s: float = 0.0) -> None:
        """Stop leading. Batches under way get ``grace_s`` to finish (at shutdown: what
        is left is other replicas' callers' work, and finishing it spares them waiting
        out the lease); a leader cut short leaves its in-flight record, and whoever
        takes the lease next reconciles it, so nothing is lost or applied twice."""
        tasks = list(self._leading.values())
        if tasks and grace_s > 0:
            await asyncio.wait(tasks, timeout=grace_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def holding(self, cart_id: str) -> AsyncIterator[str | None]:
        """Hold the cart's lease for a block (a read from the store), renewing it."""
        token = secrets.token_hex(8)
        if not await self._state.acquire_lease(cart_id, token, self._lease_ttl_s):
            yield None
            return
        renew = asyncio.create_task(self._renew(cart_id, token))
        try:
            yield token
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
            released = await self._state.release_lease(cart_id, token)
            if released == 0:
                # Work was queued meanwhile and the lease stays ours: drain the queue.
                self.kick(cart_id, held=token)

    async def _renew(self, cart_id: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease_ttl_s / 3)
            if not await self._state.renew_lease(cart_id, token, self._lease_ttl_s):
                log.warning("lease lost", cart_id=cart_id)
                return

    async def _lead(self, cart_id: str, held: str | None = None) -> None:
        token = held or secrets.token_hex(8)
        first: tuple[bytes | None, list[bytes]] | None = None
        if held is None:
            try:
                first = await self._state.lead(cart_id, token, self._lease_ttl_s, MAX_BATCH)
            except StateUnavailable:
                return
            if first is None:
                return
            if first[0] is not None:
                self.stats.lease_takeovers += 1
                log.info("lease taken over with a batch in flight", cart_id=cart_id)
        renew = asyncio.create_task(self._renew(cart_id, token))
        backoff = 0.2
        try:
            while True:
                if first is not None and not self._linger_s:
                    raw_inflight, raw_queue = first  # read with the lease: one round trip
                else:
                    if self._linger_s:
                        await asyncio.sleep(self._linger_s)
                    elif first is None:
                        # Most often the queue is empty now: release in one round trip
                        # (refused while work is queued, so nothing is stranded).
                        released = await self._state.release_lease(cart_id, token)
                        if released != 0:
                            return
                    raw_inflight = await self._state.inflight(cart_id)
                    raw_queue = await self._state.queued(cart_id, MAX_BATCH)
                first = None
                batch = [_QUEUED.decode(raw) for raw in raw_queue]
                if not batch:
                    released = await self._state.release_lease(cart_id, token)
                    if released == 0:
                        continue
                    return
                log.debug("lane batch", cart_id=cart_id, queued=len(batch))
                try:
                    done = await self._run(cart_id, token, batch, raw_inflight)
                except (UpstreamUnavailable, StateUnavailable, domain.CartError) as exc:
                    log.warning("batch postponed", cart_id=cart_id, error=type(exc).__name__)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if not done:
                    log.warning("lease lost during a batch", cart_id=cart_id)
                    return  # the lease was lost: another holder carries on
                backoff = 0.2
        except asyncio.CancelledError:
            raise
        except StateUnavailable:
            log.warning("lane stopped: state store unavailable", cart_id=cart_id)
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError, StateUnavailable):
                await renew

    # -- one batch ----------------------------------------------------------------------
    async def read_upstream(self, cart_id: str, token: str) -> Snapshot:
        """Read the cart from the store and record it (the caller holds the lease)."""
        upstream_token = await self._session.token(cart_id)
        try:
            result = await self._upstream.fetch_cart(upstream_token)
        except UpstreamUnavailable:
            self._on_upstream(False)
            raise
        self.stats.upstream_reads += 1
        self._on_upstream(True)
        cart = result.cart
        if self._lost(upstream_token, result.token) and not cart.items:
            previous = await self._snapshots.current(cart_id)
            if previous is not None and decode(previous).items:
                cart = await self._restore(cart_id, decode(previous), result.token, result.nonce)
                snapshot = await self._snapshots.record(cart_id, cart, token)
                if snapshot is None:
                    raise StateUnavailable("lease lost while rebuilding the cart")
                return snapshot
        await self._session.keep(cart_id, result.token, result.nonce)
        snapshot = await self._snapshots.record(cart_id, cart, token)
        if snapshot is None:
            raise StateUnavailable("lease lost while reading the cart")
        return snapshot

    def _lost(self, sent: str | None, received: str | None) -> bool:
        """The store answered for another session: the one we had is gone (expired)."""
        if not sent or not received:
            return False
        before = self._upstream.token_session(sent)
        return before is not None and before != self._upstream.token_session(received)

    async def _restore(
        self, cart_id: str, previous: model.Cart, token: str, nonce: str | None
    ) -> model.Cart:
        """Put ``previous`` back into the store's new session ``token``; the lines that
        could not be restored are reported in the cart's ``errors``. The new token is
        kept only once the cart is back: a failure leaves the old one, and the next
        attempt starts over in another new session."""
        self.stats.rebuilds += 1
        log.info("rebuilding a lost upstream cart", cart_id=cart_id, lines=len(previous.items))
        nonce = nonce or await self._session.nonce() or ""
        plan = restore_plan(previous)
        cart: model.Cart | None = None
        unrestored: list[model.CartError] = []
        newest = token
        for start in range(0, len(plan), MAX_BATCH):
            chunk = plan[start : start + MAX_BATCH]
            self.stats.upstream_writes += 1
            outcome = await self._upstream.apply_batch(newest, nonce, chunk)
            newest = outcome.token or newest
            cart = outcome.cart or cart
            for op, error in zip(chunk, outcome.errors, strict=True):
                if error is not None and isinstance(op, AddItem):
                    name = next(
                        (i.name for i in previous.items if i.product_id == op.product_id),
                        str(op.product_id),
                    )
                    unrestored.append(
                        model.CartError(
                            code="line_not_restored",
                            message=f"{name} × {op.quantity} could not be restored: "
                            f"{plain_text(error.message)}",
                        )
                    )
        await self._session.keep(cart_id, newest, nonce)
        if cart is None:
            cart = (await self._upstream.fetch_cart(newest)).cart
        return msgspec.structs.replace(cart, errors=[*cart.errors, *unrestored])

    async def _run(
        self, cart_id: str, token: str, queue: list[QueuedOp], raw_inflight: bytes | None
    ) -> bool:
        """Process the head of the queue; False when the lease was lost."""
        if raw_inflight is not None:
            return await self._resume(cart_id, token, queue, _INFLIGHT.decode(raw_inflight))
        try:
            stored, upstream_token = await self._state.snapshot_and_token(cart_id)
            expiry = self._upstream.token_expiry(upstream_token)
            if stored is None or (expiry is not None and expiry - time.time() < _TOKEN_REFRESH_S):
                # A cart never read, or a token to renew before it lands us in a new
                # session: read the store first (its token slides).
                stored = await self.read_upstream(cart_id, token)
                upstream_token = await self._session.token(cart_id)
            before = stored
        except UpstreamUnavailable as exc:
            # The batch has not left: its operations certainly did not apply.
            batch = queue[:MAX_BATCH]
            return await self._complete(cart_id, token, len(batch), _not_applied(batch, exc))
        head = queue[0]
        if head.if_match is not None and head.if_match != before.tag:
            group = [head]
            if head.group_size > 1:
                raw = await self._state.queued(cart_id, head.group_size)
                group = [q for q in map(_QUEUED.decode, raw) if q.group == head.group]
            failed = [
                OpResult(
                    q.op_id,
                    "precondition_failed",
                    kind="precondition",
                    code="precondition_failed",
                    message="The cart changed since that version.",
                    field="If-Match",
                    etag=before.etag,
                    body=before.body,
                )
                for q in group
            ]
            return await self._complete(cart_id, token, len(failed), failed)
        batch = queue[:MAX_BATCH]
        for index, queued in enumerate(batch[1:], start=1):
            if queued.if_match is not None:
                batch = batch[:index]  # a precondition is checked at the head of a batch
                break
        # One round trip: renew the lease (no batch leaves with less lease left than a
        # call may take), find operations queued twice, record the batch as in flight.
        record = Inflight([q.op_id for q in batch], before.body, before.digest, time.time())
        answered = await self._state.begin_batch(
            cart_id, token, self._lease_ttl_s, [q.op_id for q in batch], _PACK.encode(record)
        )
        if answered is None:
            return False
        if answered[0] is not None:
            # Queued twice (a retry raced the first attempt): answered already, drop it.
            return await self._complete(cart_id, token, 1, [_RESULT.decode(answered[0])])
        if any(a is not None for a in answered):
            cut = next(i for i, a in enumerate(answered) if a is not None)
            # Not recorded in flight (begin_batch saw answered ones): record the prefix.
            batch = batch[:cut]
            record = Inflight([q.op_id for q in batch], before.body, before.digest, time.time())
            if not await self._state.set_inflight(cart_id, token, _PACK.encode(record)):
                return False
        return await self._send(
            cart_id, token, batch, before, attempts=3, upstream_token=upstream_token
        )

    async def _ensure_lease(self, cart_id: str, token: str) -> bool:
        """No batch leaves with less lease left than an upstream call may take."""
        return await self._state.renew_lease(cart_id, token, self._lease_ttl_s)

    async def _send(
        self,
        cart_id: str,
        token: str,
        batch: list[QueuedOp],
        before: Snapshot,
        attempts: int,
        upstream_token: str | None = None,
    ) -> bool:
        operations = [q.operation for q in batch]
        if upstream_token is None:
            upstream_token = await self._session.token(cart_id)
        if upstream_token is None:
            await self.read_upstream(cart_id, token)
            upstream_token = await self._session.token(cart_id)
        assert upstream_token is not None
        nonce = await self._session.nonce()
        if not nonce:
            await self.read_upstream(cart_id, token)
            nonce = await self._session.nonce() or ""
        self.stats.batches += 1
        self.stats.batch_operations += len(batch)
        self.stats.batch_sizes[len(batch)] = self.stats.batch_sizes.get(len(batch), 0) + 1
        self.stats.upstream_writes += 1
        try:
            try:
                outcome = await self._upstream.apply_batch(upstream_token, nonce, operations)
            except UpstreamNonceRejected:
                await self._session.forget_nonce()
                await self.read_upstream(cart_id, token)
                nonce = await self._session.nonce() or ""
                self.stats.upstream_writes += 1
                outcome = await self._upstream.apply_batch(upstream_token, nonce, operations)
        except UpstreamOutcomeUnknown as lost:
            self._on_upstream(False)
            # A store that answered (5xx) is done with the request: no grace to wait.
            sent_at = time.time() - (self._grace_s if lost.finished else 0.0)
            return await self._reconcile(cart_id, token, batch, before, attempts, sent_at=sent_at)
        except UpstreamUnavailable as exc:
            # Certainly not applied (not sent, or refused before running): a retry is safe.
            self._on_upstream(False)
            return await self._complete(cart_id, token, len(batch), _not_applied(batch, exc))
        self._on_upstream(True)
        if self._lost(upstream_token, outcome.token) and decode(before).items:
            # The token expired between our check and the store (clocks disagree): the
            # batch went to a new session. Put the rest of the cart back beside it.
            assert outcome.token is not None
            restored = await self._restore(cart_id, decode(before), outcome.token, nonce)
            outcome = BatchOutcome(outcome.errors, restored, None, outcome.nonce)
        return await self._record(cart_id, token, batch, before, outcome)

    async def _record(
        self,
        cart_id: str,
        token: str,
        batch: list[QueuedOp],
        before: Snapshot,
        outcome: BatchOutcome,
    ) -> bool:
        await self._session.keep(cart_id, outcome.token, outcome.nonce)
        after = before
        if outcome.cart is not None:
            # ``before`` is what the holder read under this lease: the stored snapshot.
            recorded = await self._snapshots.record(
                cart_id, outcome.cart, token, current=before if before.epoch else None
            )
            if recorded is None:
                return False
            after = recorded
        results = []
        size = len(batch)
        for queued, error in zip(batch, outcome.errors, strict=True):
            if error is None:
                results.append(
                    OpResult(queued.op_id, "applied", etag=after.etag, body=after.body, batch=size)
                )
                continue
            translated = domain.translate(error)
            body = after.body if error.cart is not None else b""
            results.append(
                OpResult(
                    queued.op_id,
                    "refused",
                    kind=_KIND_BY_CLASS.get(type(translated), "conflict"),
                    code=translated.code,
                    message=translated.message,
                    field=translated.field,
                    etag=after.etag if body else "",
                    body=body,
                    batch=size,
                )
            )
        return await self._complete(cart_id, token, len(batch), results)

    async def _reconcile(
        self,
        cart_id: str,
        token: str,
        batch: list[QueuedOp],
        before: Snapshot,
        attempts: int,
        sent_at: float | None = None,
    ) -> bool:
        """The batch's answer was lost: find out from the cart what it did.

        A lost request may still be running on the store (PHP does not stop when the
        client gives up), so an unchanged cart proves nothing at once: the cart is read
        until it changes (then each operation is checked against it) or until the grace
        period after sending has passed (then the batch is sent again).
        """
        self.stats.reconciliations += 1
        sent_at = sent_at if sent_at is not None else time.time()
        while True:
            now = await self.read_upstream(cart_id, token)  # raises: retried by the loop
            if now.digest != before.digest:
                break
            if time.time() - sent_at >= self._grace_s:
                if attempts <= 1:
                    raise UpstreamOutcomeUnknown("the store keeps losing this batch's answers")
                self.stats.resent_batches += 1
                if not await self._state.set_inflight(
                    cart_id,
                    token,
                    _PACK.encode(
                        Inflight([q.op_id for q in batch], now.body, now.digest, time.time())
                    ),
                ):
                    return False
                return await self._send(cart_id, token, batch, now, attempts - 1)
            if not await self._ensure_lease(cart_id, token):
                return False
            await asyncio.sleep(_RECONCILE_POLL_S)
        done = applied(decode(before), decode(now), [q.operation for q in batch])
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
            for q, ok in zip(batch, done, strict=True)
        ]
        return await self._complete(cart_id, token, len(batch), results)

    async def _resume(
        self, cart_id: str, token: str, queue: list[QueuedOp], record: Inflight
    ) -> bool:
        """A previous holder left a batch in flight: reconcile it before anything else."""
        by_id = {q.op_id: q for q in queue}
        batch = [by_id[op_id] for op_id in record.op_ids if op_id in by_id]
        if len(batch) != len(record.op_ids) or queue[: len(batch)] != batch:
            log.error("in-flight record does not match the queue", cart_id=cart_id)
            batch = queue[: len(record.op_ids)]
        before = Snapshot("", 0, 0.0, record.before_digest, record.before)
        return await self._reconcile(
            cart_id, token, batch, before, attempts=3, sent_at=record.sent_at
        )

    async def _complete(
        self, cart_id: str, token: str, count: int, results: list[OpResult]
    ) -> bool:
        packed = {r.op_id: _PACK.encode(r) for r in results}
        if not await self._state.complete(cart_id, token, count, packed, RESULTS_TTL_S):
            return False
        for result in results:
            self._resolve(result)
        return True


def _not_applied(batch: Sequence[QueuedOp], exc: UpstreamUnavailable) -> list[OpResult]:
    """Results for operations that certainly did not reach the store: a retry is safe."""
    code = "upstream_busy" if isinstance(exc, UpstreamRateLimited) else "upstream_unavailable"
    return [
        OpResult(
            q.op_id,
            "not_applied",
            kind="unavailable",
            code=code,
            message="The store is not answering; nothing was changed.",
            retry_after=exc.retry_after,
        )
        for q in batch
    ]


def new_op_id() -> str:
    return "op_" + secrets.token_hex(10)
