"""The cart service: reads from snapshots, writes through the cart's lane.

A read: owner → cart id (near-cached) → snapshot (near copy, else Redis, else one
upstream read however many callers miss at once) → 304 or the stored bytes. A
snapshot older than the freshness window is served and refreshed in the background;
when the store is down the last snapshot is served marked ``stale``.

A write: owner → cart id → the cart's lane (``lane.py``), which coalesces concurrent
writes from every replica into Store API batches, one in flight per cart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import msgspec
import structlog

from ..auth import Owner
from ..request_context import note_batch, note_cache
from ..settings import Settings
from ..state.port import Change, Message, Snapshot, StateStore, StateUnavailable
from ..upstream.errors import UpstreamRateLimited, UpstreamRejected, UpstreamUnavailable
from ..upstream.port import ProductQuery, Upstream
from . import model
from .errors import CartError, Conflict, Invalid, NotFound, Unavailable, translate
from .feed import ChangeFeed
from .lane import Lane, OpResult, QueuedOp, UpstreamSession, new_op_id
from .merge import plan
from .near_cache import NearCache
from .operations import ApplyCoupon, Operation
from .single_flight import single_flight
from .snapshots import Snapshots, decode_body

log = structlog.get_logger(__name__)
NONCE_KEY = "upstream-nonce"
SHUTDOWN_LANE_GRACE_S = 5.0  # a batch's worst case at the measured upstream latency
NONCE_TTL_S = 6 * 3600  # a guest nonce lives 12-24 h; refresh well before
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class CartView:
    """What a cart read answers: the encoded cart and its entity tag."""

    body: bytes
    etag: str
    not_modified: bool = False
    stale: bool = False


@dataclass(slots=True)
class Stats:
    """Counters for metrics (per replica)."""

    near_hits: int = 0
    state_hits: int = 0
    stale_served: int = 0
    idempotent_replays: int = 0


def parse_tag(header: str | None) -> tuple[str, int] | None:
    """``"<epoch>.<version>"`` (or ``W/"..."``) → (epoch, version)."""
    if not header:
        return None
    value = header.strip().split(",")[0].strip()
    value = value.removeprefix("W/").strip('"')
    epoch, _, version = value.partition(".")
    if not epoch or not version.isdigit():
        return None
    return epoch, int(version)


class CartService:
    def __init__(
        self,
        settings: Settings,
        state: StateStore,
        upstream: Upstream,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._state = state
        self._upstream = upstream
        self._clock = clock
        self._near = NearCache()
        self.feed = ChangeFeed()
        self._snapshots = Snapshots(state, self._near, clock)
        self.lane = Lane(
            state,
            upstream,
            self._snapshots,
            UpstreamSession(state, upstream, NONCE_KEY, NONCE_TTL_S),
            lease_ttl_s=settings.lock_ttl_s,
            upstream_timeout_s=settings.upstream_read_timeout_s,
            reconcile_grace_s=settings.reconcile_grace_s,
            linger_s=settings.linger_ms / 1000,
            on_upstream=self._upstream_seen,
        )
        self._flights: dict[str, asyncio.Future[Snapshot]] = {}
        self._reading: dict[str, asyncio.Future[Snapshot | None]] = {}
        self._touched: dict[str, float] = {}
        self._failing: set[str] = set()  # carts whose last refresh failed
        self._background: set[asyncio.Task[None]] = set()
        self._products: dict[str, tuple[bytes, float]] = {}
        self._product_loads: dict[str, asyncio.Future[bytes]] = {}
        self.stats = Stats()
        self._upstream_ok_at: float | None = None
        self._upstream_failed_at: float | None = None

    async def start(self) -> None:
        await self._state.subscribe(self._on_message)

    @property
    def draining(self) -> bool:
        return self.feed.closing

    def drain(self) -> None:
        """SIGTERM: stop being ready and end the change-feed streams; requests in flight
        (writes waiting for their batch included) are still answered before the server
        stops, and ``close()`` then hands the lanes over."""
        if not self.feed.closing:
            log.info("draining: streams closed, readiness off")
            self.feed.close_all()

    async def close(self) -> None:
        await self.lane.close(grace_s=SHUTDOWN_LANE_GRACE_S if self.draining else 0.0)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def _on_message(self, message: Message | None) -> None:
        if message is None or isinstance(message, Change):
            self._near.apply(message)
            self.feed.dispatch(message)
        await self.lane.on_message(message)

    def _upstream_seen(self, ok: bool) -> None:
        if ok:
            self._upstream_ok_at = self._clock()
        else:
            self._upstream_failed_at = self._clock()

    def upstream_health(self) -> dict[str, object]:
        """For ``/healthz``: an upstream outage is reported, never a reason to stop serving."""
        return {
            "last_success": self._upstream_ok_at,
            "last_failure": self._upstream_failed_at,
            "carts_served_stale": len(self._failing),
        }

    # -- registry --------------------------------------------------------------------
    async def cart_id(self, owner: Owner) -> str:
        """The owner's cart id, created on first use (one cart per owner)."""
        cached = self._near.cart_of(owner.id)
        if cached is not None:
            return cached
        cart_id = await self._state.cart_of(owner.id)
        if cart_id is None:
            # The id says whose: the state store keeps guests' carts for less time.
            cart_id = await self._state.claim_cart(
                owner.id, f"c{owner.kind[0]}_" + secrets.token_hex(12)
            )
        self._near.remember_owner(owner.id, cart_id)
        structlog.contextvars.bind_contextvars(cart_id=cart_id)
        return cart_id

    def forget_owner(self, owner_id: str) -> None:
        self._near.forget_owner(owner_id)

    async def _touch(self, owner: Owner) -> None:
        """Keep an active owner's binding alive; at most once an hour per owner."""
        now = time.monotonic()
        if now - self._touched.get(owner.id, -1e9) < 3600:
            return
        await self._state.touch_owner(owner.id, self._owner_ttl(owner))
        self._touched[owner.id] = now
        if len(self._touched) > 100_000:
            self._touched.pop(next(iter(self._touched)))

    def _owner_ttl(self, owner: Owner) -> int:
        days = (
            self._settings.guest_cart_ttl_days
            if owner.kind == "guest"
            else self._settings.cart_ttl_days
        )
        return int(days * 86400)

    # -- checkout handoff ------------------------------------------------------------
    async def checkout_code(self, owner: Owner) -> tuple[str, int]:
        """A single-use code for the checkout link (its hash is what is stored)."""
        cart_id = await self.cart_id(owner)
        code = secrets.token_urlsafe(32)
        ttl = self._settings.handoff_ttl_s
        await self._state.set_value(_handoff_key(code), cart_id.encode(), ttl)
        return code, int(time.time()) + ttl

    async def redeem(self, code: str) -> str:
        """The upstream token behind a checkout code, fresh; the code works once."""
        raw = await self._state.take_value(_handoff_key(code))
        if raw is None:
            raise NotFound(
                "link_expired", "This checkout link was used or has expired.", field="code"
            )
        cart_id = raw.decode()
        await self._read_through(cart_id)  # renews the token (and rebuilds a lost cart)
        token = await self._state.upstream_token(cart_id)
        if token is None:
            raise Unavailable(
                "upstream_unavailable", "The cart is not in the store yet.", retry_after=2
            )
        return token

    # -- reads -------------------------------------------------------------------------
    async def _stored(self, cart_id: str, wanted: tuple[str, int] | None) -> Snapshot | None:
        near = self._near.get(cart_id)
        if near is not None and (
            wanted is None or wanted[0] != near.epoch or wanted[1] <= near.version
        ):
            self.stats.near_hits += 1
            note_cache("near")
            return near
        # Many streams woken by one change: one Redis read.
        return await single_flight(self._reading, cart_id, lambda: self._from_state(cart_id))

    async def _from_state(self, cart_id: str) -> Snapshot | None:
        stored = await self._snapshots.current(cart_id)
        if stored is not None:
            self.stats.state_hits += 1
            note_cache("state")
        return stored

    async def _refresh(self, cart_id: str) -> Snapshot:
        """One upstream read for however many callers need it (per replica)."""
        return await single_flight(self._flights, cart_id, lambda: self._read_through(cart_id))

    async def _read_through(self, cart_id: str) -> Snapshot:
        deadline = time.monotonic() + self._settings.lock_wait_s
        while True:
            async with self.lane.holding(cart_id) as token:
                if token is not None:
                    try:
                        snapshot = await self.lane.read_upstream(cart_id, token)
                    except UpstreamUnavailable as exc:
                        self._failing.add(cart_id)
                        raise _unavailable(exc) from exc
                    except UpstreamRejected as exc:
                        self._failing.add(cart_id)
                        raise Unavailable(
                            "upstream_unavailable",
                            "The store refused to read the cart.",
                            retry_after=5,
                        ) from exc
                    self._failing.discard(cart_id)
                    return snapshot
            # A writer holds the cart: its snapshot will come.
            stored = await self._snapshots.current(cart_id)
            if stored is not None:
                return stored
            if time.monotonic() > deadline:
                raise Unavailable("cart_busy", "The cart is busy; retry shortly.", retry_after=1)
            await asyncio.sleep(0.05)

    def _refresh_later(self, cart_id: str, owner: Owner) -> None:
        if cart_id in self._flights:
            return

        async def refresh() -> None:
            try:
                # Read carts are not idle: keep the owner's binding as long as the cart.
                await self._touch(owner)
                async with self.lane.holding(cart_id) as token:
                    if token is None:
                        return  # a writer holds it and will store a fresh snapshot
                    await self.lane.read_upstream(cart_id, token)
                    self._failing.discard(cart_id)
            except UpstreamUnavailable:
                self._failing.add(cart_id)
            except (CartError, StateUnavailable, UpstreamRejected) as exc:
                log.info("background refresh failed", cart_id=cart_id, error=type(exc).__name__)

        task = asyncio.create_task(refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def hot_snapshot(self, owner: Owner) -> Snapshot | None:
        """The near copy of the owner's cart if it can be served as it is: known owner,
        fresh, store not failing. None sends the request down the full path."""
        cart_id = self._near.cart_of(owner.id)
        if cart_id is None or cart_id in self._failing:
            return None
        snapshot = self._near.get(cart_id)
        if snapshot is None or (
            self._clock() - snapshot.fetched_at > self._settings.snapshot_freshness_s
        ):
            return None
        self.stats.near_hits += 1
        note_cache("near")
        return snapshot

    async def read(self, owner: Owner, if_none_match: str | None = None) -> CartView:
        wanted = parse_tag(if_none_match)
        cart_id = await self.cart_id(owner)
        snapshot = await self._stored(cart_id, wanted)
        if snapshot is None:
            snapshot = await self._refresh(cart_id)
        elif self._clock() - snapshot.fetched_at > self._settings.snapshot_freshness_s:
            self._refresh_later(cart_id, owner)
        stale = cart_id in self._failing and (
            self._clock() - snapshot.fetched_at > self._settings.snapshot_freshness_s
        )
        if wanted is not None and wanted == (snapshot.epoch, snapshot.version):
            return CartView(b"", snapshot.etag, not_modified=True, stale=stale)
        if stale:
            self.stats.stale_served += 1
            return CartView(model.mark_stale(snapshot.body), snapshot.etag, stale=True)
        return CartView(snapshot.body, snapshot.etag)

    async def wait_for_change(self, owner: Owner, known: str, timeout_s: float) -> CartView:
        """Long poll: the cart once its version is no longer ``known`` (or 304 on timeout)."""
        cart_id = await self.cart_id(owner)
        with self.feed.listen(cart_id) as changes:
            deadline = time.monotonic() + timeout_s
            while True:
                view = await self.read(owner)
                if view.etag.strip('"') != known.strip('"'):
                    return view
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return CartView(b"", view.etag, not_modified=True, stale=view.stale)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await changes.get()

    # -- writes ------------------------------------------------------------------------
    async def apply(
        self,
        owner: Owner,
        operations: Sequence[tuple[str, Operation]],
        *,
        if_match: str | None = None,
    ) -> list[OpResult | None]:
        """Queue operations (``(op_id, operation)``, in order) on the owner's cart and wait
        for their results; None where the outcome is not known within the write timeout.
        ``if_match`` (an ETag) guards the first operation."""
        cart_id = await self.cart_id(owner)
        now = self._clock()
        tag = if_match.strip().removeprefix("W/").strip('"') if if_match else None
        await self._touch(owner)
        group = new_op_id() if len(operations) > 1 else ""
        queued = [
            QueuedOp(op_id, operation, tag if index == 0 else None, group, len(operations), now)
            for index, (op_id, operation) in enumerate(operations)
        ]
        results = await self.lane.submit(cart_id, queued, self._settings.write_timeout_s)
        note_batch(max((r.batch for r in results if r is not None), default=0))
        return results

    async def abandoned(self, owner: Owner, op_ids: Sequence[str]) -> bool:
        """None of these operations is queued, in flight or answered: they never left the
        request that reserved them."""
        cart_id = await self.cart_id(owner)
        return not await self.lane.knows(cart_id, op_ids)

    async def recorded(self, owner: Owner, op_ids: Sequence[str]) -> list[OpResult | None]:
        """Results recorded so far for operations queued by an earlier request; takes the
        cart's lease if nobody holds it, so a dead holder's work resumes."""
        cart_id = await self.cart_id(owner)
        results = await self.lane.recorded(cart_id, op_ids)
        if any(r is None for r in results):
            self.lane.kick(cart_id)
        return results

    # -- products ------------------------------------------------------------------------
    async def products(self, query: ProductQuery) -> bytes:
        key = (
            f"products:{query.page}:{query.per_page}:{query.search}:{query.category}:"
            f"{query.product_type}:{query.parent}"
        )
        return await self._cached(key, lambda: self._upstream.list_products(query))

    async def product(self, product_id: int) -> bytes:
        return await self._cached(
            f"product:{product_id}", lambda: self._upstream.get_product(product_id)
        )

    async def _cached(self, key: str, load: Callable[[], Awaitable[object]]) -> bytes:
        """Products are the same for everyone: near copy, then the state store, then
        the store, each kept ``products_ttl_s``."""
        now = time.monotonic()
        near = self._products.get(key)
        if near is not None and near[1] > now:
            return near[0]
        # A page everyone asks for at once: one load.
        return await single_flight(self._product_loads, key, lambda: self._load_product(key, load))

    async def _load_product(self, key: str, load: Callable[[], Awaitable[object]]) -> bytes:
        ttl = self._settings.products_ttl_s
        stored = await self._state.get_value(key)
        if stored is None:
            try:
                loaded = await load()
            except UpstreamUnavailable as exc:
                raise _unavailable(exc) from exc
            except UpstreamRejected as exc:
                raise translate(exc) from exc
            stored = _ENCODER.encode(loaded)
            await self._state.set_value(key, stored, ttl)
        self._products[key] = (stored, time.monotonic() + ttl)
        if len(self._products) > 2000:
            self._products.pop(next(iter(self._products)))
        return stored


def _handoff_key(code: str) -> str:
    return "handoff:" + hashlib.sha256(code.encode()).hexdigest()


def _unavailable(exc: UpstreamUnavailable) -> CartError:
    if isinstance(exc, UpstreamRateLimited):
        return Unavailable(
            "upstream_busy",
            "The store is rate limiting us; retry later.",
            retry_after=exc.retry_after,
        )
    return Unavailable(
        "upstream_unavailable",
        "The store is not answering; retry shortly.",
        retry_after=exc.retry_after,
    )


__all__ = ["CartService", "CartView", "new_op_id"]


class MergeLine(msgspec.Struct):
    product_id: int
    name: str
    quantity: int
    status: str  # merged | unchanged | refused | pending
    error: dict[str, str | None] | None = None


class MergeReport(msgspec.Struct):
    policy: str
    lines: list[MergeLine]
    coupons: list[MergeLine]


_MERGE_RECORD = msgspec.msgpack.Decoder(tuple[str, MergeReport])


async def merge_guest(
    service: CartService, state: StateStore, user: Owner, guest: Owner, policy: str, ttl_s: int
) -> MergeReport:
    """Merge ``guest``'s cart into ``user``'s; running it again changes nothing."""
    if user.kind != "user":
        raise Invalid(
            "invalid_request",
            "Only a signed-in user's cart can take a guest cart.",
            field="authorization",
        )
    key = f"merge:{guest.id}"
    existing = await state.reserve_record(key, msgspec.msgpack.encode(("pending", None)), ttl_s)
    if existing is not None:
        status, report = msgspec.msgpack.decode(existing, type=tuple[str, MergeReport | None])
        if status == "pending" or report is None:
            raise Conflict(
                "merge_in_progress",
                "This guest cart is being merged.",
                field="guest_token",
                retry_after=1,
            )
        if status != user.id:
            raise Conflict(
                "guest_already_merged",
                "This guest cart was merged into another account.",
                field="guest_token",
            )
        return report
    try:
        report = MergeReport(policy, [], [])
        if await state.cart_of(guest.id) is not None:
            guest_cart = decode_body((await service.read(guest)).body)
            user_cart = decode_body((await service.read(user)).body)
            lines, extra = plan(user_cart, guest_cart, policy)
            todo = [(new_op_id(), line.operation) for line in lines if line.operation is not None]
            todo += [(new_op_id(), op) for op in extra]
            results = await service.apply(user, todo) if todo else []
            outcome = dict(zip([op_id for op_id, _ in todo], results, strict=True))
            by_operation = {id(op): op_id for op_id, op in todo}
            for line in lines:
                if line.operation is None:
                    status, error = "unchanged", None
                else:
                    status, error = _status(outcome.get(by_operation[id(line.operation)]))
                report.lines.append(
                    MergeLine(
                        line.guest.product_id, line.guest.name, line.guest.quantity, status, error
                    )
                )
            for op_id, op in todo:
                if isinstance(op, ApplyCoupon):
                    status, error = _status(outcome.get(op_id))
                    report.coupons.append(MergeLine(0, op.code, 0, status, error))
            await state.forget_owner(guest.id)
            service.forget_owner(guest.id)
        await state.put_record(key, msgspec.msgpack.encode((user.id, report)), ttl_s)
        return report
    except BaseException:
        await state.drop_record(key)
        raise


def _status(result: OpResult | None) -> tuple[str, dict[str, str | None] | None]:
    if result is None:
        return "pending", None
    if result.outcome == "applied":
        return "merged", None
    return "refused", {"code": result.code, "message": result.message}
