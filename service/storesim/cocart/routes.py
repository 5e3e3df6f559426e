"""CoCart 4.4's v2 routes: paths, methods, arguments, permission checks and callbacks.

Callbacks see a :class:`Ctx` (the request's cart key, its private copy of the cart,
the notices) and the sanitised arguments; the HTTP layer (``face.py``) loads and saves
the cart, applies latency and the session race, and writes CoCart's headers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..catalog import variation_display_name
from ..errors import StoreError
from . import cart as ops
from .customer import update_customer
from .params import ADD_ITEM_PARAMS, CART_PARAMS, ITEM_KEY, Param, text
from .products import Answer, Catalogue
from .render import CartView, cart_body

NAMESPACES = ("update-cart", "update-customer")
_BOOL_FALSE = Param("boolean", default=False)


@dataclass(slots=True)
class Ctx:
    """One request on one cart."""

    work: ops.Work
    key: str
    site: str
    catalogue: Catalogue

    def view(self, p: dict[str, Any]) -> CartView:
        return CartView(
            self.work.cart(),
            self.key,
            self.site,
            self.catalogue.slugs,
            bool(p.get("thumb", True)),
            self.work.inventory,
        )

    def cart(self, p: dict[str, Any]) -> Any:
        """``get_cart``: the raw session contents with ``default``, else the cart body."""
        view = self.view(p)
        if p.get("default"):
            return view.contents(with_data=True)
        return cart_body(view, self.work.printed(), str(p.get("fields") or ""))


Run = Callable[[Ctx, dict[str, Any]], Any]
Permission = Callable[[dict[str, Any]], StoreError | None]


@dataclass(frozen=True, slots=True)
class Handler:
    params: dict[str, Param]
    run: Run
    permission: Permission | None = None


@dataclass(frozen=True, slots=True)
class CoRoute:
    """``base`` is CoCart's rest_base (its headers name the cart only for ``cart*``)."""

    name: str
    pattern: re.Pattern[str]
    handlers: dict[str, Handler]
    base: str = ""
    kind: str = "cart"  # cart | catalogue (no session)
    batch: bool = True  # allow_batch v1 (the write routes)
    catalogue_run: (
        Callable[[Catalogue, str, dict[str, Any], dict[str, str], str], Answer] | None
    ) = field(default=None)

    def allow(self, raw: dict[str, Any]) -> str:
        """WordPress' Allow header: the methods whose permission check passes."""
        return ", ".join(
            m for m, h in self.handlers.items() if h.permission is None or h.permission(raw) is None
        )


# -- callbacks ------------------------------------------------------------------------


def get_cart(ctx: Ctx, p: dict[str, Any]) -> Any:
    return ctx.cart(p)


def create_cart(ctx: Ctx, p: dict[str, Any]) -> Any:
    ctx.work.cart()
    return {
        "message": "Here is your cart key. Either use it as a global parameter or set the CoCart "
        'cart key header for all future Cart API requests. See "Cart Key" section in the '
        "documentation to learn more.",
        "cart_key": ctx.key,
    }


def add_item(ctx: Ctx, p: dict[str, Any]) -> Any:
    line = ops.add_item(ctx.work, p.get("id"), p.get("quantity", "1"), p.get("variation"))
    if p.get("return_item"):
        view = ctx.view(p)
        return view.item(next(t for t in view.totals.lines if t.line.key == line.key))
    return ctx.cart(p)


def add_items(ctx: Ctx, p: dict[str, Any]) -> Any:
    ops.add_items(ctx.work, p.get("id"), p.get("quantity"))
    return ctx.cart(p)


def view_item(ctx: Ctx, p: dict[str, Any]) -> Any:
    key = ops.item_key(p.get("item_key"))
    view = ctx.view(p)
    for t in view.totals.lines:
        if t.line.key == key:
            return view.item(t)
    raise ops.error("cocart_item_not_in_cart", "Item specified does not exist in cart.", 404)


def update_item(ctx: Ctx, p: dict[str, Any]) -> Any:
    before = ctx.work.cart().lines.get(str(p.get("item_key")))
    was = before.quantity if before is not None else 0
    removed = ops.update_item(ctx.work, p.get("item_key"), p.get("quantity"))
    if removed is not None:
        return removed if p.get("return_status") else ctx.cart(p)
    if not p.get("return_status"):
        return ctx.cart(p)
    line = ctx.work.cart().lines[str(p.get("item_key"))]
    product = line.product
    name = variation_display_name(product) if product.type == "variation" else product.name
    if line.quantity == was:
        return {"message": f'The quantity for "{name}" has not changed.', "quantity": line.quantity}
    change = "increased" if line.quantity > was else "decreased"
    message = f'The quantity for "{name}" has {change} to "{line.quantity}".'
    return {"message": message, "quantity": line.quantity}


def remove_item(ctx: Ctx, p: dict[str, Any]) -> Any:
    message = ops.remove_item(ctx.work, p.get("item_key"))
    return message if p.get("return_status") else ctx.cart(p)


def restore_item(ctx: Ctx, p: dict[str, Any]) -> Any:
    line = ops.restore_item(ctx.work, p.get("item_key"))
    if p.get("return_item"):
        view = ctx.view(p)
        return view.item(next(t for t in view.totals.lines if t.line.key == line.key))
    return ctx.cart(p)


def list_items(ctx: Ctx, p: dict[str, Any]) -> Any:
    view = ctx.view(p)
    if not view.totals.lines:
        raise ops.error("cocart_no_items_in_cart", "No items in the cart.", 404)
    return {t.line.key: view.item(t) for t in view.totals.lines}


def count_items(ctx: Ctx, p: dict[str, Any]) -> Any:
    state = ctx.work.cart()
    if p.get("removed_items"):
        count = sum(r.quantity for r in state.removed.values())
    else:
        count = sum(line.quantity for line in state.lines.values())
    if p.get("return") != "numeric" and count <= 0:
        raise ops.error("cocart_no_items_in_cart", "No items in the cart.", 404)
    return count


def namespace_check(raw: dict[str, Any]) -> StoreError | None:
    """``cart/update``'s permission callback: the namespace must be registered."""
    namespace = text(raw.get("namespace"))
    if not isinstance(namespace, str) or namespace not in NAMESPACES:
        shown = namespace if isinstance(namespace, str) else ""
        return ops.error(
            "cocart_update_cart_no_namespace_error",
            f"There is no such namespace registered: {shown}.",
            404,
        )
    return None


def update(ctx: Ctx, p: dict[str, Any]) -> Any:
    if p.get("namespace") == "update-cart":
        ops.update_cart(ctx.work, p.get("quantity"))
    else:
        update_customer(ctx.work, p)
    return ctx.cart(p)


def clear(ctx: Ctx, p: dict[str, Any]) -> Any:
    ops.clear(ctx.work, bool(p.get("keep_removed_items")))
    return ctx.cart(p)


def calculate(ctx: Ctx, p: dict[str, Any]) -> Any:
    if p.get("return_totals"):
        return ctx.cart({**p, "fields": "totals"}).get("totals", {})
    return ctx.cart(p)


def totals(ctx: Ctx, p: dict[str, Any]) -> Any:
    """``cart/totals`` reads WooCommerce's totals without calculating them first, so on
    the real store it answers 404 whatever the cart holds (recording cocart/028)."""
    ctx.work.cart()
    raise ops.error(
        "cocart_cart_totals_empty", "This cart either has no items or was not calculated.", 404
    )


# -- the table ------------------------------------------------------------------------

_ITEM = {**CART_PARAMS, "item_key": ITEM_KEY}


def _cart_route(name: str, path: str, handlers: dict[str, Handler], batch: bool = True) -> CoRoute:
    base = name.split("/{", 1)[0]  # CoCart's rest_base: cart/item for cart/item/{key}
    pattern = re.compile(f"^/cocart/v2/{path}$")
    return CoRoute(f"cocart/v2/{name}", pattern, handlers, base, batch=batch)


def _no_cart(ctx: Ctx, p: dict[str, Any]) -> Any:
    raise AssertionError("a catalogue route has no cart callback")  # catalogue_run answers


def _catalogue_route(name: str, path: str, run: Any) -> CoRoute:
    handlers = {"GET": Handler({}, _no_cart)}
    return CoRoute(
        f"cocart/v2/{name}" if name else "cocart/v2",
        re.compile(f"^/cocart/v2{path}$"),
        handlers,
        name,
        kind="catalogue",
        batch=False,
        catalogue_run=run,
    )


ROUTES: tuple[CoRoute, ...] = (
    _catalogue_route("", "", lambda c, site, p, u, q: c.namespace(site)),
    _cart_route(
        "cart",
        "cart",
        {"GET": Handler(CART_PARAMS, get_cart), "POST": Handler({}, create_cart)},
    ),
    _cart_route("cart/add-item", "cart/add-item", {"POST": Handler(ADD_ITEM_PARAMS, add_item)}),
    _cart_route(
        "cart/add-items",
        "cart/add-items",
        {"POST": Handler({**ADD_ITEM_PARAMS, "return_items": _BOOL_FALSE}, add_items)},
    ),
    _cart_route(
        "cart/item/{key}",
        r"cart/item/(?P<item_key>\w+)",
        {
            "GET": Handler(_ITEM, view_item),
            "POST": Handler(
                {
                    **_ITEM,
                    "quantity": Param("quantity", required=True),
                    "return_status": _BOOL_FALSE,
                },
                update_item,
            ),
            "DELETE": Handler({**_ITEM, "return_status": _BOOL_FALSE}, remove_item),
            "PUT": Handler({**_ITEM, "return_item": _BOOL_FALSE}, restore_item),
            "PATCH": Handler({**_ITEM, "return_item": _BOOL_FALSE}, restore_item),
        },
    ),
    _cart_route("cart/items", "cart/items", {"GET": Handler(CART_PARAMS, list_items)}, False),
    _cart_route(
        "cart/items/count",
        "cart/items/count",
        {
            "GET": Handler(
                {
                    **CART_PARAMS,
                    "removed_items": _BOOL_FALSE,
                    "return": Param("string", default="numeric", sanitize=text),
                },
                count_items,
            )
        },
        False,
    ),
    _cart_route(
        "cart/calculate",
        "cart/calculate",
        {"POST": Handler({**CART_PARAMS, "return_totals": _BOOL_FALSE}, calculate)},
    ),
    _cart_route(
        "cart/clear",
        "cart/clear",
        {"POST": Handler({**CART_PARAMS, "keep_removed_items": _BOOL_FALSE}, clear)},
    ),
    _cart_route(
        "cart/update",
        "cart/update",
        {
            "POST": Handler(
                {
                    **CART_PARAMS,
                    "namespace": Param("string", sanitize=text),
                    "data": Param("object"),
                },
                update,
                namespace_check,
            )
        },
    ),
    _cart_route(
        "cart/totals",
        "cart/totals",
        {"GET": Handler({**CART_PARAMS, "html": _BOOL_FALSE}, totals)},
        False,
    ),
    _catalogue_route("products", "/products", lambda c, site, p, u, q: c.listing(site, p, q)),
    _catalogue_route(
        "products/{id}",
        r"/products/(?P<id>[\w-]+)",
        lambda c, site, p, u, q: c.product(site, u["id"]),
    ),
    _catalogue_route(
        "products/{id}/variations",
        r"/products/(?P<product_id>\d+)/variations",
        lambda c, site, p, u, q: c.variation_list(site, u["product_id"]),
    ),
    _catalogue_route(
        "products/{id}/variations/{id}",
        r"/products/(?P<product_id>\d+)/variations/(?P<id>\d+)",
        lambda c, site, p, u, q: c.variation(site, u["product_id"], u["id"]),
    ),
)


def match(rest_route: str) -> tuple[CoRoute, dict[str, str]] | None:
    for route in ROUTES:
        found = route.pattern.match(rest_route)
        if found:
            return route, found.groupdict()
    return None
