"""Each cart's upstream credentials: read from the state store, written back sparingly.

Every round trip to Redis shows in a write's latency, so a received copy is written back
only when the adapter says it is worth it (another cart, or an expiry that moved on
enough); the stored one still works meanwhile. They are always read from the state
store, since another replica may have rebuilt the cart under new credentials.
"""

from __future__ import annotations

from ..ports.state import StateStore
from ..ports.upstream import Upstream

_REMEMBERED = 50_000


class CartCredentials:
    def __init__(self, state: StateStore, upstream: Upstream) -> None:
        self._state = state
        self._upstream = upstream
        self._written: dict[str, str] = {}  # cart id → what this replica last stored

    async def get(self, cart_id: str) -> str | None:
        return await self._state.upstream_token(cart_id)

    async def keep(self, cart_id: str, received: str | None) -> None:
        if not received:
            return
        if not self._upstream.worth_storing(self._written.get(cart_id), received):
            return
        await self._state.set_upstream_token(cart_id, received)
        self._written[cart_id] = received
        if len(self._written) > _REMEMBERED:
            self._written.pop(next(iter(self._written)))

    def forget(self) -> None:
        """The state store lost its data: nothing this replica wrote can be assumed."""
        self._written.clear()
