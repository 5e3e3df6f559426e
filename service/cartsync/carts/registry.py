"""Owner → cart: one cart per owner, created on first use, kept while active.

The binding lives in the state store; each replica keeps the ones it used in its near
cache, so a hot read costs no round trip to learn which cart is the owner's.
"""

from __future__ import annotations

import secrets
import time

import structlog

from .near_cache import NearCache
from .owners import Owner
from .policy import CartPolicy
from .ports.state import StateStore

_TOUCH_EVERY_S = 3600.0
_REMEMBERED = 100_000


class Registry:
    def __init__(self, state: StateStore, near: NearCache, policy: CartPolicy) -> None:
        self._state = state
        self._near = near
        self._policy = policy
        self._touched: dict[str, float] = {}

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

    def known_cart(self, owner: Owner) -> str | None:
        """The owner's cart id if this replica knows it already (no round trip)."""
        return self._near.cart_of(owner.id)

    def forget(self, owner_id: str) -> None:
        self._near.forget_owner(owner_id)

    async def touch(self, owner: Owner) -> None:
        """Keep an active owner's binding alive; at most once an hour per owner."""
        now = time.monotonic()
        if now - self._touched.get(owner.id, -1e9) < _TOUCH_EVERY_S:
            return
        await self._state.touch_owner(owner.id, self._policy.owner_ttl_s(owner.kind))
        self._touched[owner.id] = now
        if len(self._touched) > _REMEMBERED:
            self._touched.pop(next(iter(self._touched)))

    def forget_touches(self) -> None:
        self._touched.clear()
