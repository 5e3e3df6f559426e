"""The CoCart adapter (``/wp-json/cocart/v2``, CoCart 4.4 free).

Credentials are the cart key (and the store time of the last answer: ``session.py``).
CoCart has no batch that works (WordPress core's ``batch/v1`` fails every CoCart
sub-request), so a lane turn is one request (``turn``): one add, removal or customer
update, or quantity sets on lines the cart holds, together in one ``cart/update``
(``namespace=update-cart``). Each request is its own session write, so the lane
settles (and answers) each as it comes back, and a lost answer concerns one request.

Every CoCart request, reads included, writes the whole cart back when it ends, so a
request whose answer was lost may still overwrite a later write: after a lost answer
no write to that cart leaves until the grace period has passed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
import msgspec

from ...carts import operations as ops
from ...carts.errors import Conflict, not_supported
from ...carts.model import Cart, Order, Product, ProductPage
from ...carts.ports.upstream import (
    BatchOutcome,
    Capabilities,
    OrderRef,
    Placement,
    ProductQuery,
    UpstreamCart,
)
from ...carts.ports.upstream_errors import (
    UpstreamOutcomeUnknown,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamUnavailable,
)
from .._http import StoreClient, StoreClientSettings, StoreResponse, product_params
from . import session
from .errors import refusal
from .mapping import cart_of, to_cart
from .plan import Request, attribute_field, plan_requests
from .products import page_currency, product_of, products_of, to_product

API_PATH = "/wp-json/cocart/v2"
CAPABILITIES = Capabilities(
    kind="cocart",
    max_batch=25,  # quantity sets in one cart/update
    coupons=False,
    shipping_rates=False,
    handoff="load-cart",
    customer_first=False,
    shipping_address=False,
)
_ERROR_DECODER = msgspec.json.Decoder(dict[str, Any])


def _raise_for(response: StoreResponse, on_a_line: bool = False) -> None:
    if response.status_code < 400:
        return
    try:
        body = _ERROR_DECODER.decode(response.content)
    except msgspec.DecodeError:
        body = {}
    code = str(body.get("code", ""))
    if response.status_code >= 500:
        raise UpstreamOutcomeUnknown(
            f"store answered {response.status_code} ({code})", finished=True
        )
    if response.status_code == 429 or code == "rate_limit_exceeded":
        wait = str(response.headers.get("Retry-After") or "5")
        raise UpstreamRateLimited("store rate limit", int(wait) if wait.isdigit() else 5)
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    params = data.get("params") if isinstance(data, dict) else None
    details = params if isinstance(params, dict) else None
    raise refusal(
        code or f"http_{response.status_code}",
        str(body.get("message", "")),
        details,
        on_a_line=on_a_line,
    )


class CoCartUpstream:
    """Talks to one WooCommerce store's CoCart API."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        base_url: str,
        *,
        client: StoreClientSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        lost_request_grace_s: float = 30.0,
    ) -> None:
        self._shop = base_url.rstrip("/")
        self._http = StoreClient(self._shop + API_PATH, client or StoreClientSettings(), transport)
        self._clock = session.StoreClock()
        self._grace_s = lost_request_grace_s
        self._unsettled: dict[str, float] = {}  # cart key → when a lost request is surely over
        self._fields: dict[int, dict[str, str]] = {}  # product → label field → form field

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- credentials: the cart key --------------------------------------------------------
    def cart_lost(self, sent: str | None, received: str | None) -> bool:
        return session.cart_lost(sent, received)

    def renewal_due(self, credentials: str | None, now: float) -> bool:
        known = session.unpack(credentials)
        return known is not None and self._clock.now(now) - known[1] >= session.RENEW_AFTER_S

    def worth_storing(self, stored: str | None, received: str) -> bool:
        return session.worth_storing(stored, received)

    def handoff_url(self, credentials: str) -> str:
        known = session.unpack(credentials)
        key = known[0] if known is not None else ""
        return f"{self._shop}/?{httpx.QueryParams({'cocart-load-cart': key})}"

    def _live_key(self, credentials: str | None) -> str | None:
        """The key to send: none for a cart the store may have deleted meanwhile (it
        moves to a new key, and the lane rebuilds it there)."""
        known = session.unpack(credentials)
        if known is None or session.may_have_expired(credentials, self._clock.now()):
            return None
        return known[0]

    # -- transport ------------------------------------------------------------------------
    async def _call(
        self, method: str, path: str, key: str | None, body: dict[str, Any] | None = None
    ) -> tuple[Cart, str]:
        """One request about a cart; its cart and the newest credentials."""
        params = {"cart_key": key} if key else None
        try:
            response = await self._http.send(method, path, json=body, params=params)
        except UpstreamOutcomeUnknown:
            self._unsettle(key)
            raise
        _raise_for(response, on_a_line=method == "POST" and path.startswith("/cart/item/"))
        try:
            cart = cart_of(response.content)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamUnavailable("store sent a cart that is not valid JSON") from exc
        answered_key = response.headers.get("CoCart-API-Cart-Key") or cart.cart_key
        if not answered_key:
            raise UpstreamUnavailable("store sent no cart key")
        stamp = self._clock.seen(response.headers.get("CoCart-Timestamp"))
        return to_cart(cart), session.pack(answered_key, stamp or int(self._clock.now()))

    def _unsettle(self, key: str | None) -> None:
        if key:
            self._unsettled[key] = time.monotonic() + self._grace_s
            if len(self._unsettled) > 10_000:
                self._unsettled.pop(next(iter(self._unsettled)))

    def _check_settled(self, key: str | None) -> None:
        until = self._unsettled.get(key or "")
        if until is None:
            return
        left = until - time.monotonic()
        if left <= 0:
            del self._unsettled[key or ""]
            return
        raise UpstreamUnavailable(
            "a lost request to this cart may still be running", retry_after=int(left) + 1
        )

    # -- carts ----------------------------------------------------------------------------
    async def fetch_cart(self, credentials: str | None) -> UpstreamCart:
        key = self._live_key(credentials)
        cart, received = await self._call("GET", "/cart", key)
        answered = session.unpack(received)
        if (
            key
            and answered is not None
            and not cart.items
            and session.may_have_expired(credentials, answered[1])
        ):
            # Empty, and past its expiry in the store's own time: the row was deleted
            # and the key adopted again. Start the cart over in a new key.
            cart, received = await self._call("GET", "/cart", None)
        return UpstreamCart(cart, received)

    def turn(self, operations: Sequence[ops.Operation], current: Cart | None) -> int:
        """The operations of the first request the plan makes of them."""
        return len(plan_requests(operations, current)[0].operations)

    async def apply_batch(
        self,
        credentials: str | None,
        operations: Sequence[ops.Operation],
        current: Cart | None = None,
    ) -> BatchOutcome:
        planned = plan_requests(operations, current)
        if len(planned) != 1:
            raise ValueError("one turn is one request: size it with turn()")
        request = planned[0]
        if request.refused is not None:
            return BatchOutcome([request.refused] * len(operations), None, credentials)
        if request.path is None:
            return BatchOutcome([None] * len(operations), None, credentials)  # nothing to do
        key = self._live_key(credentials)
        self._check_settled(key)
        body = await self._with_attribute_fields(request)
        try:
            cart, newest = await self._call(request.method, request.path, key, body)
        except UpstreamRefused as refused:
            if refused.error.code == "item_not_found":
                # The Store API answers a missing line with its cart; CoCart does not, and
                # a refusal changed nothing: the cart is the one the lane last saw.
                refused = UpstreamRefused(refused.error, cart=current)
            return BatchOutcome([refused] * len(operations), None, credentials)
        return BatchOutcome(_judged(request, cart), cart, newest)

    async def _with_attribute_fields(self, request: Request) -> dict[str, Any] | None:
        """An add by attributes named by their label (``Color``, as the Store API takes
        them) names CoCart's form fields instead (``attribute_pa_color``), looked up
        in the product (cached)."""
        body = request.body
        variation = body.get("variation") if body is not None else None
        if body is None or not isinstance(variation, dict):
            return body
        fields = await self._attribute_fields(int(body["id"]))
        return {**body, "variation": {fields.get(k, k): v for k, v in variation.items()}}

    async def _attribute_fields(self, product_id: int) -> dict[str, str]:
        known = self._fields.get(product_id)
        if known is not None:
            return known
        try:
            response = await self._http.send(
                "GET", f"/products/{product_id}", retries=self._http.read_retries
            )
            _raise_for(response)
            product = product_of(response.content)
        except (UpstreamRefused, msgspec.DecodeError, msgspec.ValidationError):
            return {}  # the add itself will say what is wrong
        attributes = product.attributes if isinstance(product.attributes, dict) else {}
        fields = {attribute_field(a.name): field for field, a in attributes.items() if a.name}
        self._fields[product_id] = fields
        if len(self._fields) > 10_000:
            self._fields.pop(next(iter(self._fields)))
        return fields

    # -- checkout: not in CoCart free (the handoff link takes the cart to the web) --------
    async def checkout_draft(self, credentials: str) -> OrderRef:
        raise UpstreamRefused(not_supported("checkout"))

    async def place_order(
        self, credentials: str, draft: OrderRef, checkout: ops.Checkout, current: Cart
    ) -> Placement:
        raise UpstreamRefused(not_supported("checkout"))

    async def read_order(self, ref: OrderRef) -> Order:
        raise UpstreamRefused(not_supported("checkout"))

    # -- products -------------------------------------------------------------------------
    async def list_products(self, query: ProductQuery) -> ProductPage:
        response = await self._http.send(
            "GET", "/products", params=product_params(query), retries=self._http.read_retries
        )
        _raise_for(response)
        try:
            products = products_of(response.content)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamUnavailable("store sent products that are not valid JSON") from exc
        return ProductPage(
            currency=page_currency(products),
            items=[to_product(p) for p in products],
            page=query.page,
            per_page=query.per_page,
            total=int(response.headers.get("X-WP-Total", len(products))),
            total_pages=int(response.headers.get("X-WP-TotalPages", 1)),
        )

    async def get_product(self, product_id: int) -> Product:
        response = await self._http.send(
            "GET", f"/products/{product_id}", retries=self._http.read_retries
        )
        _raise_for(response)
        try:
            return to_product(product_of(response.content))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamUnavailable("store sent a product that is not valid JSON") from exc


def _judged(request: Request, cart: Cart) -> list[UpstreamRefused | None]:
    """Per operation of an answered request: applied (None) or not. ``cart/update``
    answers 200 whatever it skipped, so quantity sets are judged by the cart."""
    if request.path != "/cart/update" or request.body is None:
        return [None] * len(request.operations)
    if request.body.get("namespace") != "update-cart":
        return [None] * len(request.operations)
    judged: list[UpstreamRefused | None] = []
    for op in request.operations:
        assert isinstance(op, ops.SetQuantity)
        line = next((i for i in cart.items if i.key == op.key), None)
        if line is not None and line.quantity == op.quantity:
            judged.append(None)
        else:
            judged.append(
                UpstreamRefused(
                    Conflict(
                        "item_rejected", "The store did not take this quantity.", field="quantity"
                    )
                )
            )
    return judged


__all__ = ["CAPABILITIES", "CoCartUpstream"]
