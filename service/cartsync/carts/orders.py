"""The owner's orders: placed through cartsync, read from the store.

The cart keeps what reads an order back (its id, key and billing email: the owner's
secrets, never shown); the order itself is the store's, read fresh each time. An owner
sees only the orders of their own cart: another owner's id is ``order_not_found``.
"""

from __future__ import annotations

import asyncio

import msgspec

from . import model
from .errors import NotFound
from .lane.records import PLACED, PlacedOrder
from .owners import Owner
from .ports.state import StateStore
from .ports.upstream import Upstream
from .ports.upstream_errors import UpstreamRefused, UpstreamUnavailable
from .reads import unavailable
from .registry import Registry

_ENCODER = msgspec.json.Encoder()


def _not_found() -> NotFound:
    return NotFound("order_not_found", "No such order of yours.", field="id")


class Orders:
    def __init__(self, state: StateStore, registry: Registry, upstream: Upstream) -> None:
        self._state = state
        self._registry = registry
        self._upstream = upstream

    async def _placed(self, owner: Owner) -> list[PlacedOrder]:
        cart_id = await self._registry.cart_id(owner)
        placed = [PLACED.decode(raw) for raw in await self._state.orders(cart_id)]
        return sorted(placed, key=lambda p: p.placed_at, reverse=True)

    async def _read(self, placed: PlacedOrder) -> model.Order:
        try:
            order = await self._upstream.read_order(placed.ref)
        except UpstreamUnavailable as exc:
            raise unavailable(exc) from exc
        except UpstreamRefused as exc:
            raise exc.with_cart(None) from exc
        order = model.with_products(order, placed.products, placed.payment_method)
        return msgspec.structs.replace(order, number=placed.number or order.number)

    async def list(self, owner: Owner) -> bytes:
        """The owner's orders, newest first."""
        placed = await self._placed(owner)
        orders = await asyncio.gather(*(self._read(p) for p in placed))
        return _ENCODER.encode(model.OrderList(items=list(orders)))

    async def one(self, owner: Owner, order_id: int) -> bytes:
        placed = next((p for p in await self._placed(owner) if p.ref.id == order_id), None)
        if placed is None:
            raise _not_found()
        return _ENCODER.encode(await self._read(placed))
