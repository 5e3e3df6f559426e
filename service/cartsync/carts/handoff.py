"""The checkout handoff: the one place a cart's upstream credentials leave cartsync.

An app asks for a single-use link (valid at most five minutes, stored only as a hash
of its code); opening it sends the browser to the shop's own checkout with the cart,
by whatever means the store offers (the adapter's ``handoff_url``).
"""

from __future__ import annotations

import hashlib
import secrets
import time

from .errors import NotFound, Unavailable
from .lane.credentials import CartCredentials
from .owners import Owner
from .ports.state import StateStore
from .ports.upstream import Upstream
from .reads import CartReads
from .registry import Registry


def _key(code: str) -> str:
    return "handoff:" + hashlib.sha256(code.encode()).hexdigest()


class Handoff:
    def __init__(
        self,
        state: StateStore,
        registry: Registry,
        reads: CartReads,
        credentials: CartCredentials,
        upstream: Upstream,
        ttl_s: int,
    ) -> None:
        self._state = state
        self._registry = registry
        self._reads = reads
        self._credentials = credentials
        self._upstream = upstream
        self._ttl_s = ttl_s

    async def code(self, owner: Owner) -> tuple[str, int]:
        """A single-use code for the checkout link, and when it expires (unix seconds)."""
        cart_id = await self._registry.cart_id(owner)
        code = secrets.token_urlsafe(32)
        await self._state.set_value(_key(code), cart_id.encode(), self._ttl_s)
        return code, int(time.time()) + self._ttl_s

    async def redeem(self, code: str) -> str:
        """The shop URL behind a checkout code, with fresh credentials; works once."""
        raw = await self._state.take_value(_key(code))
        if raw is None:
            raise NotFound(
                "link_expired", "This checkout link was used or has expired.", field="code"
            )
        cart_id = raw.decode()
        await self._reads.refresh(cart_id)  # renews the credentials (rebuilds a lost cart)
        credentials = await self._credentials.get(cart_id)
        if credentials is None:
            raise Unavailable(
                "upstream_unavailable", "The cart is not in the store yet.", retry_after=2
            )
        return self._upstream.handoff_url(credentials)
