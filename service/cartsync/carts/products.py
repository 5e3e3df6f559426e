"""The catalogue, cached: products are the same for everyone.

Near copy, then the state store, then the store, each kept ``products_ttl_s``; a page
everyone asks for at once is loaded once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec

from .ports.state import StateStore
from .ports.upstream import ProductQuery, Upstream
from .ports.upstream_errors import UpstreamRefused, UpstreamUnavailable
from .reads import unavailable
from .single_flight import single_flight

_ENCODER = msgspec.json.Encoder()
_NEAR_ENTRIES = 2000


class Catalogue:
    def __init__(self, state: StateStore, upstream: Upstream, ttl_s: float) -> None:
        self._state = state
        self._upstream = upstream
        self._ttl_s = ttl_s
        self._near: dict[str, tuple[bytes, float]] = {}
        self._loads: dict[str, asyncio.Future[bytes]] = {}

    async def page(self, query: ProductQuery) -> bytes:
        key = (
            f"products:{query.page}:{query.per_page}:{query.search}:{query.category}:"
            f"{query.product_type}:{query.parent}"
        )
        return await self._cached(key, lambda: self._upstream.list_products(query))

    async def product(self, product_id: int) -> bytes:
        return await self._cached(
            f"product:{product_id}", lambda: self._upstream.get_product(product_id)
        )

    def forget(self) -> set[str]:
        self._near.clear()
        return set()

    async def _cached(self, key: str, load: Callable[[], Awaitable[object]]) -> bytes:
        near = self._near.get(key)
        if near is not None and near[1] > time.monotonic():
            return near[0]
        return await single_flight(self._loads, key, lambda: self._load(key, load))

    async def _load(self, key: str, load: Callable[[], Awaitable[object]]) -> bytes:
        stored = await self._state.get_value(key)
        if stored is None:
            try:
                loaded = await load()
            except UpstreamUnavailable as exc:
                raise unavailable(exc) from exc
            except UpstreamRefused as exc:
                raise exc.with_cart(None) from exc
            stored = _ENCODER.encode(loaded)
            await self._state.set_value(key, stored, self._ttl_s)
        self._near[key] = (stored, time.monotonic() + self._ttl_s)
        if len(self._near) > _NEAR_ENTRIES:
            self._near.pop(next(iter(self._near)))
        return stored
