"""The shop front storesim serves: the checkout handoff page (``/?session=``,
``/checkout/?session=``) and the cart pages a cookie session shows."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from .http import HttpRequest, HttpResponse
from .sessions import Session
from .tokens import new_guest_id

if TYPE_CHECKING:
    from .wordpress import WordPress


def storefront(wp: WordPress, request: HttpRequest) -> HttpResponse:
    """``/?session=<Cart-Token>`` and ``/checkout/?session=``: the web checkout handoff.

    A logged-out visitor gets a clone of the token's guest session in a cookie.
    """
    if request.path not in ("/", "/index.php", "/checkout", "/checkout/", "/cart/"):
        page = "<!doctype html><title>Page not found</title><h1>Not found</h1>"
        return HttpResponse(404, [("Content-Type", "text/html; charset=UTF-8")], page.encode())
    query = dict(parse_qsl(request.query))
    headers = [("Content-Type", "text/html; charset=UTF-8")]
    if request.path != "/" and request.path != "/index.php":
        # WooCommerce's cart and checkout pages are sent with nocache_headers().
        headers += [
            ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
            ("Cache-Control", "no-cache, must-revalidate, max-age=0"),
        ]
    session: Session | None = None
    user = wp.sim.signer.valid_user(query.get("session"), wp.sim.now())
    if user is not None and user.startswith("t_") and user in wp.sim.sessions:
        session = Session(new_guest_id(), True, wp.sim.load(user))
        wp.sim.save(session.user_id, session.state)
        headers += wp._cookies(session, request.site, True)
    else:
        session = wp._open_session(request, None)
    cart = wp.renderer.cart(session.state, request.site)
    rows = "".join(
        f'<li data-key="{item["key"]}" data-quantity="{item["quantity"]}">'
        f"{html.escape(item['name'])} &times; {item['quantity']}</li>"
        for item in cart["items"]
    )
    page = (
        "<!doctype html><html><head><title>Checkout – storesim</title></head><body>"
        f'<h1>Checkout</h1><ul id="cart">{rows}</ul>'
        f'<p id="total" data-total="{cart["totals"]["total_price"]}">Total: '
        f"{cart['totals']['total_price']}</p></body></html>"
    )
    return HttpResponse(200, headers, page.encode())
