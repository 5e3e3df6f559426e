"""The CoCart face: ``/wp-json/cocart/...`` and WordPress' core ``/wp-json/batch/v1``.

For a cart route it resolves the cart key (header, else ``cart_key``; none: a new
key), loads the cart, checks the arguments, runs the callback, sleeps the simulated
PHP time (the session race window on writes) and writes the whole cart back, as CoCart
does at PHP shutdown, GETs and errors included. Success answers carry CoCart's headers
(key, timestamp, expiring, expiration); errors carry none.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from ..errors import StoreError, no_route
from ..http import HttpRequest, HttpResponse, base_headers, encode, http_date, rate_limit
from ..params import form_to_params, parse_body
from ..render import Renderer
from ..sim import Sim
from . import store
from .batch import serve_batch
from .cart import Work, completely_empty
from .front import load_cart, wants_front
from .params import php_empty, resolve
from .products import Catalogue
from .render import VERSION
from .routes import CoRoute, Ctx, Handler, match

COCART_CORS = (
    (
        "Access-Control-Allow-Headers",
        "Authorization, X-Requested-With, Content-Disposition, Content-MD5, Content-Type",
    ),
    (
        "Access-Control-Expose-Headers",
        "X-WP-Total, X-WP-TotalPages, Link, CoCart-API-Cart-Key, CoCart-API-Cart-Expiring, "
        "CoCart-API-Cart-Expiration",
    ),
)


class CoCart:
    """CoCart 4.4.0-beta.6 on the simulated store: the same cart engine and catalogue."""

    def __init__(self, sim: Sim, renderer: Renderer) -> None:
        self.sim = sim
        self.renderer = renderer
        self.catalogue = Catalogue()

    @staticmethod
    def handles(rest_route: str) -> bool:
        return rest_route in ("/batch/v1", "/cocart") or rest_route.startswith("/cocart/")

    def wants_front(self, request: HttpRequest) -> bool:
        return wants_front(request)

    def front(self, request: HttpRequest) -> HttpResponse:
        return load_cart(self, request)

    # -- headers ---------------------------------------------------------------------------
    def nocache_headers(self, *, skip_last_modified: bool = False) -> list[tuple[str, str]]:
        """The no-cache headers a store with CoCart active sends on REST answers."""
        headers = [("Expires", "Thu, 01-Jan-70 00:00:01 GMT")]
        if not skip_last_modified:
            headers.append(("Last-Modified", http_date(self.sim.now())))
        headers += [
            ("Cache-Control", "no-store, no-cache, must-revalidate"),
            ("Pragma", "no-cache"),
        ]
        return headers

    @staticmethod
    def wp_cors(request: HttpRequest) -> list[tuple[str, str]]:
        """``rest_send_cors_headers``: an Origin is echoed; without one a GET gets Vary."""
        origin = request.header("origin")
        if origin:
            return [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Methods", "OPTIONS, GET, POST, PUT, PATCH, DELETE"),
                ("Access-Control-Allow-Credentials", "true"),
                ("Vary", "Origin"),
            ]
        return [("Vary", "Origin")] if request.method in ("GET", "HEAD") else []

    def cart_headers(self, key: str) -> list[tuple[str, str]]:
        now = int(self.sim.now())
        headers = [("CoCart-Timestamp", str(now)), ("CoCart-Version", VERSION)]
        if key and key != "0":
            headers.append(("CoCart-API-Cart-Key", key))
        headers += [
            ("CoCart-API-Cart-Expiring", str(now + store.CART_EXPIRING_S)),
            ("CoCart-API-Cart-Expiration", str(now + store.CART_EXPIRATION_S)),
        ]
        return headers

    def answer(
        self,
        request: HttpRequest,
        status: int,
        body: Any,
        extra: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
        *,
        allow: str = "",
        limit_headers: list[tuple[str, str]] | None = None,
        raw: bytes | None = None,
    ) -> HttpResponse:
        has_link = any(name == "Link" for name, _ in extra)
        headers = base_headers(request.site, link=not has_link)
        headers += [*(limit_headers or []), *extra]
        if allow:
            headers.append(("Allow", allow))
        headers += self.nocache_headers()
        headers += COCART_CORS
        headers += self.wp_cors(request)
        return HttpResponse(status, headers, encode(body) if raw is None else raw)

    # -- dispatch --------------------------------------------------------------------------
    @staticmethod
    def params(request: HttpRequest) -> dict[str, Any]:
        """WordPress merges the query string and the (JSON or form) body; the body wins."""
        body = parse_body(request.header("content-type") or "", request.body)
        return {**form_to_params(request.query), **body}

    async def rest(self, request: HttpRequest, rest_route: str, from_query: bool) -> HttpResponse:
        sim = self.sim
        limit_headers, limited = rate_limit(sim, request)
        if limited is not None:
            return self.answer(request, 400, limited.body(), limit_headers=limit_headers)
        if rest_route == "/batch/v1":
            return await serve_batch(self, request, limit_headers)
        found = match(rest_route.rstrip("/") or "/")  # WordPress untrailingslashes the route
        method = "GET" if request.method == "HEAD" else request.method
        if found is not None and method == "OPTIONS":
            route = found[0]
            return self.answer(request, 200, None, allow=route.allow({}), raw=b"")
        handler = found[0].handlers.get(method) if found is not None else None
        if found is None or handler is None:
            sim.requests[f"{method} no_route"] += 1
            return self.answer(request, 404, no_route().body(), limit_headers=limit_headers)
        route, url_params = found
        sim.requests[f"{method} {route.name}"] += 1
        try:
            raw = {**self.params(request), **url_params}
        except StoreError as error:
            return self.answer(request, 400, error.body(), limit_headers=limit_headers)
        if route.kind == "catalogue":
            return await self._catalogue(request, route, raw, url_params, limit_headers)
        return await self._cart(request, route, handler, raw, limit_headers)

    async def _catalogue(
        self,
        request: HttpRequest,
        route: CoRoute,
        raw: dict[str, Any],
        url_params: dict[str, str],
        limit_headers: list[tuple[str, str]],
    ) -> HttpResponse:
        assert route.catalogue_run is not None
        try:
            found = route.catalogue_run(
                self.catalogue, request.site, raw, url_params, request.query
            )
            status, body, extra = found.status, found.body, list(found.headers)
        except StoreError as error:
            status, body, extra = error.status, error.body(), []
        await self.sim.process()
        return self.answer(
            request, status, body, extra, allow=route.allow(raw), limit_headers=limit_headers
        )

    @contextlib.asynccontextmanager
    async def _serialised(self, key: str) -> AsyncIterator[None]:
        """With the race switched off, one request per cart key at a time."""
        if self.sim.race:
            yield
            return
        async with self.sim.lock(f"cocart:{key}"):
            yield

    async def _cart(
        self,
        request: HttpRequest,
        route: CoRoute,
        handler: Handler,
        raw: dict[str, Any],
        limit_headers: list[tuple[str, str]],
    ) -> HttpResponse:
        sim = self.sim
        key = store.requested_key(request) or store.generate_key()
        creates = route.base == "cart" and request.method == "POST"
        async with self._serialised(key):
            stored = store.exists(sim, key)
            work = Work(store.load(sim, key), sim.inventory())
            ctx = Ctx(work, key, request.site, self.catalogue)
            try:
                params = resolve(handler.params, raw)
                refused = handler.permission(raw) if handler.permission else None
                if refused is not None:
                    raise refused
                status, body = 200, handler.run(ctx, params)
                if php_empty(body):
                    raise empty_answer(request.site, route.base)
            except StoreError as error:
                status, body = error.status, error.body()
            await sim.process(write=request.method not in ("GET", "HEAD"))
            state = work.state
            # The real handler stores a row for every key a request names; storesim keeps
            # no row for a cart that was never stored and is still empty (nothing shows it).
            if state is not None and (stored or creates or not completely_empty(state)):
                store.save(sim, key, state)
        extra = self.cart_headers(key) if status == 200 else []
        return self.answer(
            request, status, body, extra, allow=route.allow(raw), limit_headers=limit_headers
        )


def empty_answer(site: str, base: str) -> StoreError:
    """``CoCart_Response::get_response`` refuses empty data (a count of 0, say)."""
    return StoreError(
        "cocart_response_returned_empty",
        f'Request returned nothing for "{site}/wp-json/cocart/v2/{base}/"! Please seek assistance.',
        400,
    )
