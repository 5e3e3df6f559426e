"""The state store port: the few operations the cart service needs, atomic where it matters.

Two backends implement it: Redis (``redis.py``) for any number of replicas, and an
in-process store (``memory.py``), the embedded default for a single instance. One
contract test suite holds both to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


class StateUnavailable(Exception):
    """The state store cannot be reached or answered with an error."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An encoded mobile cart and what is known about it."""

    epoch: str  # changes whenever the version sequence restarts (lost state)
    version: int
    fetched_at: float  # wall-clock time the store last confirmed this content
    digest: str  # content hash, version excluded: equal digests, same cart
    body: bytes  # the encoded cart, version inside, stale=false

    @property
    def tag(self) -> str:
        return f"{self.epoch}.{self.version}"

    @property
    def etag(self) -> str:
        return f'"{self.tag}"'


@dataclass(frozen=True, slots=True)
class Change:
    """A snapshot write, announced to every replica."""

    cart_id: str
    epoch: str
    version: int


ChangeHandler = Callable[[Change | None], Awaitable[None]]
"""Called with each change; with None when changes may have been missed (reconnect)."""


class StateStore(Protocol):
    async def ping(self) -> None:
        """Raise when the store cannot serve."""

    async def aclose(self) -> None:
        """Release connections and background tasks."""

    # -- registry: owner → cart → upstream token -------------------------------------
    async def cart_of(self, owner: str) -> str | None:
        """The cart id of an owner, if any."""

    async def claim_cart(self, owner: str, cart_id: str) -> str:
        """Bind ``cart_id`` to ``owner`` unless one is bound; return the bound id."""

    async def upstream_token(self, cart_id: str) -> str | None:
        """The newest upstream cart token of a cart."""

    async def set_upstream_token(self, cart_id: str, token: str) -> None:
        """Keep the newest upstream token."""

    # -- snapshots --------------------------------------------------------------------
    async def snapshot(self, cart_id: str) -> Snapshot | None:
        """The stored snapshot of a cart."""

    async def reserve_version(self, cart_id: str) -> tuple[str, int]:
        """The next version of a cart, and its epoch (created with the first version)."""

    async def store_snapshot(self, cart_id: str, snapshot: Snapshot) -> bool:
        """Store ``snapshot`` unless a newer one (or another epoch) is there."""

    async def touch_snapshot(self, cart_id: str, version: int, fetched_at: float) -> None:
        """Record that the store confirmed ``version`` unchanged at ``fetched_at``."""

    # -- coordination -------------------------------------------------------------------
    async def try_lock(self, name: str, token: str, ttl_s: float) -> bool:
        """Take the named lock for ``ttl_s`` unless someone holds it."""

    async def unlock(self, name: str, token: str) -> None:
        """Release the lock if ``token`` still holds it."""

    async def hit(self, key: str, limit: int, window_s: int) -> int | None:
        """Count one request in a fixed window: None if allowed, else seconds to wait."""

    async def get_value(self, key: str) -> bytes | None:
        """A small cached value (upstream nonce, product pages)."""

    async def set_value(self, key: str, value: bytes, ttl_s: float) -> None:
        """Cache a small value for ``ttl_s`` seconds."""

    # -- change notifications ----------------------------------------------------------
    async def publish(self, change: Change) -> None:
        """Tell every replica (this one included) that a cart has a new snapshot."""

    async def subscribe(self, handler: ChangeHandler) -> None:
        """Deliver changes to ``handler`` until ``aclose``; at most once each."""
