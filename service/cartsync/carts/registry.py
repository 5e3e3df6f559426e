"""Owner → cart: one cart per owner, created on first use, kept while active.

The binding lives in the state store; each replica keeps the ones it used in its near
cache, so a hot read costs no round trip to learn which cart is the owner's. After the
state store lost its data, an owner is bound again (to the same cart id where this
replica knew it) and the new cart is marked as one whose state was lost
(``state_watch.py`` says whose).
"""

from __future__ import annotations

import secrets
import time

import structlog

from .near_cache import NearCache
from .owners import Owner
from .policy import CartPolicy
from .ports.state import StateStore
from .state_watch import StateWatch

_TOUCH_EVERY_S = 3600.0
_REMEMBERED = 100_000


class Registry:
    def __init__(
        self, state: StateStore, near: NearCache, policy: CartPolicy, watch: StateWatch
    ) -> None:
        self._state = state
        self._near = near
        self._policy = policy
        self._watch = watch
        self._touched: dict[str, float] = {}

    async def cart_id(self, owner: Owner) -> str:
        """The owner's cart id, created on first use (one cart per owner)."""
        cached = self._near.cart_of(owner.id)
        if cached is not None:
            return cached
        return await self._bind(owner, None)

    async def rebind(self, owner: Owner, lost_cart_id: str) -> str:
        """The owner's cart vanished with the state store's data: bind the owner again
        (to the same id, unless another replica bound it first) and mark the cart."""
        self._near.forget_owner(owner.id)
        cart_id = await self._bind(owner, lost_cart_id)
        await self._mark_lost(cart_id)
        return cart_id

    async def _bind(self, owner: Owner, candidate: str | None) -> str:
        cart_id = await self._state.cart_of(owner.id)
        if cart_id is None:
            # The id says whose: the state store keeps guests' carts for less time.
            new = candidate or f"c{owner.kind[0]}_" + secrets.token_hex(12)
            cart_id = await self._state.claim_cart(owner.id, new)
            if cart_id == new and candidate is None and self._watch.may_have_lost(owner):
                await self._mark_lost(cart_id)
        self._near.remember_owner(owner.id, cart_id)
        structlog.contextvars.bind_contextvars(cart_id=cart_id)
        return cart_id

    async def _mark_lost(self, cart_id: str) -> None:
        await self._state.flag_lost(cart_id, self._watch.lost_at or time.time())
        self._watch.carts_flagged += 1

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

    def forget_touches(self) -> set[str]:
        self._touched.clear()
        return set()
