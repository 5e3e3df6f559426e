"""The control plane for the CoCart face, under ``/__sim/cocart``: read, seed and drop
CoCart carts, and switch CoCart's no-cache headers on the Store API face."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, put
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, JSONBody

from ..cart import CartState
from ..errors import StoreError
from ..sim import Sim
from . import store
from .cart import Work, add_item
from .face import CoCart
from .render import CartView, cart_body


class _Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


class SeedItem(_Strict):
    id: int
    quantity: int = 1
    variation: dict[str, str] | None = None


class SeedIn(_Strict):
    items: list[SeedItem] = msgspec.field(default_factory=list)
    expires_in_seconds: float = store.CART_EXPIRATION_S


class SettingsIn(_Strict):
    store_api_nocache: bool


def _face(request: Request[Any, Any, Any]) -> CoCart:
    face: CoCart = request.app.state.cocart
    return face


def describe(sim: Sim, face: CoCart, key: str, site: str) -> dict[str, Any]:
    """A stored cart: its row, its lines, and the cart as ``GET cocart/v2/cart`` shows it."""
    row = sim.cocart[key]
    state = row.state.copy()
    store.apply_customer_defaults(state)
    view = CartView(state, key, site, face.catalogue.slugs)
    return {
        "cart_key": key,
        "created_at": row.created,
        "expires_at": int(row.expires),
        "items": [
            {"item_key": line.key, "id": line.product_id, "quantity": line.quantity}
            for line in state.lines.values()
        ],
        "item_count": sum(line.quantity for line in state.lines.values()),
        "removed_items": [
            {"item_key": r.key, "id": r.product_id, "quantity": r.quantity}
            for r in state.removed.values()
        ],
        "cart": cart_body(view, []),
    }


class CocartControl(Controller):
    path = "/__sim/cocart"
    include_in_schema = False

    @get("/carts")
    async def carts(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Every live CoCart cart: key, expiry and quantity."""
        sim = _face(request).sim
        store.purge_expired(sim)
        return {
            "carts": [
                {
                    "cart_key": key,
                    "expires_at": int(row.expires),
                    "item_count": sum(line.quantity for line in row.state.lines.values()),
                }
                for key, row in sim.cocart.items()
            ]
        }

    @get("/carts/{cart_key:str}")
    async def cart(
        self, request: Request[Any, Any, Any], cart_key: FromPath[str]
    ) -> dict[str, Any]:
        face = _face(request)
        if not store.exists(face.sim, cart_key):
            raise NotFoundException(f"no CoCart cart {cart_key}")
        return describe(face.sim, face, cart_key, f"{request.url.scheme}://{request.url.netloc}")

    @put("/carts/{cart_key:str}")
    async def seed(
        self, request: Request[Any, Any, Any], cart_key: FromPath[str], data: JSONBody[SeedIn]
    ) -> dict[str, Any]:
        """Store a cart under ``cart_key`` (a cart left by an earlier client, say)."""
        face = _face(request)
        work = Work(CartState(), face.sim.inventory())
        try:
            for item in data.items:
                add_item(work, str(item.id), str(item.quantity), item.variation)
        except StoreError as error:
            raise ValidationException(f"{error.code}: {error.message}") from error
        assert work.state is not None
        store.save(face.sim, cart_key, work.state, data.expires_in_seconds)
        return describe(face.sim, face, cart_key, f"{request.url.scheme}://{request.url.netloc}")

    @delete("/carts/{cart_key:str}", status_code=200)
    async def drop(
        self, request: Request[Any, Any, Any], cart_key: FromPath[str]
    ) -> dict[str, Any]:
        """Delete one cart, as the cleanup job does once it has expired."""
        existed = _face(request).sim.cocart.pop(cart_key, None) is not None
        return {"deleted": existed}

    @put("/settings")
    async def settings(
        self, request: Request[Any, Any, Any], data: JSONBody[SettingsIn]
    ) -> dict[str, Any]:
        """``store_api_nocache``: CoCart's no-cache headers on Store API answers too."""
        sim = _face(request).sim
        sim.store_api_nocache = data.store_api_nocache
        return {"store_api_nocache": sim.store_api_nocache}
