"""The checkout's rules, as ``Routes\\V1\\Checkout``, ``CheckoutOrder`` and ``Order`` run them.

``POST /checkout``, in WooCommerce's order: the cart must not be empty; its stock is
checked (8.9.1 refuses with 409, 9.9.5 cuts a line to the stock); the request's addresses
go into the session (8.9.1 copies billing to a missing shipping address); the session's
draft order (or a new one) is filled from the cart; the note and payment method are set
(a missing or disabled method is refused); the email, shipping option and required
address fields are checked; bacs and cheque put the order on hold, stock is reduced and
the cart is emptied. A refusal after the draft step keeps what was written: the session's
addresses and the draft, as on the real store.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from ..cart import SHIPPING_FIELDS
from ..cart_errors import stock_problems
from ..catalog import PAYMENT_GATEWAYS, PAYMENT_METHODS
from ..errors import StoreError
from ..routes import Call, Result
from ..sessions import CriticalError
from ..totals import calculate
from .addresses import validate_addresses, validate_email
from .orders import Order
from .render import EMPTY_PAYMENT, checkout_body, order_body, payment_success

if TYPE_CHECKING:
    from ..sim import Sim

EMAIL_GRACE_S = 10 * 60  # woocommerce_order_email_verification_grace_period


def _sim(call: Call) -> Sim:
    if call.sim is None:
        raise RuntimeError("a checkout route needs the store")
    return call.sim


def _cart_empty(call: Call, *, placing: bool) -> StoreError:
    if placing and call.profile.empty_checkout_409:
        return StoreError(
            "woocommerce_rest_cart_empty",
            "Cannot place an order, your cart is empty.",
            409,
            leading={"0": 400},
            data={"cart": call.cart()},
        )
    return StoreError("woocommerce_rest_cart_empty", "Cannot create order from empty cart.", 400)


def _list_extensions(cart: dict[str, Any]) -> dict[str, Any]:
    """8.9.1 serialises the cart inside a stock error with ``"extensions": []``."""
    items = [{**item, "extensions": []} for item in cart["items"]]
    return {**cart, "items": items, "extensions": []}


def _check_stock(call: Call) -> None:
    problems = stock_problems(call.state, call.inventory)
    if not problems:
        return
    if call.profile.stock_cut_at_checkout:
        for line in list(call.state.lines.values()):
            stock = call.inventory.stock(line.product)
            if not call.inventory.in_stock(line.product):
                del call.state.lines[line.key]
            elif stock is not None and line.quantity > stock:
                line.quantity = stock
            elif line.product.sold_individually:
                line.quantity = 1
        if call.state.is_empty():
            raise _cart_empty(call, placing=True)
        return
    cart = call.cart()
    if call.profile.invalid_cart_extensions_list:
        cart = _list_extensions(cart)
    first = problems[0]
    raise StoreError(first.code, first.message(False), 409, leading={"0": 409}, data={"cart": cart})


def _draft(call: Call) -> Order:
    """``create_or_update_draft_order``: the session's draft, made or refreshed from the cart."""
    sim = _sim(call)
    if call.state.is_empty():
        raise _cart_empty(call, placing=False)
    order = sim.orders.get(call.state.draft_order)
    if order is None or order.status != "checkout-draft" or order.session != call.session:
        order = sim.orders.create(call.session, sim.now())
        call.state.draft_order = order.id
    order.fill_from_cart(call.state, calculate(call.state), sim.orders.next_item_id)
    if call.profile.draft_default_payment:
        order.payment_method = call.state.payment_method or call.profile.draft_default_payment
    return order


def _payment_method(order: Order, requested: Any) -> str:
    """``get_request_payment_method``: none (when the order needs payment) or a disabled
    gateway is refused."""
    method = str(requested or "")
    if not method:
        if order.needs_payment:
            raise StoreError(
                "woocommerce_rest_checkout_missing_payment_method",
                "No payment method provided.",
                400,
            )
        return ""
    if method not in PAYMENT_METHODS:
        title = PAYMENT_GATEWAYS.get(method, method)
        raise StoreError(
            "woocommerce_rest_checkout_payment_method_disabled",
            f"{title} is not available for this order—please choose a different payment method",
            400,
        )
    return method


def _pay(sim: Sim, order: Order) -> None:
    """bacs and cheque: the order waits on hold for the money; stock goes down now."""
    order.status = "on-hold" if order.needs_payment else "processing"
    order.reduce_stock(sim.stock)


# -- routes -------------------------------------------------------------------------------


def get_checkout(call: Call, p: dict[str, Any]) -> Result:
    """``GET /checkout``: the draft order (made on the first call, the same one after)."""
    return Result(200, checkout_body(_draft(call), call.profile, dict(EMPTY_PAYMENT)))


def update_checkout(call: Call, p: dict[str, Any]) -> Result:
    """``PUT``/``PATCH /checkout`` (9.9.5): update the draft; the cart comes back with it."""
    order = _draft(call)
    if p.get("payment_method"):
        call.state.payment_method = order.payment_method = str(p["payment_method"])
    return Result(200, checkout_body(order, call.profile, None, call.cart()))


def place_order(call: Call, p: dict[str, Any]) -> Result:
    """``POST /checkout``."""
    sim, state = _sim(call), call.state
    calculate(state)  # calculate_totals: stale coupons go, the rate falls back
    if state.is_empty():
        raise _cart_empty(call, placing=True)
    _check_stock(call)
    billing: dict[str, str] = p["billing_address"]
    shipping: dict[str, str] | None = p.get("shipping_address")
    if shipping is None and call.profile.shipping_from_billing:
        shipping = {key: billing.get(key, "") for key in SHIPPING_FIELDS}
    state.billing = dict(billing)
    if shipping is not None:
        state.shipping = dict(shipping)
    order = _draft(call)
    order.customer_note = str(p.get("customer_note") or "")
    order.payment_method = _payment_method(order, p.get("payment_method"))
    # create_account: registration at checkout is off in the recorded store's settings.
    validate_email(order.billing)
    totals = calculate(state)
    if totals.package is not None and totals.package.selected is None:
        raise StoreError(
            "woocommerce_rest_invalid_shipping_option",
            "Sorry, this order requires a shipping option.",
            400,
        )
    validate_addresses(order.billing, order.shipping_address, bool(order.lines))
    _pay(sim, order)
    state.lines.clear()
    state.coupons.clear()
    state.chosen_shipping.clear()
    state.removed.clear()
    state.draft_order = None
    state.payment_method = ""
    return Result(200, checkout_body(order, call.profile, payment_success(call.site, order)))


def pay_order(call: Call, p: dict[str, Any]) -> Result:
    """``POST /checkout/{id}``: pay an existing (pending or failed) order again."""
    sim = _sim(call)
    order = sim.orders.get(p["id"])
    if order is None or order.status not in ("pending", "failed"):
        raise StoreError(
            "invalid_order_update_status", "This order cannot be paid for.", 500, null_data=True
        )
    if p.get("shipping_address") is None:
        # update_shipping_address() walks the missing address: a PHP TypeError.
        raise CriticalError("foreach() argument must be of type array|object, null given")
    order.billing = dict(p["billing_address"])
    order.shipping_address = dict(p["shipping_address"])
    order.customer_note = ""
    order.payment_method = _payment_method(order, p.get("payment_method"))
    validate_email(order.billing)
    validate_addresses(order.billing, order.shipping_address, bool(order.lines))
    _pay(sim, order)
    return Result(200, checkout_body(order, call.profile, payment_success(call.site, order)))


def read_order(call: Call, p: dict[str, Any]) -> Result:
    """``GET /order/{id}``."""
    order = _sim(call).orders.get(p["id"])
    if order is None:  # authorize() has checked it exists
        raise RuntimeError(f"no order {p['id']}")
    body = order_body(order, call.profile, call.renderer, call.site, call.inventory)
    return Result(200, body)


def authorize(sim: Sim, p: dict[str, Any]) -> None:
    """``OrderAuthorizationTrait::is_authorized`` for a guest: the order key must match;
    the billing email too, once the order is more than 10 minutes old."""
    order = sim.orders.get(p.get("id"))
    key = str(p.get("key") or "")
    if order is None or not key or not hmac.compare_digest(order.key, key):
        raise StoreError(
            "woocommerce_rest_invalid_order",
            "Invalid order ID or key provided.",
            401,
            phase="permission",
        )
    email = order.billing.get("email", "")
    supplied = str(p.get("billing_email") or "")
    if email and sim.now() - order.created_at > EMAIL_GRACE_S and supplied.lower() != email.lower():
        raise StoreError(
            "woocommerce_rest_invalid_billing_email",
            "Invalid billing email provided.",
            401,
            phase="permission",
        )
