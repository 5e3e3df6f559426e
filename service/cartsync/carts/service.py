"""The cart service: reads from snapshots, writes through the store, one writer per cart.

A read: owner → cart id (near-cached) → snapshot (near copy, else Redis, else one
upstream read however many callers miss at once) → 304 or the stored bytes. A
snapshot older than the freshness window is served and refreshed in the background;
when the store is down the last snapshot is served marked ``stale``.

A write: owner → cart id → the cart's lock → the store (with the newest Cart-Token
and the shared guest nonce) → the new snapshot, a new version only when the content
changed, announced to every replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec
import structlog

from ..auth import Owner
from ..settings import Settings
from ..state.port import Change, Snapshot, StateStore, StateUnavailable
from ..upstream.errors import (
    UpstreamNonceRejected,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ..upstream.port import ProductQuery, Upstream, UpstreamCart
from . import model
from .errors import CartError, Unavailable, UpstreamTimedOut, translate
from .locks import CartLocks
from .near_cache import NearCache
from .operations import Operation

log = structlog.get_logger(__name__)
NONCE_KEY = "upstream-nonce"
NONCE_TTL_S = 6 * 3600  # a guest nonce lives 12-24 h; refresh well before
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class CartView:
    """What a cart endpoint answers: the encoded cart and its entity tag."""

    body: bytes
    etag: str
    not_modified: bool = False
    stale: bool = False


@dataclass(slots=True)
class Stats:
    """Counters for metrics and the request log (per replica)."""

    near_hits: int = 0
    state_hits: int = 0
    upstream_reads: int = 0
    upstream_writes: int = 0
    stale_served: int = 0


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
        self._locks = CartLocks(state, settings.lock_ttl_s, settings.lock_wait_s)
        self._flights: dict[str, asyncio.Future[Snapshot]] = {}
        self._failing: set[str] = set()  # carts whose last refresh failed
        self._background: set[asyncio.Task[None]] = set()
        self._products: dict[str, tuple[bytes, float]] = {}
        self.stats = Stats()
        self._upstream_ok_at: float | None = None
        self._upstream_failed_at: float | None = None

    async def start(self) -> None:
        await self._state.subscribe(self._on_change)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    def upstream_health(self) -> dict[str, object]:
        """For ``/healthz``: an upstream outage is reported, never a reason to stop serving."""
        return {
            "last_success": self._upstream_ok_at,
            "last_failure": self._upstream_failed_at,
            "carts_served_stale": len(self._failing),
        }

    async def _on_change(self, change: Change | None) -> None:
        self._near.apply(change)

    # -- registry --------------------------------------------------------------------
    async def cart_id(self, owner: Owner) -> str:
        """The owner's cart id, created on first use (one cart per owner)."""
        cached = self._near.cart_of(owner.id)
        if cached is not None:
            return cached
        cart_id = await self._state.cart_of(owner.id)
        if cart_id is None:
            cart_id = await self._state.claim_cart(owner.id, "c_" + secrets.token_hex(12))
        self._near.remember_owner(owner.id, cart_id)
        return cart_id

    async def _keep(
        self,
        cart_id: str,
        result: UpstreamCart | None,
        token: str | None = None,
        nonce: str | None = None,
    ) -> None:
        """Keep the newest upstream token and nonce (they never leave the service)."""
        token = result.token if result is not None else token
        nonce = result.nonce if result is not None else nonce
        if token:
            await self._state.set_upstream_token(cart_id, token)
        if nonce:
            await self._state.set_value(NONCE_KEY, nonce.encode(), NONCE_TTL_S)

    # -- snapshots ---------------------------------------------------------------------
    async def _record(self, cart_id: str, cart: model.Cart) -> Snapshot:
        """Store ``cart`` as the cart's snapshot: a new version only if it changed."""
        now = self._clock()
        content = msgspec.structs.replace(cart, id=cart_id, version="", stale=False)
        digest = hashlib.blake2b(_ENCODER.encode(content), digest_size=12).hexdigest()
        current = await self._state.snapshot(cart_id)
        if current is not None and current.digest == digest:
            await self._state.touch_snapshot(cart_id, current.version, now)
            confirmed = Snapshot(current.epoch, current.version, now, digest, current.body)
            self._near.put(cart_id, confirmed)
            return confirmed
        epoch, version = await self._state.reserve_version(cart_id)
        body = _ENCODER.encode(msgspec.structs.replace(content, version=f"{epoch}.{version}"))
        snapshot = Snapshot(epoch, version, now, digest, body)
        if await self._state.store_snapshot(cart_id, snapshot):
            self._near.put(cart_id, snapshot)
            await self._state.publish(Change(cart_id, epoch, version))
            return snapshot
        newer = await self._state.snapshot(cart_id)
        return newer or snapshot

    async def _stored(self, cart_id: str, wanted: tuple[str, int] | None) -> Snapshot | None:
        near = self._near.get(cart_id)
        if near is not None and (
            wanted is None or wanted[0] != near.epoch or wanted[1] <= near.version
        ):
            self.stats.near_hits += 1
            return near
        stored = await self._state.snapshot(cart_id)
        if stored is not None:
            self.stats.state_hits += 1
            self._near.put(cart_id, stored)
        return stored

    async def _refresh(self, cart_id: str) -> Snapshot:
        """One upstream read for however many callers need it (per replica)."""
        flight = self._flights.get(cart_id)
        if flight is not None:
            return await asyncio.shield(flight)
        future: asyncio.Future[Snapshot] = asyncio.get_running_loop().create_future()
        self._flights[cart_id] = future
        try:
            async with self._locks.hold(cart_id):
                snapshot = await self._read_upstream(cart_id)
            future.set_result(snapshot)
            return snapshot
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody logs "never retrieved"
            raise
        finally:
            del self._flights[cart_id]

    async def _read_upstream(self, cart_id: str) -> Snapshot:
        token = await self._state.upstream_token(cart_id)
        try:
            result = await self._upstream.fetch_cart(token)
        except UpstreamUnavailable as exc:
            self._failing.add(cart_id)
            self._upstream_failed_at = self._clock()
            raise Unavailable(
                "upstream_unavailable",
                "The store is not answering; retry shortly.",
                retry_after=exc.retry_after,
            ) from exc
        except UpstreamRejected as exc:
            self._failing.add(cart_id)
            raise Unavailable(
                "upstream_unavailable", "The store refused to read the cart.", retry_after=5
            ) from exc
        self.stats.upstream_reads += 1
        self._upstream_ok_at = self._clock()
        self._failing.discard(cart_id)
        await self._keep(cart_id, result)
        return await self._record(cart_id, result.cart)

    def _refresh_later(self, cart_id: str) -> None:
        if cart_id in self._flights:
            return

        async def refresh() -> None:
            try:
                await self._refresh(cart_id)
            except (CartError, StateUnavailable) as exc:
                log.info("background refresh failed", cart_id=cart_id, code=type(exc).__name__)

        task = asyncio.create_task(refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- reads -------------------------------------------------------------------------
    async def read(self, owner: Owner, if_none_match: str | None = None) -> CartView:
        wanted = parse_tag(if_none_match)
        cart_id = await self.cart_id(owner)
        snapshot = await self._stored(cart_id, wanted)
        if snapshot is None:
            snapshot = await self._refresh(cart_id)
        elif self._clock() - snapshot.fetched_at > self._settings.snapshot_freshness_s:
            self._refresh_later(cart_id)
        stale = cart_id in self._failing and (
            self._clock() - snapshot.fetched_at > self._settings.snapshot_freshness_s
        )
        if wanted is not None and wanted == (snapshot.epoch, snapshot.version):
            return CartView(b"", snapshot.etag, not_modified=True, stale=stale)
        if stale:
            self.stats.stale_served += 1
            return CartView(model.mark_stale(snapshot.body), snapshot.etag, stale=True)
        return CartView(snapshot.body, snapshot.etag)

    # -- writes ------------------------------------------------------------------------
    async def apply(self, owner: Owner, operation: Operation) -> CartView:
        cart_id = await self.cart_id(owner)
        async with self._locks.hold(cart_id):
            snapshot = await self._write(cart_id, operation)
        return CartView(snapshot.body, snapshot.etag)

    async def _nonce(self, cart_id: str, token: str) -> str:
        cached = await self._state.get_value(NONCE_KEY)
        if cached:
            return cached.decode()
        result = await self._call(self._upstream.fetch_cart(token))
        await self._keep(cart_id, result)
        if not result.nonce:
            raise Unavailable("upstream_unavailable", "The store sent no nonce.", retry_after=5)
        return result.nonce

    async def _write(self, cart_id: str, operation: Operation) -> Snapshot:
        token = await self._state.upstream_token(cart_id)
        if token is None:
            first = await self._call(self._upstream.fetch_cart(None))
            await self._keep(cart_id, first)
            token = first.token
        nonce = await self._nonce(cart_id, token)
        try:
            try:
                result = await self._upstream.apply(token, nonce, operation)
            except UpstreamNonceRejected:
                await self._state.set_value(NONCE_KEY, b"", 0.001)
                nonce = await self._nonce(cart_id, token)
                result = await self._upstream.apply(token, nonce, operation)
        except UpstreamRejected as exc:
            self.stats.upstream_writes += 1
            await self._keep(cart_id, None, token=exc.token)
            body = None
            if exc.cart is not None:
                body = (await self._record(cart_id, exc.cart)).body
            raise translate(exc, body) from exc
        except UpstreamNonceRejected as exc:
            raise Unavailable(
                "upstream_unavailable", "The store refused our nonce.", retry_after=5
            ) from exc
        except UpstreamTimeout as exc:
            raise UpstreamTimedOut(
                "upstream_timeout",
                "The store did not answer in time; the change may or may not have been applied.",
            ) from exc
        except UpstreamUnavailable as exc:
            raise self._unavailable(exc) from exc
        self.stats.upstream_writes += 1
        await self._keep(cart_id, result)
        return await self._record(cart_id, result.cart)

    @staticmethod
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

    async def _call(self, call: Awaitable[UpstreamCart]) -> UpstreamCart:
        try:
            return await call
        except UpstreamUnavailable as exc:
            raise self._unavailable(exc) from exc
        except UpstreamRejected as exc:
            raise translate(exc) from exc

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
        ttl = self._settings.products_ttl_s
        stored = await self._state.get_value(key)
        if stored is None:
            try:
                loaded = await load()
            except UpstreamUnavailable as exc:
                raise self._unavailable(exc) from exc
            except UpstreamRejected as exc:
                raise translate(exc) from exc
            stored = _ENCODER.encode(loaded)
            await self._state.set_value(key, stored, ttl)
        self._products[key] = (stored, now + ttl)
        if len(self._products) > 2000:
            self._products.pop(next(iter(self._products)))
        return stored
