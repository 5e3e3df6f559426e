"""The checkout handoff: the one place an upstream token leaves cartsync.

``POST /v1/cart/checkout-link`` gives the app a single-use cartsync link (valid at most
five minutes); opening it redirects the browser to the shop with the cart, as the store
allows (Store API: the checkout with ``?session=<Cart-Token>``, which WooCommerce 10
restores; CoCart: ``?cocart-load-cart=<key>``). The link's code is stored only as a
hash and never logged.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter

from .dependencies import Caller, provide_caller
from .docs import AUTHENTICATED, BEARER, documented, ok
from .schemas import CheckoutLink


class CheckoutController(Controller):
    tags = ["checkout"]

    @post(
        "/v1/cart/checkout-link",
        operation_id="createCheckoutLink",
        status_code=201,
        dependencies={"caller": Provide(provide_caller)},
        security=BEARER,
        summary="A single-use link that opens this cart in the shop's web checkout",
        **documented({201: ok(CheckoutLink, "The link and when it expires")}, AUTHENTICATED),
    )
    async def create(
        self, request: Request[Any, Any, Any], caller: NamedDependency[Caller]
    ) -> CheckoutLink:
        code, expires = await caller.service.checkout_code(caller.owner)
        settings = request.app.state.settings
        base = (settings.public_url or str(request.base_url)).rstrip("/")
        return CheckoutLink(url=f"{base}/v1/checkout/{code}", expires_at=expires)

    @get(
        "/v1/checkout/{code:str}",
        operation_id="openCheckout",
        status_code=303,
        summary="Redeem a checkout link: redirects to the shop's checkout (once)",
        **documented(
            {303: ok(None, "To the shop's checkout with the cart's session (Location)")},
            (404, 422, 503),
            why={404: "link_expired: the link was used, has expired or never existed"},
        ),
    )
    async def redeem(
        self,
        request: Request[Any, Any, Any],
        code: Annotated[str, PathParameter(min_length=20, max_length=100)],
    ) -> Response[None]:
        target = await request.app.state.service.redeem(code)
        return Response(
            None,
            status_code=303,
            headers={
                "Location": target,
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )
