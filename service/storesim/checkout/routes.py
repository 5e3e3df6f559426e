"""The checkout's routes and their arguments, per WooCommerce profile.

``/checkout`` is a cart route whose every method needs the nonce (GET included);
``PUT``/``PATCH`` exist on 9.9.5 only. ``/checkout/{id}`` is a cart route too;
``/order/{id}`` is not (no session headers). Both check the order key and billing email
in their permission callback, before the nonce. None of them runs inside ``/batch``.
"""

from __future__ import annotations

from ..catalog import PAYMENT_GATEWAYS
from ..params import Arg
from ..profiles import WooProfile
from ..routes import Callback, Route, make_route
from .addresses import check_billing, check_shipping
from .flow import authorize, get_checkout, pay_order, place_order, read_order, update_checkout

_STRING = Arg(("string",))
_OBJECT = Arg(("object",))
_METHOD = Arg(("string",), enum=tuple(PAYMENT_GATEWAYS))
_BILLING = Arg(("object",), required=True, check=check_billing)
_SHIPPING = Arg(("object",), check=check_shipping)

PLACE_ARGS = {
    "billing_address": _BILLING,
    "shipping_address": _SHIPPING,
    "customer_note": _STRING,
    "create_account": Arg(("boolean",)),
    "customer_password": _STRING,
    "payment_method": _METHOD,
    "payment_data": Arg(("array",)),
    "extensions": _OBJECT,
    "additional_fields": _OBJECT,
}
UPDATE_ARGS = {
    "payment_method": _METHOD,
    "order_notes": _STRING,
    "additional_fields": _OBJECT,
}
PAY_ARGS = {
    "id": Arg(("integer",)),
    "key": _STRING,
    "billing_email": _STRING,
    "billing_address": _BILLING,
    "shipping_address": _SHIPPING,
    "payment_method": _METHOD,
    "payment_data": Arg(("array",)),
}
ORDER_ARGS = {"id": Arg(("integer",)), "key": _STRING, "billing_email": _STRING}


def checkout_routes(profile: WooProfile) -> tuple[Route, ...]:
    callbacks: dict[str, Callback] = {"GET": get_checkout, "POST": place_order}
    args = {"POST": PLACE_ARGS}
    if profile.checkout_update:
        callbacks |= {"PUT": update_checkout, "PATCH": update_checkout}
        args |= {"PUT": UPDATE_ARGS, "PATCH": UPDATE_ARGS}
    return (
        make_route("checkout", "checkout", callbacks, args, always_writes=True, batch=False),
        make_route(
            "checkout/{id}",
            r"checkout/(?P<id>\d+)",
            {"POST": pay_order},
            {"POST": PAY_ARGS},
            batch=False,
            permission=authorize,
        ),
        make_route(
            "order/{id}",
            r"order/(?P<id>\d+)",
            {"GET": read_order},
            {"GET": ORDER_ARGS},
            cart=False,
            batch=False,
            permission=authorize,
        ),
    )
