"""CoCart's cart table (``wp_cocart_carts``): cart keys, expiry, loading and saving.

A CoCart cart is its own session, keyed by a cart key and kept apart from the Store
API's sessions (``Sim.sessions``), as on the real store (recording ``cocart/040``).
Each request loads the cart at its start and writes the whole of it back at its end,
GETs included (``save_data`` at PHP shutdown has no dirty check): the last writer wins.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import catalog
from ..cart import CartState
from ..http import HttpRequest
from ..params import form_to_params

if TYPE_CHECKING:
    from ..sim import Sim

CART_EXPIRING_S = 6 * 86400  # cocart_cart_expiring: the CoCart-API-Cart-Expiring header
CART_EXPIRATION_S = 7 * 86400  # cocart_cart_expiration: a guest cart lives 7 days
WEB_SESSION_S = 2 * 86400  # WooCommerce's session expiry, written when the web session saves
KEY_HEADER = "cocart-api-cart-key"
_UNSAFE = re.compile(r"[^a-z0-9_\-]")
_PURGE_EVERY = 256


@dataclass(slots=True)
class CocartCart:
    """One row of ``wp_cocart_carts``."""

    state: CartState
    created: int
    expires: float  # cart_expiry; past it the cleanup job deletes the row


def generate_key() -> str:
    """``generate_key()``: 30 lowercase hex characters, no prefix."""
    return secrets.token_hex(15)


def sanitize_key(value: Any) -> str:
    """WordPress' ``sanitize_key``: lower case, only ``a-z 0-9 _ -``."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return ""
    return _UNSAFE.sub("", str(value).lower()).strip()


def requested_key(request: HttpRequest) -> str:
    """The cart key a request names: ``$_REQUEST['cart_key']`` (the query string or a
    form body; a JSON body is not in ``$_REQUEST``), or the ``CoCart-API-Cart-Key``
    header, which wins when both are present."""
    key = ""
    sources = [form_to_params(request.query)]
    content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded" and request.body:
        sources.append(form_to_params(request.body.decode("utf-8", "replace")))
    for params in sources:
        if "cart_key" in params:
            key = sanitize_key(params["cart_key"])
    header = request.header(KEY_HEADER)
    if header:
        key = sanitize_key(header)
    return key


def apply_customer_defaults(state: CartState) -> None:
    """``WC_Customer_Data_Store_Session::set_defaults`` on every read: an empty billing
    country/state takes the store's default location, an empty shipping country/state
    the billing one (recordings cocart/025, cocart-extra/019)."""
    if not state.billing.get("country"):
        state.billing["country"] = catalog.STORE_COUNTRY
    if not state.shipping.get("country"):
        state.shipping["country"] = state.billing["country"]
    if not state.billing.get("state"):
        state.billing["state"] = catalog.STORE_STATE
    if not state.shipping.get("state"):
        state.shipping["state"] = state.billing["state"]


def _live(sim: Sim, key: str) -> CocartCart | None:
    row = sim.cocart.get(key)
    if row is not None and row.expires < sim.now():
        del sim.cocart[key]  # the cleanup job ran: an expired cart is gone
        return None
    return row


def exists(sim: Sim, key: str) -> bool:
    return _live(sim, key) is not None


def load(sim: Sim, key: str) -> CartState:
    """A private copy of the cart, as PHP reads it at the start of a request; an unknown
    (or expired) key is an empty cart under that key."""
    row = _live(sim, key)
    state = row.state.copy() if row is not None else CartState()
    apply_customer_defaults(state)
    return state


def save(sim: Sim, key: str, state: CartState, lifetime: float = CART_EXPIRATION_S) -> None:
    """Write the whole cart back (``INSERT ... ON DUPLICATE KEY UPDATE``): last writer wins."""
    now = sim.now()
    row = sim.cocart.get(key)
    created = row.created if row is not None else int(now)
    sim.cocart[key] = CocartCart(state.copy(), created, now + lifetime)
    if len(sim.cocart) % _PURGE_EVERY == 0:
        purge_expired(sim)


def renew(sim: Sim, key: str) -> None:
    """The expiry ``UPDATE`` at the start of every request naming an existing key."""
    row = _live(sim, key)
    if row is not None:
        row.expires = sim.now() + CART_EXPIRATION_S


def purge_expired(sim: Sim) -> None:
    """``cocart_cleanup_carts``: delete every row past its expiry."""
    now = sim.now()
    for key in [k for k, row in sim.cocart.items() if row.expires < now]:
        del sim.cocart[key]


def load_web_session(sim: Sim, key: str) -> CartState | None:
    """The web (cookie) session named ``key``, when a CoCart cart holds it: after
    ``?cocart-load-cart=`` the browser's session *is* the CoCart cart's row."""
    row = _live(sim, key)
    if row is None:
        return None
    state = row.state.copy()
    apply_customer_defaults(state)
    return state


def save_web_session(sim: Sim, key: str, state: CartState) -> None:
    """A web request saving the row: WooCommerce's 48-hour session expiry is written."""
    save(sim, key, state, WEB_SESSION_S)
