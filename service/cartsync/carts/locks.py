"""One writer per cart, across every replica: an in-process lock in front of a Redis lock.

The in-process lock keeps a replica's own callers from polling Redis; the state lock
(token, expiry) serialises replicas. The lock's time to live is longer than the
upstream timeout, so a write cannot outlive its lock (WooCommerce cannot check a
fencing token). The coalescing lane (issue 4) replaces this with batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator

from ..state.port import StateStore
from .errors import Unavailable


class CartLocks:
    def __init__(self, state: StateStore, ttl_s: float, wait_s: float) -> None:
        self._state = state
        self._ttl_s = ttl_s
        self._wait_s = wait_s
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, cart_id: str) -> AsyncIterator[None]:
        lock, users = self._local.get(cart_id, (asyncio.Lock(), 0))
        self._local[cart_id] = (lock, users + 1)
        try:
            async with asyncio.timeout(self._wait_s):
                await lock.acquire()
        except TimeoutError:
            self._release_local(cart_id)
            raise Unavailable(
                "cart_busy", "The cart is busy; retry shortly.", retry_after=1
            ) from None
        try:
            token = await self._acquire(cart_id)
            try:
                yield
            finally:
                await self._state.unlock(f"cart:{cart_id}", token)
        finally:
            lock.release()
            self._release_local(cart_id)

    def _release_local(self, cart_id: str) -> None:
        lock, users = self._local[cart_id]
        if users <= 1:
            del self._local[cart_id]
        else:
            self._local[cart_id] = (lock, users - 1)

    async def _acquire(self, cart_id: str) -> str:
        token = secrets.token_hex(8)
        deadline = time.monotonic() + self._wait_s
        delay = 0.005
        while not await self._state.try_lock(f"cart:{cart_id}", token, self._ttl_s):
            if time.monotonic() >= deadline:
                raise Unavailable("cart_busy", "The cart is busy; retry shortly.", retry_after=1)
            await asyncio.sleep(delay)  # another replica writes this cart
            delay = min(delay * 2, 0.1)
        return token
