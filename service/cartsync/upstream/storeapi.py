"""The WooCommerce Store API adapter (``/wp-json/wc/store/v1``).

Policy lives here; I/O is httpx's (pooled keep-alive connections, connect and read
timeouts). Reads are retried; writes never are (their outcome would be unknown).
Every write carries the cart's ``Cart-Token`` and the guest ``Nonce`` (a Cart-Token
does not exempt a write from the nonce on WooCommerce 8.9.1). Errors become our own
hierarchy (``errors.py``) here, and nowhere else.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Sequence
from typing import Any

import httpx
import msgspec

from ..carts import operations as ops
from ..carts.model import Product, ProductPage
from ..metrics import observe_upstream
from ..request_context import note_upstream_call
from .errors import (
    UpstreamError,
    UpstreamNonceRejected,
    UpstreamOutcomeUnknown,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .port import BatchOutcome, ProductQuery, UpstreamCart
from .storeapi_mapping import (
    CART_DECODER,
    PRODUCT_DECODER,
    PRODUCTS_DECODER,
    currency_of_products,
    to_cart,
    to_product,
)

API_PATH = "/wp-json/wc/store/v1"
_NONCE_CODES = frozenset({"woocommerce_rest_missing_nonce", "woocommerce_rest_invalid_nonce"})
_ERROR_DECODER = msgspec.json.Decoder(dict[str, Any])


class _BatchEntry(msgspec.Struct):
    status: int
    body: Any = None
    headers: Any = None


class _BatchAnswer(msgspec.Struct):
    responses: list[_BatchEntry]


_BATCH_DECODER = msgspec.json.Decoder(_BatchAnswer)


def route_for(operation: ops.Operation) -> tuple[str, dict[str, Any]]:
    """The Store API route and JSON body of one operation."""
    match operation:
        case ops.AddItem(product_id, quantity, variation):
            body: dict[str, Any] = {"id": product_id, "quantity": quantity}
            if variation:
                body["variation"] = [
                    {"attribute": v.attribute, "value": v.value} for v in variation
                ]
            return "cart/add-item", body
        case ops.SetQuantity(key, quantity):
            return "cart/update-item", {"key": key, "quantity": quantity}
        case ops.RemoveItem(key):
            return "cart/remove-item", {"key": key}
        case ops.ApplyCoupon(code):
            return "cart/apply-coupon", {"code": code}
        case ops.RemoveCoupon(code):
            return "cart/remove-coupon", {"code": code}
        case ops.UpdateCustomer(billing, shipping):
            body = {}
            if billing is not None:
                body["billing_address"] = billing
            if shipping is not None:
                body["shipping_address"] = shipping
            return "cart/update-customer", body
        case ops.SelectShippingRate(rate_id, package_id):
            body = {"rate_id": rate_id}
            if package_id is not None:
                body["package_id"] = package_id
            return "cart/select-shipping-rate", body
    raise TypeError(f"unknown operation {operation!r}")


_ID_SEGMENT = re.compile(r"/(\d+|[0-9a-f]{32})(?=/|$)")


def _route_label(path: str) -> str:
    """The path with ids folded (``/products/{id}``), so metric labels stay few."""
    return _ID_SEGMENT.sub("/{id}", path)


class StoreApiUpstream:
    """Talks to one WooCommerce store's Store API."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
        read_retries: int = 2,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._read_retries = read_retries
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + API_PATH,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"Accept": "application/json", "User-Agent": "cartsync"},
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @staticmethod
    def _claims(token: str | None) -> dict[str, Any]:
        """The Cart-Token's payload, read without its secret (only the store has it)."""
        if not token or token.count(".") != 2:
            return {}
        part = token.split(".")[1]
        try:
            claims = msgspec.json.decode(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except (ValueError, msgspec.DecodeError):
            return {}
        return claims if isinstance(claims, dict) else {}

    def token_session(self, token: str | None) -> str | None:
        user = self._claims(token).get("user_id")
        return str(user) if user is not None else None

    def token_expiry(self, token: str | None) -> float | None:
        expiry = self._claims(token).get("exp")
        return float(expiry) if isinstance(expiry, int | float) else None

    # -- transport --------------------------------------------------------------------
    async def _send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        retries: int = 0,
    ) -> httpx.Response:
        """One call, retried ``retries`` times (reads only). Failures before the request
        left are ``UpstreamUnavailable``; after, ``UpstreamOutcomeUnknown``."""
        attempt = 0
        route = _route_label(path)
        while True:
            facts = note_upstream_call()
            if facts is not None:
                headers = {**(headers or {}), "traceparent": facts.traceparent()}
            started = time.perf_counter()
            try:
                response = await self._client.request(
                    method, path, headers=headers, json=json, params=params
                )
            except httpx.TransportError as exc:
                observe_upstream(method, route, type(exc).__name__, time.perf_counter() - started)
                if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
                    if attempt < retries:
                        attempt += 1
                        await asyncio.sleep(0.05 * attempt)
                        continue
                    raise UpstreamUnavailable(f"store unreachable: {type(exc).__name__}") from exc
                if isinstance(exc, httpx.TimeoutException):
                    if attempt < retries:
                        attempt += 1
                        continue
                    raise UpstreamTimeout(f"store did not answer {method} {path} in time") from exc
                if attempt < retries:
                    attempt += 1
                    await asyncio.sleep(0.05 * attempt)
                    continue
                raise UpstreamOutcomeUnknown(
                    f"connection lost during {method} {path}: {type(exc).__name__}"
                ) from exc
            observe_upstream(
                method, route, str(response.status_code), time.perf_counter() - started
            )
            if response.status_code >= 500 and attempt < retries:
                attempt += 1
                await asyncio.sleep(0.05 * attempt)
                continue
            return response

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        try:
            body = _ERROR_DECODER.decode(response.content)
        except msgspec.DecodeError:
            body = {}
        self._raise_error(response.status_code, body, response.headers)

    @staticmethod
    def _raise_error(status: int, body: dict[str, Any], headers: Any) -> None:
        """Our exception for a Store API error body (a whole answer or a batch entry)."""
        code = str(body.get("code", ""))
        message = str(body.get("message", ""))
        if status >= 500:
            raise UpstreamOutcomeUnknown(f"store answered {status} ({code})", finished=True)
        if code == "rate_limit_exceeded":
            wait = str(headers.get("RateLimit-Retry-After", "5"))
            raise UpstreamRateLimited("store rate limit", int(wait) if wait.isdigit() else 5)
        if code in _NONCE_CODES:
            raise UpstreamNonceRejected(code)
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
        raise UpstreamRejected(
            code or f"http_{status}",
            message,
            status,
            cart=cart,
            token=headers.get("Cart-Token"),
            details=details,
        )

    def _cart(self, response: httpx.Response) -> UpstreamCart:
        try:
            store_cart = CART_DECODER.decode(response.content)
        except msgspec.DecodeError as exc:
            raise UpstreamUnavailable("store sent a cart that is not valid JSON") from exc
        token = response.headers.get("Cart-Token")
        if not token:
            raise UpstreamUnavailable("store sent no Cart-Token")
        return UpstreamCart(to_cart(store_cart), token, response.headers.get("Nonce"))

    # -- the port -----------------------------------------------------------------------
    async def fetch_cart(self, token: str | None) -> UpstreamCart:
        headers = {"Cart-Token": token} if token else {}
        response = await self._send("GET", "/cart", headers=headers, retries=self._read_retries)
        self._raise_for(response)
        return self._cart(response)

    async def apply(self, token: str, nonce: str, operation: ops.Operation) -> UpstreamCart:
        path, body = route_for(operation)
        response = await self._send(
            "POST", f"/{path}", json=body, headers={"Cart-Token": token, "Nonce": nonce}
        )
        self._raise_for(response)
        return self._cart(response)

    async def apply_batch(
        self, token: str, nonce: str, operations: Sequence[ops.Operation]
    ) -> BatchOutcome:
        """Several mutations in one Store API batch (at most 25), applied in order.

        The Cart-Token goes on the outer request AND, with the Nonce, on every
        sub-request: the only combination that reaches the token's cart on 8.9.1. One
        operation goes to its own route instead (cheaper on the real store).
        """
        if len(operations) == 1:
            try:
                result = await self.apply(token, nonce, operations[0])
            except UpstreamRejected as rejected:
                return BatchOutcome([rejected], rejected.cart, rejected.token, None)
            return BatchOutcome([None], result.cart, result.token, result.nonce)
        requests = []
        for operation in operations:
            path, body = route_for(operation)
            requests.append(
                {
                    "method": "POST",
                    "path": f"/wc/store/v1/{path}",
                    "body": body,
                    "headers": {"Cart-Token": token, "Nonce": nonce},
                }
            )
        response = await self._send(
            "POST", "/batch", json={"requests": requests}, headers={"Cart-Token": token}
        )
        if response.status_code != 207:
            self._raise_for(response)
            raise UpstreamOutcomeUnknown(
                f"store answered {response.status_code} to a batch", finished=True
            )
        try:
            entries = _BATCH_DECODER.decode(response.content).responses
        except msgspec.DecodeError as exc:
            raise UpstreamOutcomeUnknown("store sent a batch answer that is not JSON") from exc
        if len(entries) != len(operations):
            raise UpstreamOutcomeUnknown("store answered a different number of requests")
        errors: list[UpstreamRejected | None] = []
        cart = None
        newest_token = None
        nonce_failures = 0
        for entry in entries:
            headers = entry.headers if isinstance(entry.headers, dict) else {}
            newest_token = str(headers.get("Cart-Token") or newest_token or "") or None
            if entry.status < 300 and isinstance(entry.body, dict):
                cart = to_cart(msgspec.convert(entry.body, type=CART_DECODER.type))
                errors.append(None)
                continue
            body = entry.body if isinstance(entry.body, dict) else {}
            try:
                self._raise_error(entry.status, body, headers)
            except UpstreamNonceRejected:
                nonce_failures += 1
                errors.append(UpstreamRejected("woocommerce_rest_invalid_nonce", "Nonce", 403))
            except UpstreamRejected as rejected:
                if rejected.cart is not None:
                    cart = rejected.cart
                errors.append(rejected)
            except UpstreamOutcomeUnknown as exc:
                raise UpstreamOutcomeUnknown(f"a batch entry failed: {exc}") from exc
        if nonce_failures == len(entries):
            raise UpstreamNonceRejected("every batch entry refused the nonce")
        return BatchOutcome(errors, cart, newest_token, response.headers.get("Nonce"))

    async def list_products(self, query: ProductQuery) -> ProductPage:
        params: dict[str, Any] = {"page": query.page, "per_page": query.per_page}
        if query.search:
            params["search"] = query.search
        if query.category:
            params["category"] = query.category
        if query.product_type:
            params["type"] = query.product_type
        if query.parent is not None:
            params["parent"] = query.parent
        response = await self._send("GET", "/products", params=params, retries=self._read_retries)
        self._raise_for(response)
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
        response = await self._send("GET", f"/products/{product_id}", retries=self._read_retries)
        self._raise_for(response)
        try:
            return to_product(PRODUCT_DECODER.decode(response.content))
        except msgspec.DecodeError as exc:
            raise UpstreamUnavailable("store sent a product that is not valid JSON") from exc


__all__ = ["StoreApiUpstream", "UpstreamError", "route_for"]
