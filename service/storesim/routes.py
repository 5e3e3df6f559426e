"""The Store API routes: their paths, arguments and callbacks.

Callbacks are plain functions of a :class:`Call` and the sanitised parameters; the
HTTP layer (``wordpress.py``) resolves the session, checks the nonce, applies
latency and the session race, and renders headers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import cart as engine
from .cart import CartState
from .errors import StoreError
from .inventory import CATALOGUE_STOCK, Inventory
from .params import Arg
from .profiles import WOO_8_9, WooProfile
from .render import Renderer
from .totals import calculate

if TYPE_CHECKING:
    from .sim import Sim

NAMESPACE = r"/wc/store(?:/v1)?"
# The methods of the routes a list's ``_links.self`` names (9.9.5's ``targetHints``).
_LINK_ALLOW = {
    "items": ["GET", "POST", "PUT", "PATCH", "DELETE"],
    "coupons": ["GET", "DELETE"],
}


@dataclass(slots=True)
class Result:
    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Call:
    """What a callback sees: the session's cart (a private copy), the site URL, the live
    stock and the version's rules; ``sim`` (the store's orders and clock) and ``session``
    (the session's user id) for the checkout and order routes."""

    state: CartState
    renderer: Renderer
    site: str
    inventory: Inventory = CATALOGUE_STOCK
    profile: WooProfile = WOO_8_9
    sim: Sim | None = None
    session: str = ""

    def cart(self) -> dict[str, Any]:
        return self.renderer.cart(self.state, self.site, inventory=self.inventory)

    def links(self, kind: str, ident: str) -> dict[str, Any]:
        base = f"{self.site}/wp-json/wc/store/v1/cart/{kind}"
        link: dict[str, Any] = {"href": f"{base}/{ident}"}
        if self.profile.target_hints:
            link["targetHints"] = {"allow": _LINK_ALLOW[kind]}
        return {"self": [link], "collection": [{"href": base}]}

    def item(self, key: str, with_links: bool = False) -> dict[str, Any]:
        totals = calculate(self.state)
        line = next(t for t in totals.lines if t.line.key == key)
        body = self.renderer.item(line, self.site, self.inventory)
        if with_links:
            body["_links"] = self.links("items", key)
        return body

    def coupon(self, code: str, with_links: bool = False) -> dict[str, Any]:
        totals = calculate(self.state)
        found = next((c for c in totals.coupons if c.code == code), None)
        if found is None:
            raise StoreError(
                "woocommerce_rest_cart_coupon_invalid_code",
                "Coupon does not exist in the cart.",
                404,
            )
        body = self.renderer.coupon(found)
        if with_links:
            body["_links"] = self.links("coupons", code)
        return body


Callback = Callable[[Call, dict[str, Any]], Result]
# A route's permission callback: raises a StoreError (phase "permission") to refuse.
Permission = Callable[["Sim", dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Route:
    """A registered REST route: one regex, its methods, their args and callbacks."""

    name: str
    pattern: re.Pattern[str]
    callbacks: dict[str, Callback]
    args: dict[str, dict[str, Arg]]
    cart: bool = True  # cart routes carry Nonce/Cart-Token headers and a session
    # Every method is a write that needs the nonce, GET included (the checkout route).
    always_writes: bool = False
    batch: bool = True  # allowed inside /batch
    permission: Permission | None = None

    @property
    def allow(self) -> str:
        return ", ".join(self.callbacks)

    def method_for(self, method: str) -> str | None:
        """WordPress maps PUT/PATCH onto EDITABLE routes registered as ``POST, PUT, PATCH``."""
        method = "GET" if method == "HEAD" else method
        return method if method in self.callbacks else None


# -- cart callbacks ---------------------------------------------------------------------

_ITEM_ARGS = {
    "id": Arg(("integer",), validate=False),
    "quantity": Arg(("integer",), default=1),
    "variation": Arg(("array",)),
}


def get_cart(call: Call, p: dict[str, Any]) -> Result:
    return Result(200, call.cart())


def _add(call: Call, p: dict[str, Any]) -> engine.Line | None:
    return engine.add_item(
        call.state,
        p.get("id", 0),
        p.get("quantity", 1),
        p.get("variation"),
        call.inventory,
        call.profile,
    )


def add_item(call: Call, p: dict[str, Any]) -> Result:
    _add(call, p)
    return Result(201, call.cart())


def update_item(call: Call, p: dict[str, Any]) -> Result:
    engine.update_item(call.state, p.get("key"), p.get("quantity", 1), call.inventory, call.profile)
    return Result(200, call.cart())


def remove_item(call: Call, p: dict[str, Any]) -> Result:
    engine.remove_item(call.state, p.get("key"))
    return Result(200, call.cart())


def _items_subtotal(state: CartState) -> int:
    return sum(line.product.price_cents * line.quantity for line in state.lines.values())


def apply_coupon(call: Call, p: dict[str, Any]) -> Result:
    engine.apply_coupon(call.state, p.get("code"), _items_subtotal(call.state), call.profile)
    return Result(200, call.cart())


def remove_coupon(call: Call, p: dict[str, Any]) -> Result:
    engine.remove_coupon(call.state, p.get("code"))
    return Result(200, call.cart())


def update_customer(call: Call, p: dict[str, Any]) -> Result:
    engine.update_customer(call.state, p.get("billing_address"), p.get("shipping_address"))
    return Result(200, call.cart())


def select_shipping_rate(call: Call, p: dict[str, Any]) -> Result:
    engine.select_shipping_rate(call.state, p.get("package_id"), p["rate_id"])
    return Result(200, call.cart())


def list_items(call: Call, p: dict[str, Any]) -> Result:
    return Result(200, [call.item(key, with_links=True) for key in call.state.lines])


def create_item(call: Call, p: dict[str, Any]) -> Result:
    line = _add(call, p)
    if line is None:
        return Result(201, [])
    return Result(201, call.item(line.key, with_links=True))


def delete_items(call: Call, p: dict[str, Any]) -> Result:
    call.state.lines.clear()
    call.state.coupons.clear()
    return Result(200, [])


def get_item(call: Call, p: dict[str, Any]) -> Result:
    line = engine.get_line(call.state, p["key"])
    return Result(200, call.item(line.key, with_links=True))


def put_item(call: Call, p: dict[str, Any]) -> Result:
    line = engine.update_item(
        call.state, p["key"], p.get("quantity", 1), call.inventory, call.profile
    )
    return Result(200, call.item(line.key, with_links=True))


def delete_item(call: Call, p: dict[str, Any]) -> Result:
    engine.remove_item(call.state, p["key"])
    return Result(204, None)


def list_coupons(call: Call, p: dict[str, Any]) -> Result:
    return Result(200, [call.coupon(code, with_links=True) for code in list(call.state.coupons)])


def create_coupon(call: Call, p: dict[str, Any]) -> Result:
    code = engine.apply_coupon(call.state, p.get("code"), _items_subtotal(call.state), call.profile)
    return Result(201, call.coupon(code, with_links=True))


def delete_coupons(call: Call, p: dict[str, Any]) -> Result:
    call.state.coupons.clear()
    return Result(200, [])


def get_coupon(call: Call, p: dict[str, Any]) -> Result:
    return Result(200, call.coupon(engine.format_coupon_code(p["code"]), with_links=True))


def delete_coupon(call: Call, p: dict[str, Any]) -> Result:
    code = engine.format_coupon_code(p["code"])
    call.coupon(code)  # 404 when it is not applied
    call.state.coupons.remove(code)
    return Result(204, None)


def make_route(
    name: str,
    path: str,
    callbacks: dict[str, Callback],
    args: dict[str, dict[str, Arg]] | None = None,
    *,
    cart: bool = True,
    always_writes: bool = False,
    batch: bool = True,
    permission: Permission | None = None,
) -> Route:
    """A route under ``/wc/store/v1/``; ``path`` is a regex (named groups are URL params)."""
    pattern = re.compile(f"^{NAMESPACE}/{path}$")
    return Route(name, pattern, callbacks, args or {}, cart, always_writes, batch, permission)


_EDIT = ("POST", "PUT", "PATCH")
_STR = Arg(("string",))

CART_ROUTES: tuple[Route, ...] = (
    make_route("cart", "cart", {"GET": get_cart}),
    make_route("cart/add-item", "cart/add-item", {"POST": add_item}, {"POST": _ITEM_ARGS}),
    make_route(
        "cart/update-item",
        "cart/update-item",
        {"POST": update_item},
        {"POST": {"key": _STR, "quantity": Arg(("integer",))}},
    ),
    make_route(
        "cart/remove-item", "cart/remove-item", {"POST": remove_item}, {"POST": {"key": _STR}}
    ),
    make_route(
        "cart/apply-coupon", "cart/apply-coupon", {"POST": apply_coupon}, {"POST": {"code": _STR}}
    ),
    make_route(
        "cart/remove-coupon",
        "cart/remove-coupon",
        {"POST": remove_coupon},
        {"POST": {"code": _STR}},
    ),
    make_route(
        "cart/update-customer",
        "cart/update-customer",
        {"POST": update_customer},
        {"POST": {"billing_address": Arg(("object",)), "shipping_address": Arg(("object",))}},
    ),
    make_route(
        "cart/select-shipping-rate",
        "cart/select-shipping-rate",
        {"POST": select_shipping_rate},
        {
            "POST": {
                "package_id": Arg(("integer", "string", "null")),
                "rate_id": Arg(("string",), required=True),
            }
        },
    ),
    make_route(
        "cart/items",
        "cart/items",
        {"GET": list_items, "POST": create_item, "DELETE": delete_items},
        {"POST": _ITEM_ARGS},
    ),
    make_route(
        "cart/items/{key}",
        r"cart/items/(?P<key>[\w-]{32})",
        {"GET": get_item, **dict.fromkeys(_EDIT, put_item), "DELETE": delete_item},
        {key: {"quantity": Arg(("integer",))} for key in _EDIT},
    ),
    make_route(
        "cart/coupons",
        "cart/coupons",
        {"GET": list_coupons, "POST": create_coupon, "DELETE": delete_coupons},
        {"POST": {"code": Arg(("string",), required=True)}},
    ),
    make_route(
        "cart/coupons/{code}",
        r"cart/coupons/(?P<code>[\w-]+)",
        {"GET": get_coupon, "DELETE": delete_coupon},
    ),
)
