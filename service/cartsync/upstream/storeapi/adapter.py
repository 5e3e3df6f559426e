"""The WooCommerce Store API adapter (``/wp-json/wc/store/v1``).

Credentials are the cart's Cart-Token. Every write also carries the guest Nonce (a
Cart-Token does not exempt a write from it on WooCommerce 8.9), which this adapter
keeps itself: learnt from any cart answer, fetched with a cart read when it has none,
and fetched again (one retry) when the store refuses it. Several operations leave as
one Store API batch: one PHP request, one session write, so either none of them or
every one the store accepted is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec

from ...carts import operations as ops
from ...carts.errors import Unavailable
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
from . import checkout, session
from .errors import refusal
from .mapping import (
    CART_DECODER,
    PRODUCT_DECODER,
    PRODUCTS_DECODER,
    currency_of_products,
    to_cart,
    to_product,
)
from .routes import route_for

API_PATH = "/wp-json/wc/store/v1"
MAX_BATCH = 25  # the Store API refuses larger batches (rest_too_many_items)
CAPABILITIES = Capabilities(
    kind="storeapi",
    max_batch=MAX_BATCH,
    coupons=True,
    shipping_rates=True,
    handoff="session-param",
    native_checkout=True,
)
_NONCE_CODES = frozenset({"woocommerce_rest_missing_nonce", "woocommerce_rest_invalid_nonce"})
_ERROR_DECODER = msgspec.json.Decoder(dict[str, Any])


class _NonceRefused(Exception):
    """The store refused the Nonce: the request did nothing (fetch another, retry)."""


class _BatchEntry(msgspec.Struct):
    status: int
    body: Any = None
    headers: Any = None


class _BatchAnswer(msgspec.Struct):
    responses: list[_BatchEntry]


_BATCH_DECODER = msgspec.json.Decoder(_BatchAnswer)


def _raise_error(status: int, body: dict[str, Any], headers: Any) -> None:
    """Our exception for a Store API error body (a whole answer or a batch entry)."""
    code = str(body.get("code", ""))
    if status >= 500:
        raise UpstreamOutcomeUnknown(f"store answered {status} ({code})", finished=True)
    if code == "rate_limit_exceeded":
        wait = str(headers.get("RateLimit-Retry-After", "5"))
        raise UpstreamRateLimited("store rate limit", int(wait) if wait.isdigit() else 5)
    if code in _NONCE_CODES:
        raise _NonceRefused(code)
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    cart = None
    if isinstance(data, dict) and isinstance(data.get("cart"), dict):
        cart = to_cart(msgspec.convert(data["cart"], type=CART_DECODER.type))
    params = data.get("params") if isinstance(data, dict) else None
    details: dict[str, Any] | None = None
    if isinstance(params, dict):
        details = params
    elif isinstance(params, list):
        details = {str(name): "Missing parameter" for name in params}
    raise refusal(
        code or f"http_{status}",
        str(body.get("message", "")),
        details,
        cart=cart,
        credentials=headers.get("Cart-Token"),
    )


def _raise_for(response: StoreResponse) -> None:
    if response.status_code < 400:
        return
    try:
        body = _ERROR_DECODER.decode(response.content)
    except msgspec.DecodeError:
        body = {}
    _raise_error(response.status_code, body, response.headers)


class StoreApiUpstream:
    """Talks to one WooCommerce store's Store API."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        base_url: str,
        *,
        checkout_path: str = "/checkout/",
        client: StoreClientSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._shop = base_url.rstrip("/")
        self._checkout_path = checkout_path
        self._http = StoreClient(self._shop + API_PATH, client or StoreClientSettings(), transport)
        self._nonce = session.NonceKeeper()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- credentials: the Cart-Token ------------------------------------------------------
    def cart_lost(self, sent: str | None, received: str | None) -> bool:
        return session.cart_lost(sent, received)

    def renewal_due(self, credentials: str | None, now: float) -> bool:
        return session.renewal_due(credentials, now)

    def worth_storing(self, stored: str | None, received: str) -> bool:
        return session.worth_storing(stored, received)

    def handoff_url(self, credentials: str) -> str:
        """The storefront restores ``?session=<Cart-Token>`` (WooCommerce 10 and later)."""
        return f"{self._shop}{self._checkout_path}?{urlencode({'session': credentials})}"

    # -- carts ----------------------------------------------------------------------------
    def turn(self, operations: Sequence[ops.Operation], current: Cart | None) -> int:
        """Any operations go together in one batch, up to the Store API's 25."""
        return max(1, min(len(operations), MAX_BATCH))

    def _cart(self, response: StoreResponse) -> UpstreamCart:
        try:
            store_cart = CART_DECODER.decode(response.content)
        except msgspec.DecodeError as exc:
            raise UpstreamUnavailable("store sent a cart that is not valid JSON") from exc
        token = response.headers.get("Cart-Token")
        if not token:
            raise UpstreamUnavailable("store sent no Cart-Token")
        self._nonce.seen(response.headers.get("Nonce"))
        return UpstreamCart(to_cart(store_cart), token)

    async def fetch_cart(self, credentials: str | None) -> UpstreamCart:
        headers = {"Cart-Token": credentials} if credentials else {}
        response = await self._http.send(
            "GET", "/cart", headers=headers, retries=self._http.read_retries
        )
        _raise_for(response)
        return self._cart(response)

    async def apply_batch(
        self,
        credentials: str | None,
        operations: Sequence[ops.Operation],
        current: Cart | None = None,
    ) -> BatchOutcome:
        token = credentials
        nonce = self._nonce.current()
        if nonce is None:
            token = (await self.fetch_cart(token)).credentials  # answers carry the nonce
            nonce = self._nonce.current() or ""
        try:
            return await self._apply(token, nonce, operations)
        except _NonceRefused:
            self._nonce.forget()
            token = (await self.fetch_cart(token)).credentials
        try:
            return await self._apply(token, self._nonce.current() or "", operations)
        except _NonceRefused as exc:
            raise UpstreamUnavailable("the store refuses every nonce it hands out") from exc

    async def _apply(
        self, token: str | None, nonce: str, operations: Sequence[ops.Operation]
    ) -> BatchOutcome:
        if len(operations) == 1:
            return await self._apply_one(token, nonce, operations[0])
        return await self._apply_many(token, nonce, operations)

    async def _apply_one(
        self, token: str | None, nonce: str, operation: ops.Operation
    ) -> BatchOutcome:
        """One operation goes to its own route (cheaper on the real store than a batch)."""
        path, body = route_for(operation)
        headers = {"Nonce": nonce, **({"Cart-Token": token} if token else {})}
        response = await self._http.send("POST", f"/{path}", json=body, headers=headers)
        try:
            _raise_for(response)
        except UpstreamRefused as refused:
            return BatchOutcome([refused], refused.cart, refused.credentials or token)
        result = self._cart(response)
        return BatchOutcome([None], result.cart, result.credentials)

    async def _apply_many(
        self, token: str | None, nonce: str, operations: Sequence[ops.Operation]
    ) -> BatchOutcome:
        """Several operations in one batch (at most 25), applied in order.

        The Cart-Token goes on the outer request AND, with the Nonce, on every
        sub-request: the only combination that reaches the token's cart on 8.9.1.
        """
        inner = {"Nonce": nonce, **({"Cart-Token": token} if token else {})}
        requests = []
        for operation in operations:
            path, body = route_for(operation)
            requests.append(
                {"method": "POST", "path": f"/wc/store/v1/{path}", "body": body, "headers": inner}
            )
        response = await self._http.send(
            "POST",
            "/batch",
            json={"requests": requests},
            headers={"Cart-Token": token} if token else {},
        )
        if response.status_code != 207:
            _raise_for(response)
            raise UpstreamOutcomeUnknown(
                f"store answered {response.status_code} to a batch", finished=True
            )
        self._nonce.seen(response.headers.get("Nonce"))
        try:
            entries = _BATCH_DECODER.decode(response.content).responses
        except msgspec.DecodeError as exc:
            raise UpstreamOutcomeUnknown("store sent a batch answer that is not JSON") from exc
        if len(entries) != len(operations):
            raise UpstreamOutcomeUnknown("store answered a different number of requests")
        return self._outcome(entries, token)

    @staticmethod
    def _outcome(entries: list[_BatchEntry], token: str | None) -> BatchOutcome:
        refusals: list[UpstreamRefused | None] = []
        cart = None
        newest = token
        nonce_refusals = 0
        for entry in entries:
            headers = entry.headers if isinstance(entry.headers, dict) else {}
            newest = str(headers.get("Cart-Token") or newest or "") or None
            if entry.status < 300 and isinstance(entry.body, dict):
                cart = to_cart(msgspec.convert(entry.body, type=CART_DECODER.type))
                refusals.append(None)
                continue
            try:
                _raise_error(
                    entry.status, entry.body if isinstance(entry.body, dict) else {}, headers
                )
            except _NonceRefused:
                nonce_refusals += 1
                refusals.append(refusal("woocommerce_rest_invalid_nonce", "Nonce is invalid."))
            except UpstreamRefused as refused:
                cart = refused.cart or cart
                refusals.append(refused)
            except UpstreamRateLimited as limited:
                # This entry did nothing; the others stand.
                refusals.append(
                    UpstreamRefused(
                        Unavailable(
                            "upstream_busy",
                            "The store is rate limiting us; retry later.",
                            retry_after=limited.retry_after,
                        )
                    )
                )
            except UpstreamOutcomeUnknown as exc:
                raise UpstreamOutcomeUnknown(f"a batch entry failed: {exc}") from exc
        if nonce_refusals == len(entries):
            raise _NonceRefused("every batch entry refused the nonce")
        return BatchOutcome(refusals, cart, newest)

    # -- checkout -------------------------------------------------------------------------
    async def _with_nonce(
        self, method: str, path: str, credentials: str, body: Any = None
    ) -> StoreResponse:
        """A call that 8.9 wants the Nonce on (a checkout), with one retry for a stale
        nonce (a refused nonce did nothing)."""
        for attempt in (1, 2):
            nonce = self._nonce.current()
            if nonce is None:
                await self.fetch_cart(credentials)
                nonce = self._nonce.current() or ""
            headers = {"Cart-Token": credentials, "Nonce": nonce}
            response = await self._http.send(method, path, json=body, headers=headers)
            try:
                _raise_for(response)
            except _NonceRefused as refused:
                self._nonce.forget()
                if attempt == 2:
                    raise UpstreamUnavailable(
                        "the store refuses every nonce it hands out"
                    ) from refused
                continue
            self._nonce.seen(response.headers.get("Nonce"))
            return response
        raise AssertionError("unreachable")

    async def checkout_draft(self, credentials: str) -> OrderRef:
        response = await self._with_nonce("GET", "/checkout", credentials)
        try:
            draft = checkout.DRAFT_DECODER.decode(response.content)
        except msgspec.DecodeError as exc:
            raise UpstreamUnavailable("store sent a draft order that is not JSON") from exc
        return OrderRef(draft.order_id, draft.order_key)

    async def place_order(
        self, credentials: str, draft: OrderRef, order: ops.Checkout, current: Cart
    ) -> Placement:
        body = checkout.checkout_body(order, current)
        response = await self._with_nonce("POST", "/checkout", credentials, body)
        try:
            placed = checkout.DRAFT_DECODER.decode(response.content)
        except msgspec.DecodeError as exc:
            raise UpstreamOutcomeUnknown("store sent an order that is not JSON") from exc
        return checkout.placement(placed, draft.email or body["billing_address"].get("email", ""))

    async def read_order(self, ref: OrderRef) -> Order:
        params = {"key": ref.key, "billing_email": ref.email}
        response = await self._http.send(
            "GET", f"/order/{ref.id}", params=params, retries=self._http.read_retries
        )
        _raise_for(response)
        try:
            return checkout.to_order(checkout.ORDER_DECODER.decode(response.content))
        except msgspec.DecodeError as exc:
            raise UpstreamUnavailable("store sent an order that is not JSON") from exc

    # -- products -------------------------------------------------------------------------
    async def list_products(self, query: ProductQuery) -> ProductPage:
        response = await self._http.send(
            "GET", "/products", params=product_params(query), retries=self._http.read_retries
        )
        _raise_for(response)
        try:
            products = PRODUCTS_DECODER.decode(response.content)
            currency = currency_of_products(response.content)
        except msgspec.DecodeError as exc:
            raise UpstreamUnavailable("store sent products that are not valid JSON") from exc
        return ProductPage(
            currency=currency,
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
            return to_product(PRODUCT_DECODER.decode(response.content))
        except msgspec.DecodeError as exc:
            raise UpstreamUnavailable("store sent a product that is not valid JSON") from exc
