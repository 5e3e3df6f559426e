"""Cart reads: from snapshots, never from the store when a fresh enough copy exists.

owner → cart id (near-cached) → snapshot (near copy, else the state store, else one
upstream read however many callers miss at once) → 304 or the stored bytes. A snapshot
older than the freshness window is served and refreshed in the background; when the
store is down the last snapshot is served marked ``stale``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from ..request_context import note_cache
from . import model
from .errors import CartError, Unavailable
from .feed import ChangeFeed
from .lane import Lane
from .near_cache import NearCache
from .owners import Owner
from .policy import CartPolicy
from .ports.state import Snapshot, StateLost, StateUnavailable
from .ports.upstream_errors import (
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamUnavailable,
)
from .registry import Registry
from .single_flight import single_flight
from .snapshots import Snapshots
from .state_watch import StateWatch

log = structlog.get_logger(__name__)
_BUSY_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class CartView:
    """What a cart read answers: the encoded cart and its entity tag."""

    body: bytes
    etag: str
    not_modified: bool = False
    stale: bool = False


@dataclass(slots=True)
class ReadStats:
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


def unavailable(exc: UpstreamUnavailable) -> CartError:
    """The caller's error for a store that cannot serve now."""
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


class CartReads:
    def __init__(
        self,
        registry: Registry,
        near: NearCache,
        snapshots: Snapshots,
        lane: Lane,
        feed: ChangeFeed,
        policy: CartPolicy,
        watch: StateWatch,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._watch = watch
        self._registry = registry
        self._near = near
        self._snapshots = snapshots
        self._lane = lane
        self._feed = feed
        self._policy = policy
        self._clock = clock
        self._flights: dict[str, asyncio.Future[Snapshot]] = {}
        self._reading: dict[str, asyncio.Future[Snapshot | None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.failing: set[str] = set()  # carts whose last refresh failed
        self.stats = ReadStats()

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    def _fresh(self, snapshot: Snapshot) -> bool:
        return self._clock() - snapshot.fetched_at <= self._policy.snapshot_freshness_s

    async def _stored(self, cart_id: str, wanted: tuple[str, int] | None) -> Snapshot | None:
        near = self._near.get(cart_id)
        if near is not None and (
            wanted is None or wanted[0] != near.epoch or wanted[1] <= near.version
        ):
            self.stats.near_hits += 1
            note_cache("near")
            return near
        # Many streams woken by one change: one state store read.
        return await single_flight(self._reading, cart_id, lambda: self._from_state(cart_id))

    async def _from_state(self, cart_id: str) -> Snapshot | None:
        stored = await self._snapshots.current(cart_id)
        if stored is not None:
            self.stats.state_hits += 1
            note_cache("state")
        return stored

    async def refresh(self, cart_id: str) -> Snapshot:
        """One upstream read for however many callers need it (per replica)."""
        return await single_flight(self._flights, cart_id, lambda: self._read_through(cart_id))

    async def _read_through(self, cart_id: str) -> Snapshot:
        deadline = time.monotonic() + self._policy.lease_wait_s
        while True:
            async with self._lane.holding(cart_id) as lease:
                if lease is not None:
                    try:
                        snapshot = await self._lane.read_upstream(cart_id, lease)
                    except UpstreamUnavailable as exc:
                        self.failing.add(cart_id)
                        raise unavailable(exc) from exc
                    except UpstreamRefused as exc:
                        self.failing.add(cart_id)
                        raise Unavailable(
                            "upstream_unavailable",
                            "The store refused to read the cart.",
                            retry_after=5,
                        ) from exc
                    self.failing.discard(cart_id)
                    return snapshot
            # A writer holds the cart: its snapshot will come.
            stored = await self._snapshots.current(cart_id)
            if stored is not None:
                return stored
            if time.monotonic() > deadline:
                raise Unavailable("cart_busy", "The cart is busy; retry shortly.", retry_after=1)
            await asyncio.sleep(_BUSY_POLL_S)

    def _refresh_later(self, cart_id: str, owner: Owner) -> None:
        if cart_id in self._flights:
            return

        async def refresh() -> None:
            try:
                # Read carts are not idle: keep the owner's binding as long as the cart.
                await self._registry.touch(owner)
                async with self._lane.holding(cart_id) as lease:
                    if lease is None:
                        return  # a writer holds it and will store a fresh snapshot
                    await self._lane.read_upstream(cart_id, lease)
                    self.failing.discard(cart_id)
            except UpstreamUnavailable:
                self.failing.add(cart_id)
            except (CartError, StateUnavailable, UpstreamRefused) as exc:
                log.info("background refresh failed", cart_id=cart_id, error=type(exc).__name__)

        task = asyncio.create_task(refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def hot_snapshot(self, owner: Owner) -> Snapshot | None:
        """The near copy of the owner's cart if it can be served as it is: known owner,
        fresh, store not failing. None sends the request down the full path."""
        cart_id = self._registry.known_cart(owner)
        if cart_id is None or cart_id in self.failing:
            return None
        snapshot = self._near.get(cart_id)
        if snapshot is None or not self._fresh(snapshot):
            return None
        self.stats.near_hits += 1
        note_cache("near")
        return snapshot

    async def read(self, owner: Owner, if_none_match: str | None = None) -> CartView:
        try:
            return await self._read(owner, if_none_match)
        except StateLost as lost:
            await self.recover(owner, lost)
            return await self._read(owner, if_none_match)

    async def recover(self, owner: Owner, lost: StateLost) -> str:
        """The owner's cart vanished from the state store: find out whether the whole
        dataset went (then every replica drops its copies), bind the owner again and
        mark the cart. Returns the cart id now bound."""
        with contextlib.suppress(StateUnavailable):
            await self._watch.check()
        return await self._registry.rebind(owner, lost.cart_id)

    async def _read(self, owner: Owner, if_none_match: str | None) -> CartView:
        wanted = parse_tag(if_none_match)
        cart_id = await self._registry.cart_id(owner)
        snapshot = await self._stored(cart_id, wanted)
        if snapshot is None:
            snapshot = await self.refresh(cart_id)
        elif not self._fresh(snapshot):
            self._refresh_later(cart_id, owner)
        stale = cart_id in self.failing and not self._fresh(snapshot)
        if wanted is not None and wanted == (snapshot.epoch, snapshot.version):
            return CartView(b"", snapshot.etag, not_modified=True, stale=stale)
        if stale:
            self.stats.stale_served += 1
            return CartView(model.mark_stale(snapshot.body), snapshot.etag, stale=True)
        return CartView(snapshot.body, snapshot.etag)

    async def wait_for_change(self, owner: Owner, known: str, timeout_s: float) -> CartView:
        """Long poll: the cart once its version is no longer ``known`` (or 304 on timeout)."""
        cart_id = await self._registry.cart_id(owner)
        with self._feed.listen(cart_id) as changes:
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
