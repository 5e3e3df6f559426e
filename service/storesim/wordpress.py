"""The HTTP face of the simulated store: WordPress' REST server as WooCommerce 8.9.1 runs it.

A raw ASGI callable, so that header names keep their real casing and order, and so
that faults can hang or drop a connection. It resolves the route (``/wp-json/...``,
``/index.php/wp-json/...`` or ``/?rest_route=...``), applies rate limits and faults,
loads the session (Cart-Token, or a cookie session), checks the nonce, runs the
callback, sleeps the simulated PHP time between reading and writing the session
(the session race), and writes the answer. ``/cocart/...`` and WordPress' core
``/batch/v1`` go to the CoCart face (``cocart/``), with the same faults; the Store API
batch is ``store_batch.py``, the shop front ``storefront.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from .cart import CartState
from .cocart import CoCart
from .cocart.store import load_web_session, save_web_session
from .errors import StoreError, no_route
from .http import (
    EXPOSE,
    WP_CORS,
    DropConnection,
    HttpRequest,
    HttpResponse,
    Receive,
    Scope,
    Send,
    critical_response,
    drop_connection,
    encode,
    rate_limit,
    read_request,
    session_cookie_name,
    write_response,
)
from .http import base_headers as wp_base_headers
from .params import form_to_params, parse_body, resolve
from .products import PRODUCT_ROUTES, RAW_QUERY
from .render import Renderer
from .routes import CART_ROUTES, Call, Result, Route
from .sessions import CriticalError, Session
from .sim import Sim
from .store_batch import WRITE_METHODS, StoreBatch
from .storefront import storefront
from .tokens import new_guest_id

ROUTES: tuple[Route, ...] = (*CART_ROUTES, *PRODUCT_ROUTES)
BATCH_PATTERN = re.compile(r"^/wc/store(?:/v1)?/batch$")
MAX_BODY = 1 << 20

CORS_TAIL = (
    ("Access-Control-Allow-Methods", "OPTIONS, GET, POST, PUT, PATCH, DELETE"),
    ("Access-Control-Allow-Credentials", "true"),
    ("Vary", "Origin"),
)


class WordPress:
    """ASGI app emulating ``/wp-json/wc/store/v1`` of a WooCommerce 8.9.1 store."""

    def __init__(self, sim: Sim, renderer: Renderer) -> None:
        self.sim = sim
        self.renderer = renderer
        self.cocart = CoCart(sim, renderer)
        self.batch = StoreBatch(self)

    # -- ASGI -----------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = await read_request(scope, receive, MAX_BODY)
        if request is not None and "traceparent" in request.headers:
            self.sim.traceparents.append(request.headers["traceparent"])
        if request is None:
            await write_response(
                send,
                HttpResponse(413, [("Content-Type", "text/plain")], b"Request Entity Too Large"),
            )
            return
        try:
            response = await self.handle(request)
        except DropConnection:
            await drop_connection(send)
            return
        await write_response(send, response)

    # -- dispatch -------------------------------------------------------------------
    async def handle(self, request: HttpRequest) -> HttpResponse:
        rest_route, from_query = self._locate(request)
        if rest_route is None:
            if self.cocart.wants_front(request):
                return self.cocart.front(request)
            return storefront(self, request)
        serve: Callable[[HttpRequest, str, bool], Awaitable[HttpResponse]] | None = None
        if rest_route.startswith("/wc/store"):
            serve = self._rest
        elif self.cocart.handles(rest_route):
            serve = self.cocart.rest
        if serve is None:
            return self._json(request, no_route_response(), [])
        fault = self.sim.draw_fault(rest_route)
        when = self.sim.faults.when
        if fault and when == "before":
            injected = await self._strike(fault, request, rest_route)
            if injected is not None:
                return injected
        response = await serve(request, rest_route, from_query)
        if fault and when != "before":
            injected = await self._strike(fault, request, rest_route)
            if injected is not None:
                return injected
        return response

    async def _strike(
        self, fault: str, request: HttpRequest, rest_route: str
    ) -> HttpResponse | None:
        """Carry out an injected fault: a hang (then the answer), a drop, or a 500."""
        if fault == "hang":
            await asyncio.sleep(self.sim.faults.hang_seconds)
            return None
        if fault == "drop":
            raise DropConnection(fault)
        if not rest_route.startswith("/wc/store"):
            return critical_response(request.site, WP_CORS)
        return self._critical(request)

    @staticmethod
    def _critical(request: HttpRequest) -> HttpResponse:
        return critical_response(request.site, STORE_CORS)

    @staticmethod
    def _locate(request: HttpRequest) -> tuple[str | None, bool]:
        path = request.path
        for prefix in ("/index.php/wp-json", "/wp-json"):
            if path == prefix or path.startswith(prefix + "/"):
                return path[len(prefix) :] or "/", False
        if path in ("/", "/index.php"):
            for key, value in parse_qsl(request.query, keep_blank_values=True):
                if key == "rest_route":
                    return value or "/", True
        return None, False

    def _match(self, rest_route: str) -> tuple[Route, dict[str, str]] | None:
        for route in ROUTES:
            match = route.pattern.match(rest_route)
            if match:
                return route, match.groupdict()
        return None

    def _params(self, request: HttpRequest, from_query: bool) -> dict[str, Any]:
        query = form_to_params(request.query)
        if from_query:
            query.pop("rest_route", None)
        body = parse_body(request.header("content-type") or "", request.body)
        return {**query, **body}

    async def _rest(self, request: HttpRequest, rest_route: str, from_query: bool) -> HttpResponse:
        sim = self.sim
        now = sim.now()
        token_user = sim.signer.valid_user(request.header("cart-token"), now)
        limit_headers, limited = rate_limit(sim, request)
        if limited is not None:
            return self._json(
                request,
                HttpResponse(400, [], encode(limited.body())),
                limit_headers,
                cors=token_user is not None,
            )

        if BATCH_PATTERN.match(rest_route):
            if request.method == "OPTIONS":
                return self._preflight(request, "POST")
            if request.method != "POST":
                sim.requests[f"{request.method} no_route"] += 1
                return self._json(
                    request, no_route_response(), limit_headers, cors=token_user is not None
                )
            sim.requests["POST batch"] += 1
            try:
                return await self.batch.serve(request, limit_headers, token_user)
            except CriticalError:
                return self._critical(request)

        found = self._match(rest_route)
        if request.method == "OPTIONS":
            return self._preflight(request, found[0].allow if found else "")
        method = found[0].method_for(request.method) if found else None
        if found is None or method is None:
            sim.requests[f"{request.method} no_route"] += 1
            return self._json(
                request, no_route_response(), limit_headers, cors=token_user is not None
            )
        route, url_params = found
        sim.requests[f"{method} {route.name}"] += 1
        try:
            params = resolve(
                route.args.get(method, {}), {**self._params(request, from_query), **url_params}
            )
        except StoreError as error:
            return self._json(
                request,
                HttpResponse(error.status, [], encode(error.body())),
                limit_headers,
                allow=route.allow,
                cors=token_user is not None,
            )
        if not route.cart:
            params[RAW_QUERY] = request.query
            return await self._products(request, route, method, params, limit_headers)
        return await self._cart(
            request, route, method, params, limit_headers, token_user, ignore_token=from_query
        )

    async def _products(
        self,
        request: HttpRequest,
        route: Route,
        method: str,
        params: dict[str, Any],
        limit_headers: list[tuple[str, str]],
    ) -> HttpResponse:
        call = Call(CartState(), self.renderer, request.site)
        try:
            result = route.callbacks[method](call, params)
        except StoreError as error:
            result = Result(error.status, error.body())
        await self.sim.process()
        response = HttpResponse(result.status, result.headers, encode(result.body))
        return self._json(request, response, limit_headers, allow=route.allow)

    # -- sessions ---------------------------------------------------------------------
    @staticmethod
    def _cookie_name(site: str) -> str:
        return session_cookie_name(site)

    def _open_session(self, request: HttpRequest, token_user: str | None) -> Session:
        if token_user is not None:
            return Session(token_user, False, self.sim.load(token_user))
        cookie = request.cookies.get(self._cookie_name(request.site), "")
        user_id = cookie.split("||", 1)[0]
        if user_id and user_id in self.sim.sessions:
            return Session(user_id, True, self.sim.load(user_id))
        web = load_web_session(self.sim, user_id) if user_id else None
        if web is not None:
            return Session(user_id, True, web, cocart=True)
        return Session(new_guest_id(), True, CartState())

    def _save(self, session: Session) -> None:
        if session.cocart:
            save_web_session(self.sim, session.user_id, session.state)
        else:
            self.sim.save(session.user_id, session.state)

    @contextlib.asynccontextmanager
    async def _serialised(self, user_id: str | None) -> AsyncIterator[None]:
        """With the race switched off, one request per session at a time."""
        if self.sim.race or user_id is None:
            yield
            return
        async with self.sim.lock(user_id):
            yield

    def _nonce_error(self, headers: dict[str, str]) -> StoreError | None:
        nonce = headers.get("nonce") or headers.get("x-wc-store-api-nonce")
        if not nonce:
            return StoreError(
                "woocommerce_rest_missing_nonce",
                "Missing the Nonce header. This endpoint requires a valid nonce.",
                401,
            )
        if not self.sim.nonces.is_valid(nonce, self.sim.now()):
            return StoreError("woocommerce_rest_invalid_nonce", "Nonce is invalid.", 403)
        return None

    def _run(
        self,
        session: Session,
        route: Route,
        method: str,
        params: dict[str, Any],
        headers: dict[str, str],
        site: str,
    ) -> Result:
        """Check the nonce and run one cart callback on the session's private copy."""
        if method in WRITE_METHODS:
            nonce_error = self._nonce_error(headers)
            if nonce_error is not None:
                return Result(nonce_error.status, nonce_error.body())
        call = Call(session.state, self.renderer, site, frozenset(self.sim.out_of_stock))
        try:
            return route.callbacks[method](call, params)
        except StoreError as error:
            cart = self.renderer.cart(session.state, site) if error.with_cart else None
            return Result(error.status, error.body(cart))

    def _session_headers(self, session: Session, with_token: bool = True) -> list[tuple[str, str]]:
        now = self.sim.now()
        nonce = self.sim.nonces.current(now)
        headers = [("Nonce", nonce), ("Nonce-Timestamp", str(int(now))), ("User-ID", "0")]
        if with_token:
            headers.append(("Cart-Token", self.sim.signer.issue(session.user_id, now)))
        headers.append(("X-WC-Store-API-Nonce", nonce))
        return headers

    def _cookies(self, session: Session, site: str, write: bool) -> list[tuple[str, str]]:
        if not write or session.state.is_empty():
            return []
        digest = hashlib.md5(
            repr(sorted(session.state.lines)).encode(), usedforsecurity=False
        ).hexdigest()
        cookies = [
            ("Set-Cookie", "woocommerce_items_in_cart=1; path=/"),
            ("Set-Cookie", f"woocommerce_cart_hash={digest}; path=/"),
        ]
        if session.cookie:
            expiry = int(self.sim.now()) + 172800
            value = f"{session.user_id}||{expiry}||{expiry - 3600}||{digest}"
            cookies.append(
                (
                    "Set-Cookie",
                    f"{self._cookie_name(site)}={value}; Max-Age=172800; path=/; HttpOnly",
                )
            )
        return cookies

    async def _cart(
        self,
        request: HttpRequest,
        route: Route,
        method: str,
        params: dict[str, Any],
        limit_headers: list[tuple[str, str]],
        token_user: str | None,
        *,
        ignore_token: bool,
    ) -> HttpResponse:
        session_user = None if ignore_token else token_user
        write = method in WRITE_METHODS
        async with self._serialised(session_user):
            session = self._open_session(request, session_user)
            result = self._run(session, route, method, params, request.headers, request.site)
            await self.sim.process(write=write)
            if write and session.changed:
                self._save(session)
        headers = [
            *self._cookies(session, request.site, write),
            *self._session_headers(session),
            *result.headers,
        ]
        body = b"" if result.status == 204 else encode(result.body)
        return self._json(
            request,
            HttpResponse(result.status, headers, body),
            limit_headers,
            allow=route.allow,
            cors=token_user is not None,
        )

    # -- responses ---------------------------------------------------------------------
    def _json(
        self,
        request: HttpRequest,
        response: HttpResponse,
        limit_headers: list[tuple[str, str]],
        *,
        allow: str | None = None,
        cors: bool = False,
    ) -> HttpResponse:
        extra = response.headers
        has_link = any(name == "Link" for name, _ in extra)
        headers = base_headers(request.site, link=not has_link)
        headers += [
            *limit_headers,
            *extra,
        ]
        if allow:
            headers.append(("Allow", allow))
        if self.sim.store_api_nocache:
            headers += self.cocart.nocache_headers(skip_last_modified=has_last_modified(extra))
        headers += CORS_TAIL
        origin = request.header("origin")
        if cors or (origin and origin == request.site):
            headers.append(("Access-Control-Allow-Origin", origin or ""))
        return HttpResponse(response.status, headers, response.body)

    def _preflight(self, request: HttpRequest, allow: str) -> HttpResponse:
        headers = [
            *base_headers(request.site),
        ]
        if allow:
            headers.append(("Allow", allow))
        headers += [*CORS_TAIL, ("Access-Control-Allow-Origin", request.header("origin") or "")]
        return HttpResponse(200, headers, b"null")


STORE_CORS = (
    ("Access-Control-Expose-Headers", EXPOSE),
    (
        "Access-Control-Allow-Headers",
        "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type, "
        "Cart-Token, Nonce, X-WC-Store-API-Nonce",
    ),
)


def base_headers(site: str, *, link: bool = True) -> list[tuple[str, str]]:
    """The headers WordPress sends first on a Store API answer, in its order."""
    return wp_base_headers(site, link=link, cors=STORE_CORS)


def has_last_modified(headers: list[tuple[str, str]]) -> bool:
    return any(name == "Last-Modified" for name, _ in headers)


def no_route_response() -> HttpResponse:
    return HttpResponse(404, [], encode(no_route().body()))
