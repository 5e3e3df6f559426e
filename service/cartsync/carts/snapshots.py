"""Snapshots: the encoded mobile cart per cart, versioned, fenced, near-cached.

A new version is made only when the content changed (equal digests: the store
confirmed the same cart, only its confirmation time moves). Writes are fenced by the
cart's lease: a holder that lost its lease cannot store a snapshot. A cart marked as
one whose state was lost carries ``cart_state_lost`` in its ``errors`` until the mark
is cleared, so no client takes its (new, empty) cart for the one it had.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import msgspec

from . import model
from .near_cache import NearCache
from .ports.state import Snapshot, StateStore

_ENCODER = msgspec.json.Encoder()
_CART = msgspec.json.Decoder(model.Cart)
LOST_ERROR = model.CartError(
    code="cart_state_lost",
    message="This cart's earlier contents were lost by the service; re-add what you "
    "still want (send If-Match with this version to confirm you have seen it).",
)


def digest_of(cart: model.Cart) -> str:
    content = msgspec.structs.replace(cart, id="", version="", stale=False)
    return hashlib.blake2b(_ENCODER.encode(content), digest_size=12).hexdigest()


def decode(snapshot: Snapshot) -> model.Cart:
    return _CART.decode(snapshot.body)


def decode_body(body: bytes) -> model.Cart:
    return _CART.decode(model.unmark_stale(body))


class Snapshots:
    def __init__(
        self, state: StateStore, near: NearCache, clock: Callable[[], float] = time.time
    ) -> None:
        self._state = state
        self.near = near
        self._clock = clock

    async def current(self, cart_id: str) -> Snapshot | None:
        """The stored snapshot (Redis), refreshing the near copy."""
        stored = await self._state.snapshot(cart_id)
        if stored is not None:
            self.near.put(cart_id, stored)
        return stored

    def following(self, cart_id: str, cart: model.Cart, current: Snapshot) -> Snapshot | None:
        """The snapshot that follows ``current`` (the stored one, read by the lease holder)
        when ``cart`` is what the store answered: the next version of its sequence, for
        the holder to store in the same step that records its results (the state store
        refuses it if the sequence moved on). None when the content is unchanged (then
        ``record`` only moves the confirmation time)."""
        cart = _marked(cart, current.lost_at)
        digest = digest_of(cart)
        if current.digest == digest:
            return None
        version = current.version + 1
        return _encoded(
            cart_id, cart, current.epoch, version, self._clock(), digest, current.lost_at
        )

    async def record(
        self, cart_id: str, cart: model.Cart, lease_token: str, current: Snapshot | None = None
    ) -> Snapshot | None:
        """Store ``cart`` as the cart's snapshot; None when the lease was lost.
        ``current``: the stored snapshot, when the lease holder already read it."""
        now = self._clock()
        if current is None:
            current = await self._state.snapshot(cart_id)
        lost_at = current.lost_at if current is not None else await self._state.lost_flag(cart_id)
        cart = _marked(cart, lost_at)
        digest = digest_of(cart)
        if current is not None and current.digest == digest:
            await self._state.touch_snapshot(cart_id, current.version, now)
            confirmed = Snapshot(
                current.epoch, current.version, now, digest, current.body, current.lost_at
            )
            self.near.put(cart_id, confirmed)
            return confirmed
        epoch, version = await self._state.reserve_version(cart_id)
        snapshot = _encoded(cart_id, cart, epoch, version, now, digest, lost_at)
        if not await self._state.store_snapshot(cart_id, snapshot, lease_token):
            if await self._state.lease_holder(cart_id) != lease_token:
                return None
            return await self.current(cart_id)
        self.near.put(cart_id, snapshot)  # the store announced it to every replica
        return snapshot


def _marked(cart: model.Cart, lost_at: float | None) -> model.Cart:
    """A cart whose earlier state was lost says so in its errors until the mark is
    cleared."""
    if lost_at is None:
        return cart
    return msgspec.structs.replace(cart, errors=[LOST_ERROR, *cart.errors])


def _encoded(
    cart_id: str,
    cart: model.Cart,
    epoch: str,
    version: int,
    fetched_at: float,
    digest: str,
    lost_at: float | None,
) -> Snapshot:
    content = msgspec.structs.replace(cart, id=cart_id, version=f"{epoch}.{version}", stale=False)
    return Snapshot(epoch, version, fetched_at, digest, _ENCODER.encode(content), lost_at)
