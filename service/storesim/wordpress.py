"""The HTTP face of the simulated store: WordPress' REST server as WooCommerce runs it.

A raw ASGI callable, so that header names keep their real casing and order, and so
that faults can hang or drop a connection. It resolves the route (``/wp-json/...``,
``/index.php/wp-json/...`` or ``/?rest_route=...``) in the route table of the store's
WooCommerce profile, applies rate limits and faults, checks the arguments and the
route's permission, loads the session (Cart-Token, or a cookie session), checks the
nonce, runs the callback, sleeps the simulated PHP time between reading and writing the
session (the session race), and writes the answer. A request runs to its end even when
its client has gone (PHP does): ``Sim.settle`` waits for those. ``/cocart/...`` and
WordPress' core ``/batch/v1`` go to the CoCart face (``cocart/``), with the same faults;
the Store API batch is ``store_batch.py``, the shop front ``storefront.py``, sessions
``store_sessions.py``, answers ``store_responses.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from .cart import CartState
from .checkout.routes import checkout_routes
from .cocart import CoCart
from .errors import StoreError
from .http import (
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
    write_response,
)
from .params import form_to_params, parse_body, resolve
from .products import PRODUCT_ROUTES, RAW_QUERY
from .profiles import PROFILES, WOO_8_9
from .render import Renderer
from .routes import CART_ROUTES, Call, Result, Route
from .sessions import CriticalError, Session
from .sim import Sim
from .store_batch import WRITE_METHODS, StoreBatch
from .store_responses import Responses, no_route_response
from .store_sessions import SessionDesk
from .storefront import storefront

BATCH_PATTERN = re.compile(r"^/wc/store(?:/v1)?/batch$")
MAX_BODY = 1 << 20


class WordPress:
    """ASGI app emulating ``/wp-json/wc/store/v1`` of a WooCommerce 8.9.1 or 9.9.5 store."""

    def __init__(self, sim: Sim, renderers: Mapping[str, Renderer]) -> None:
        self.sim = sim
        self.renderers = renderers
        self.cocart = CoCart(sim, renderers[WOO_8_9.name])
        self.sessions = SessionDesk(sim)
        self.responses = Responses(
            sim, lambda skip: self.cocart.nocache_headers(skip_last_modified=skip)
        )
        self.batch = StoreBatch(self)
        self.routes: dict[str, tuple[Route, ...]] = {
            name: (*CART_ROUTES, *checkout_routes(profile), *PRODUCT_ROUTES)
            for name, profile in PROFILES.items()
        }

    @property
    def renderer(self) -> Renderer:
        """The renderer of the profile being played (its product documents)."""
        return self.renderers[self.sim.profile.name]

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
        # PHP does not stop when the client goes away: the request runs on in its own
        # task, and a cancelled caller only loses the answer.
        task = asyncio.ensure_future(self.handle(request))
        self.sim.inflight.add(task)
        task.add_done_callback(self._finished)
        try:
            response = await asyncio.shield(task)
        except DropConnection:
            await drop_connection(send)
            return
        await write_response(send, response)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.sim.inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a lost answer's error is not "never retrieved"

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
            return critical_response(request.site, WP_CORS, self.sim.profile.critical_cache_control)
        return self.responses.critical(request)

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
        for route in self.routes[self.sim.profile.name]:
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

    def _error(
        self,
        request: HttpRequest,
        error: StoreError,
        limit_headers: list[tuple[str, str]],
        *,
        allow: str | None,
        cors: bool,
    ) -> HttpResponse:
        response = HttpResponse(error.status, [], encode(error.body()))
        return self._json(request, response, limit_headers, allow=allow, cors=cors)

    async def _rest(self, request: HttpRequest, rest_route: str, from_query: bool) -> HttpResponse:
        sim = self.sim
        now = sim.now()
        token_user = sim.signer.valid_user(request.header("cart-token"), now)
        cors = token_user is not None
        limit_headers, limited = rate_limit(sim, request)
        if limited is not None:
            return self._error(request, limited, limit_headers, allow=None, cors=cors)

        if BATCH_PATTERN.match(rest_route):
            if request.method == "OPTIONS":
                return self.responses.preflight(request, "POST")
            if request.method != "POST":
                sim.requests[f"{request.method} no_route"] += 1
                return self._json(request, no_route_response(), limit_headers, cors=cors)
            sim.requests["POST batch"] += 1
            try:
                return await self.batch.serve(request, limit_headers, token_user)
            except CriticalError:
                return self.responses.critical(request)

        found = self._match(rest_route)
        if request.method == "OPTIONS":
            return self.responses.preflight(request, found[0].allow if found else "")
        method = found[0].method_for(request.method) if found else None
        if found is None or method is None:
            sim.requests[f"{request.method} no_route"] += 1
            return self._json(request, no_route_response(), limit_headers, cors=cors)
        route, url_params = found
        sim.requests[f"{method} {route.name}"] += 1
        try:
            params = resolve(
                route.args.get(method, {}), {**self._params(request, from_query), **url_params}
            )
        except StoreError as error:
            return self._error(request, error, limit_headers, allow=route.allow, cors=cors)
        if route.permission is not None:
            try:
                route.permission(sim, params)
            except StoreError as error:  # a failed permission_callback: no Allow header
                return self._error(request, error, limit_headers, allow=None, cors=cors)
        if not route.cart:
            params[RAW_QUERY] = request.query
            return await self._plain(request, route, method, params, limit_headers, cors)
        return await self._cart(
            request, route, method, params, limit_headers, token_user, ignore_token=from_query
        )

    def _call(self, state: CartState, site: str, user: str = "") -> Call:
        sim = self.sim
        return Call(state, self.renderer, site, sim.inventory(), sim.profile, sim, user)

    async def _plain(
        self,
        request: HttpRequest,
        route: Route,
        method: str,
        params: dict[str, Any],
        limit_headers: list[tuple[str, str]],
        cors: bool,
    ) -> HttpResponse:
        """A route without a session: products, an order read."""
        call = self._call(CartState(), request.site)
        try:
            result = route.callbacks[method](call, params)
        except StoreError as error:
            result = Result(error.status, error.body())
        await self.sim.process()
        response = HttpResponse(result.status, result.headers, encode(result.body))
        return self._json(request, response, limit_headers, allow=route.allow, cors=cors)

    # -- sessions ---------------------------------------------------------------------
    def _open_session(self, request: HttpRequest, token_user: str | None) -> Session:
        return self.sessions.open(request, token_user)

    def _save(self, session: Session) -> None:
        self.sessions.save(session)

    def _serialised(self, user_id: str | None) -> contextlib.AbstractAsyncContextManager[None]:
        return self.sessions.serialised(user_id)

    def _cookies(self, session: Session, site: str, write: bool) -> list[tuple[str, str]]:
        return self.sessions.cookies(session, site, write)

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
        if method in WRITE_METHODS or route.always_writes:
            nonce_error = self.sessions.nonce_error(headers)
            if nonce_error is not None:
                return Result(nonce_error.status, nonce_error.body())
        call = self._call(session.state, site, session.user_id)
        try:
            return route.callbacks[method](call, params)
        except StoreError as error:
            cart = call.cart() if error.with_cart else None
            return Result(error.status, error.body(cart))

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
        write = method in WRITE_METHODS or route.always_writes
        result: Result | None = None
        async with self.sessions.serialised(session_user):
            session = self.sessions.open(request, session_user)
            with contextlib.suppress(CriticalError):  # a PHP fatal: the critical-error page
                result = self._run(session, route, method, params, request.headers, request.site)
            await self.sim.process(write=write)
            if write and session.changed:
                self.sessions.save(session)
        if result is None:
            return self.responses.critical(request)
        headers = [
            *self.sessions.cookies(session, request.site, write),
            *self.sessions.headers(session),
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
        return self.responses.json(request, response, limit_headers, allow=allow, cors=cors)
