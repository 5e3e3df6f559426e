"""The simulator's mutable world: sessions, orders, stock, clock, latency, faults, limits,
the WooCommerce profile and counters.

Everything the control plane (``/__sim/``) can change lives here, in one object per app.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .cart import CartState
from .checkout.orders import OrderBook
from .inventory import Inventory, initial_levels
from .profiles import WooProfile, woo_profile
from .tokens import NonceMaker, TokenSigner

if TYPE_CHECKING:
    from .cocart.store import CocartCart


@dataclass(frozen=True, slots=True)
class Latency:
    """Simulated processing time: ``fixed ± jitter`` per request; ``base + per_request``
    per sub-request for a batch (see ``docs/upstream/storeapi.md``, latency)."""

    fixed_ms: float = 0.0
    jitter_ms: float = 0.0
    batch_base_ms: float = 0.0
    batch_per_request_ms: float = 0.0

    @classmethod
    def realistic(cls) -> Latency:
        return cls(80.0, 20.0, 60.0, 15.0)


@dataclass(frozen=True, slots=True)
class Faults:
    """Injected failures. ``rate``s are probabilities; ``next_*`` hit the next N requests.

    ``when`` says whether a fault strikes ``before`` the cart changed or ``after`` the
    change was saved (both happen in real life). ``match`` limits faults to routes whose
    path contains it (``"batch"``, ``"cart/add-item"``, ``"cocart"``, ``"wc/store"``); empty
    matches every REST route of both faces (Store API and CoCart).
    """

    error_rate: float = 0.0
    hang_rate: float = 0.0
    drop_rate: float = 0.0
    next_errors: int = 0
    next_hangs: int = 0
    next_drops: int = 0
    hang_seconds: float = 30.0
    when: str = "before"
    match: str = ""
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """WooCommerce's Store API rate limit (off by default): ``limit`` per ``seconds``."""

    enabled: bool = False
    limit: int = 25
    seconds: int = 10
    proxy_support: bool = False


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Start-up configuration of one simulator."""

    latency: Latency = field(default_factory=Latency)
    race: bool = True
    race_window_ms: float = 5.0
    faults: Faults = field(default_factory=Faults)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    secret: str = ""
    # CoCart's no-cache headers on Store API answers, as a store with CoCart active sends
    # them (recordings cocart/038, 039); off: the Store API face of recordings/storeapi/.
    store_api_nocache: bool = False
    woo: str = "8.9"  # the WooCommerce version played: "8.9" (8.9.1) or "9.9" (9.9.5)

    def __post_init__(self) -> None:
        woo_profile(self.woo)  # fail at start-up on an unknown version


@dataclass(slots=True)
class _Window:
    reset_at: int
    count: int = 0


class Sim:
    """The store's state. One instance per app; all methods run on the event loop."""

    def __init__(self, config: SimConfig) -> None:
        self.initial = config
        salt = (config.secret or secrets.token_hex(32)).encode()
        self.signer = TokenSigner(b"@" + salt)
        self.nonces = NonceMaker(salt)
        # Requests still running, a client that gave up included (PHP runs on).
        self.inflight: set[asyncio.Task[Any]] = set()
        self.reset()

    def reset(self) -> None:
        config = self.initial
        # The W3C trace headers of the latest store requests, for tests of propagation.
        self.traceparents: deque[str] = deque(maxlen=100)
        self.latency = config.latency
        self.race = config.race
        self.race_window_ms = config.race_window_ms
        self.faults = config.faults
        self.rate_limit = config.rate_limit
        self.clock_offset = 0.0
        self.frozen_at: float | None = None  # a stopped clock (deterministic replays)
        self.store_api_nocache = config.store_api_nocache
        self.profile: WooProfile = woo_profile(config.woo)
        self.out_of_stock: set[int] = set()
        self.stock: dict[int, int] = initial_levels()  # products that manage stock
        self.orders = OrderBook()
        self.sessions: dict[str, CartState] = {}
        # CoCart's own carts (wp_cocart_carts), keyed by cart key: not Store API sessions.
        self.cocart: dict[str, CocartCart] = {}
        self.requests: Counter[str] = Counter()
        self.subrequests: Counter[str] = Counter()
        self.batch_sizes: list[int] = []
        self.faults_injected: Counter[str] = Counter()
        self._locks: dict[str, asyncio.Lock] = {}
        self._windows: dict[str, _Window] = {}
        self._random = random.Random(config.faults.seed)

    # -- time ---------------------------------------------------------------------
    def now(self) -> float:
        if self.frozen_at is not None:
            return self.frozen_at
        return time.time() + self.clock_offset

    def set_clock(
        self, *, advance: float = 0.0, to: float | None = None, freeze: bool | None = None
    ) -> None:
        """Move the store's clock (``to`` an absolute time, or ``advance`` seconds on),
        and stop (``freeze``) or restart it; a restarted clock runs on from where it was."""
        now = self.now() if to is None else to
        now += advance
        if freeze is None:
            freeze = self.frozen_at is not None
        self.clock_offset = now - time.time()
        self.frozen_at = now if freeze else None

    async def process(self, batch_size: int | None = None, *, write: bool = False) -> None:
        """Sleep for the simulated PHP processing time of one request."""
        lat = self.latency
        if batch_size is not None:
            ms = lat.batch_base_ms + lat.batch_per_request_ms * batch_size
        else:
            ms = lat.fixed_ms + (self._random.uniform(-lat.jitter_ms, lat.jitter_ms))
        if write and self.race:
            ms = max(ms, self.race_window_ms)
        if ms > 0:
            await asyncio.sleep(ms / 1000)

    def inventory(self) -> Inventory:
        """The live stock, frozen for one request."""
        return Inventory(MappingProxyType(dict(self.stock)), frozenset(self.out_of_stock))

    async def settle(self, within_s: float = 30.0) -> int:
        """Wait (at most ``within_s``) until every request the store has started is
        finished, one whose client gave up included; the number that were still running."""
        pending = {task for task in self.inflight if not task.done()}
        if pending:
            await asyncio.wait(pending, timeout=within_s)
        return len(pending)

    # -- sessions -----------------------------------------------------------------
    def load(self, user_id: str) -> CartState:
        """A private copy of the session, as PHP reads it at the start of a request."""
        state = self.sessions.get(user_id)
        return state.copy() if state is not None else CartState()

    def save(self, user_id: str, state: CartState) -> None:
        """Write the session back, as PHP does at the end: the last writer wins."""
        self.sessions[user_id] = state.copy()

    def lock(self, user_id: str) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = self._locks[user_id] = asyncio.Lock()
        return lock

    # -- rate limiting --------------------------------------------------------------
    def rate_check(self, client: str) -> tuple[dict[str, str], int | None]:
        """Headers for this request, and the seconds to wait when it is blocked."""
        limit = self.rate_limit
        now = int(self.now())
        window = self._windows.get(client)
        if window is None or window.reset_at <= now:
            window = self._windows[client] = _Window(now + limit.seconds)
        window.count += 1
        if window.count > limit.limit:
            wait = max(window.reset_at - now, 0)
            blocked = {"RateLimit-Limit": str(limit.limit)}
            if self.profile.ratelimit_remaining_first:
                blocked |= {"RateLimit-Remaining": "0", "RateLimit-Retry-After": str(wait)}
            else:
                blocked |= {"RateLimit-Retry-After": str(wait), "RateLimit-Remaining": "0"}
            return blocked | {"RateLimit-Reset": str(window.reset_at)}, wait
        return {
            "RateLimit-Limit": str(limit.limit),
            "RateLimit-Remaining": str(limit.limit - window.count),
            "RateLimit-Reset": str(window.reset_at),
        }, None

    # -- faults ----------------------------------------------------------------------
    def draw_fault(self, route: str) -> str | None:
        """``"error"``, ``"hang"``, ``"drop"`` or None for a request on ``route``."""
        f = self.faults
        if f.match and f.match not in route:
            return None
        for kind in ("error", "hang", "drop"):
            pending = getattr(f, f"next_{kind}s")
            if pending > 0:
                self.faults = replace(f, **{f"next_{kind}s": pending - 1})
                self.faults_injected[kind] += 1
                return kind
        for kind in ("error", "hang", "drop"):
            rate = getattr(f, f"{kind}_rate")
            if rate > 0 and self._random.random() < rate:
                self.faults_injected[kind] += 1
                return kind
        return None

    # -- reporting -------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        writes = sum(n for k, n in self.requests.items() if not k.startswith(("GET", "OPTIONS")))
        return {
            "woo": self.profile.name,
            "woo_version": self.profile.version,
            "latency": asdict(self.latency),
            "race": self.race,
            "race_window_ms": self.race_window_ms,
            "faults": asdict(self.faults),
            "rate_limit": asdict(self.rate_limit),
            "clock_offset": self.clock_offset,
            "clock_frozen": self.frozen_at is not None,
            "store_api_nocache": self.store_api_nocache,
            "sessions": len(self.sessions),
            "cocart_carts": len(self.cocart),
            "orders": len(self.orders.orders),
            "stock": {str(k): v for k, v in sorted(self.stock.items())},
            "out_of_stock": sorted(self.out_of_stock),
            "counters": {
                "requests": dict(self.requests),
                "writes": writes,
                "batches": len(self.batch_sizes),
                "batch_sizes": list(self.batch_sizes),
                "batch_subrequests": sum(self.batch_sizes),
                "subrequests": dict(self.subrequests),
                "faults_injected": dict(self.faults_injected),
            },
        }
