"""The state store port: the few operations the cart service needs, atomic where it matters.

The domain owns this port; two backends implement it: Redis (``state/redis/``) for
any number of replicas, and an in-process store (``state/memory.py``), the embedded
default for a single instance. One contract test suite holds both to the same
behaviour.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class StateUnavailable(Exception):
    """The state store cannot be reached or answered with an error."""


class StateLost(StateUnavailable):
    """The state store no longer holds this cart at all: its data was lost (a Redis
    restarted without persistence, a failover to an empty replica). ``cart_id`` is the
    cart that vanished. Raised instead of quietly starting the cart over, so the domain
    can re-bind its owner and say the cart's state was lost."""

    def __init__(self, cart_id: str) -> None:
        super().__init__(f"the state of cart {cart_id} was lost")
        self.cart_id = cart_id


@dataclass(frozen=True, slots=True)
class Generation:
    """The state store's dataset, as marked when it was first used: ``id`` changes when
    the data is lost and started over; ``lost_at`` is when a replica noticed the last
    loss, while the loss window lasts."""

    id: str | None
    lost_at: float | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An encoded mobile cart and what is known about it."""

    epoch: str  # changes whenever the version sequence restarts (lost state)
    version: int
    fetched_at: float  # wall-clock time the store last confirmed this content
    digest: str  # content hash, version excluded: equal digests, same cart
    body: bytes  # the encoded cart, version inside, stale=false
    lost_at: float | None = None  # the cart's state was lost then (until acknowledged)

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


@dataclass(frozen=True, slots=True)
class ResultsReady:
    """The lease holder recorded the results of these queued operations."""

    cart_id: str
    op_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Head:
    """What a cart's new lease holder learns in the step that made it the holder: the
    in-flight record, the head of the queue and, when ``read``, the stored snapshot and
    credentials (read in the same step: a write to an idle cart needs no other round
    trip before its batch)."""

    inflight: bytes | None
    queued: list[bytes]
    snapshot: Snapshot | None = None
    credentials: str | None = None
    read: bool = False


class Commit(enum.Enum):
    LOST = "lost"  # the lease is not the holder's: nothing was recorded
    BEHIND = "behind"  # the snapshot's version is not the next one: nothing was recorded
    KEPT = "kept"  # recorded; the lease stays the holder's
    RELEASED = "released"  # recorded; the queue was empty and the lease is released


@dataclass(frozen=True, slots=True)
class Committed:
    """The outcome of ``StateStore.commit``; ``queued``: the head of the queue, when the
    holder asked to release and work was queued (its next turn needs no read)."""

    status: Commit
    queued: list[bytes] | None = None


Message = Change | ResultsReady
ChangeHandler = Callable[[Message | None], Awaitable[None]]
"""Called with each message; with None when messages may have been missed (reconnect)."""


class StateStore(Protocol):
    async def ping(self) -> None:
        """Raise when the store cannot serve."""

    async def aclose(self) -> None:
        """Release connections and background tasks."""

    # -- registry: owner → cart → upstream token -------------------------------------
    async def cart_of(self, owner: str) -> str | None:
        """The cart id of an owner, if any."""

    async def claim_cart(self, owner: str, cart_id: str) -> str:
        """Create ``cart_id``'s record and bind it to ``owner`` unless one is bound;
        return the bound id. A cart exists from its claim on: every later step on a
        cart whose record is gone raises ``StateLost``."""

    async def forget_owner(self, owner: str) -> None:
        """Unbind an owner from its cart (a guest merged into a user)."""

    async def upstream_token(self, cart_id: str) -> str | None:
        """The newest upstream cart token of a cart."""

    async def set_upstream_token(self, cart_id: str, token: str) -> None:
        """Keep the newest upstream token."""

    # -- snapshots --------------------------------------------------------------------
    async def snapshot(self, cart_id: str) -> Snapshot | None:
        """The stored snapshot of a cart (None: not read yet); ``StateLost`` when the
        cart's record is gone."""

    async def snapshot_and_token(self, cart_id: str) -> tuple[Snapshot | None, str | None]:
        """The stored snapshot and upstream token, in one round trip; ``StateLost`` as
        ``snapshot``."""

    async def reserve_version(self, cart_id: str) -> tuple[str, int]:
        """The next version of a cart, and its epoch (created with the first version);
        ``StateLost`` when the cart's record is gone (never a new record from nothing)."""

    async def flag_lost(self, cart_id: str, at: float) -> None:
        """Mark the cart as one whose earlier state was lost (at ``at``)."""

    async def clear_lost(self, cart_id: str) -> None:
        """The owner saw the loss: the cart is no longer marked."""

    async def lost_flag(self, cart_id: str) -> float | None:
        """When the cart's earlier state was lost, if it is marked."""

    async def store_snapshot(
        self, cart_id: str, snapshot: Snapshot, lease_token: str | None = None
    ) -> bool:
        """Store ``snapshot`` unless a newer one (or another epoch) is there; with a
        ``lease_token``, only while that token holds the cart's lease (fencing)."""

    async def touch_snapshot(self, cart_id: str, version: int, fetched_at: float) -> None:
        """Record that the store confirmed ``version`` unchanged at ``fetched_at``."""

    # -- the cart's lane: queue, lease, in-flight batch, results ------------------------
    async def enqueue(self, cart_id: str, entries: Sequence[bytes]) -> None:
        """Append operations, in order and together, to the cart's queue; ``StateLost``
        (nothing queued) when the cart's record is gone."""

    async def queued(self, cart_id: str, limit: int) -> list[bytes]:
        """The first ``limit`` queued operations (they stay queued until completed)."""

    async def acquire_lease(self, cart_id: str, token: str, ttl_s: float) -> bool:
        """Become the cart's only writer for ``ttl_s`` unless someone is."""

    async def lead(
        self, cart_id: str, token: str, ttl_s: float, limit: int
    ) -> tuple[bytes | None, list[bytes]] | None:
        """``acquire_lease`` and, in the same step, the in-flight record and the first
        ``limit`` queued operations; None when someone holds the lease."""

    async def begin_batch(
        self, cart_id: str, token: str, ttl_s: float, op_ids: Sequence[str], record: bytes
    ) -> list[bytes | None] | None:
        """Before a batch leaves: renew the lease (None: lost), return the recorded results
        of its operations, and record it as in flight unless one has a result."""

    async def renew_lease(self, cart_id: str, token: str, ttl_s: float) -> bool:
        """Extend the lease; False when ``token`` no longer holds it."""

    async def lease_holder(self, cart_id: str) -> str | None:
        """The token holding the lease, if any."""

    async def release_lease(self, cart_id: str, token: str) -> int:
        """Release when the queue is empty: 1 released, 0 still leading (work queued),
        -1 the lease was lost."""

    async def set_inflight(self, cart_id: str, token: str, record: bytes) -> bool:
        """Record the batch about to leave for the store (lease holder only)."""

    async def inflight(self, cart_id: str) -> bytes | None:
        """The batch of unknown outcome, if a holder died or timed out with one."""

    async def complete(
        self, cart_id: str, token: str, count: int, results: Mapping[str, bytes], ttl_s: int
    ) -> bool:
        """Fenced: record ``results``, drop the first ``count`` queued operations and the
        in-flight record, and announce the results (``ResultsReady``), in one step."""

    async def enqueue_and_lead(
        self, cart_id: str, entries: Sequence[bytes], token: str, ttl_s: float, limit: int
    ) -> Head | None:
        """``enqueue``, then ``lead`` with ``token`` and, when the lease was taken, the
        stored snapshot and credentials (``Head.read``), in one step. None: someone
        holds the lease (the operations are queued all the same). ``StateLost`` as
        ``enqueue`` (nothing queued)."""

    async def commit(
        self,
        cart_id: str,
        token: str,
        count: int,
        results: Mapping[str, bytes],
        ttl_s: int,
        *,
        snapshot: Snapshot | None = None,
        release: bool = False,
        limit: int = 0,
        announce: Sequence[str] | None = None,
    ) -> Committed:
        """``complete`` (fenced by the lease), announcing the results of ``announce``
        only (None: all; empty: none), and, in the same step: with ``snapshot``,
        store it first, only if its version is the next of the cart's sequence (as
        ``reserve_version`` would have given it: ``BEHIND`` and nothing done when not)
        and announce it; with ``release``, release the lease if the queue is then empty,
        else return its first ``limit`` operations. ``StateLost`` when the cart's record
        is gone (with ``snapshot``)."""

    async def results(self, cart_id: str, op_ids: Sequence[str]) -> list[bytes | None]:
        """Recorded results of operations, None where not (yet) recorded."""

    # -- orders placed through the cart -------------------------------------------------
    async def record_order(self, cart_id: str, order_id: int, record: bytes) -> None:
        """Keep an order placed from this cart (as long as the cart is kept)."""

    async def orders(self, cart_id: str) -> list[bytes]:
        """The orders placed from this cart."""

    # -- idempotency records ------------------------------------------------------------
    async def reserve_record(self, key: str, record: bytes, ttl_s: int) -> bytes | None:
        """Store ``record`` unless one exists; return the existing one, or None."""

    async def put_record(self, key: str, record: bytes, ttl_s: int) -> None:
        """Replace a record (the final answer of an idempotent request)."""

    async def drop_record(self, key: str) -> None:
        """Forget a record (a request that certainly changed nothing may be retried)."""

    # -- coordination -------------------------------------------------------------------
    async def hit(self, key: str, limit: int, window_s: int) -> int | None:
        """Count one request in a fixed window: None if allowed, else seconds to wait."""

    async def get_value(self, key: str) -> bytes | None:
        """A small cached value (upstream nonce, product pages)."""

    async def set_value(self, key: str, value: bytes, ttl_s: float) -> None:
        """Cache a small value for ``ttl_s`` seconds."""

    async def take_value(self, key: str) -> bytes | None:
        """Read and delete a value in one step (single-use secrets)."""

    async def touch_owner(self, owner: str, ttl_s: int) -> None:
        """Keep an active owner's cart binding for another ``ttl_s``."""

    # -- the dataset -------------------------------------------------------------------
    async def generation(self) -> Generation:
        """The dataset's marker (id None: the data is gone) and the last loss noticed."""

    async def start_generation(
        self, candidate: str, lost_at: float | None, window_s: int
    ) -> Generation:
        """Mark the dataset with ``candidate`` unless it is marked; with ``lost_at``,
        also record that its data was lost (kept ``window_s``). Returns the marker."""

    # -- change notifications ----------------------------------------------------------
    async def publish(self, message: Message) -> None:
        """Tell every replica (this one included): a new snapshot, or results ready."""

    async def subscribe(self, handler: ChangeHandler) -> None:
        """Deliver changes to ``handler`` until ``aclose``; at most once each."""
