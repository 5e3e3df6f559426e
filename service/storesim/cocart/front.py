"""The load-cart URL on the shop front: ``/?cocart-load-cart=<cart key>``.

As recorded (cocart-extra/003-011): a 301 to the same URL (the recorded store's front
redirected every page to itself) with WooCommerce's cookies. The session cookie names
the cart key, so the browser's web session *is* the CoCart cart: storesim's storefront
pages and the Store API cookie session then show it. Cookies are only sent when they
change. The hash in ``woocommerce_cart_hash`` is computed before the web session has
totals (total 0) unless that session already was this cart. An unknown key: a 301 and
no cookies. ``notify`` and ``keep-cart`` do nothing in CoCart 4.4.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote

from ..http import HttpRequest, HttpResponse, http_date, session_cookie_name
from . import store
from .params import text
from .render import CartView

if TYPE_CHECKING:
    from .face import CoCart

QUERY = "cocart-load-cart"
PAGES = ("/", "/index.php", "/cart/", "/checkout", "/checkout/")


def wants_front(request: HttpRequest) -> bool:
    if request.path not in PAGES:
        return False
    return any(name == QUERY for name, _ in parse_qsl(request.query, keep_blank_values=True))


def _requested(request: HttpRequest) -> str:
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        if name == QUERY:
            return str(text(value))
    return ""


def load_cart(face: CoCart, request: HttpRequest) -> HttpResponse:
    """``CoCart_Load_Cart::load_cart_action`` for a logged-out visitor."""
    sim = face.sim
    sim.requests["GET load-cart"] += 1
    key = _requested(request)
    location = f"{request.site}{request.path}" + (f"?{request.query}" if request.query else "")
    headers = [
        ("Content-Type", "text/html; charset=UTF-8"),
        ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
        ("Cache-Control", "no-cache, must-revalidate, max-age=0"),
        ("X-Redirect-By", "WordPress"),
        ("Location", location),
    ]
    name = session_cookie_name(request.site)
    current = request.cookies.get(name, "").split("||", 1)[0]
    state = store.load_web_session(sim, key) if key else None
    if state is None:
        return HttpResponse(301, headers, b"")
    if current and current != key and store.exists(sim, current):
        del sim.cocart[current]  # "Destroy guest cart if one already existed"
    view = CartView(state, key, request.site, face.catalogue.slugs)
    cart_hash = view.cart_hash() if current == key else view.web_hash()
    cookies = []
    if state.lines:
        if request.cookies.get("woocommerce_items_in_cart") != "1":
            cookies.append(("Set-Cookie", "woocommerce_items_in_cart=1; path=/"))
        if request.cookies.get("woocommerce_cart_hash") != cart_hash:
            cookies.append(("Set-Cookie", f"woocommerce_cart_hash={cart_hash}; path=/"))
    expiry = int(sim.now()) + store.WEB_SESSION_S
    digest = hashlib.md5(f"{key}|{expiry}".encode(), usedforsecurity=False).hexdigest()
    value = f"{key}||{expiry}||{expiry - 3600}||{digest}"
    if request.cookies.get(name) != value:
        cookies.append(
            (
                "Set-Cookie",
                f"{name}={quote(value, safe='')}; expires={http_date(expiry)}; "
                f"Max-Age={store.WEB_SESSION_S}; path=/; HttpOnly",
            )
        )
    store.save_web_session(sim, key, state)
    return HttpResponse(301, [*headers, *cookies], b"")
