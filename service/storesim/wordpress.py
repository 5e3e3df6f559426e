"""The HTTP face of the simulated store: WordPress' REST server as WooCommerce 8.9.1 runs it.

A raw ASGI callable, so that header names keep their real casing and order, and so
that faults can hang or drop a connection. It resolves the route (``/wp-json/...``,
``/index.php/wp-json/...`` or ``/?rest_route=...``), applies rate limits and faults,
loads the session (Cart-Token, or a cookie session), checks the nonce, runs the
callback, sleeps the simulated PHP time between reading and writing the session
(the session race), and writes the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import msgspec

from .cart import CartState
from .errors import StoreError, invalid_param, missing_params, no_route
from .params import Arg, form_to_params, parse_body, resolve
from .products import PRODUCT_ROUTES, RAW_QUERY
from .render import Renderer
from .routes import CART_ROUTES, Call, Result, Route
from .sim import Sim
from .tokens import new_guest_id

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ROUTES: tuple[Route, ...] = (*CART_ROUTES, *PRODUCT_ROUTES)
BATCH_PATTERN = re.compile(r"^/wc/store(?:/v1)?/batch$")
BATCH_METHODS = ("POST", "PUT", "PATCH", "DELETE")
MAX_BATCH = 25
MAX_BODY = 1 << 20
WRITE_METHODS = frozenset(BATCH_METHODS)

EXPOSE = "X-WP-Total, X-WP-TotalPages, Link"
ALLOW_HEADERS = (
    "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type, Cart-Token, "
    "Nonce, X-WC-Store-API-Nonce"
)
CORS_TAIL = (
    ("Access-Control-Allow-Methods", "OPTIONS, GET, POST, PUT, PATCH, DELETE"),
    ("Access-Control-Allow-Credentials", "true"),
    ("Vary", "Origin"),
)
CRITICAL_ERROR = {
    "code": "internal_server_error",
    "message": '<p>There has been a critical error on this website.</p><p><a href="'
    'https://wordpress.org/documentation/article/faq-troubleshooting/">Learn more about '
    "troubleshooting WordPress.</a></p>",
    "data": {"status": 500},
    "additional_errors": [],
}
BATCH_ARGS = {
    "validation": Arg(("string",), default="normal", enum=("normal", "require-all-validate")),
    "requests": Arg(("array",), required=True, max_items=MAX_BATCH),
}


class CriticalError(Exception):
    """A PHP fatal error: WordPress answers 500 with its "critical error" page."""


class DropConnection(Exception):
    """Raised after a partial answer, so the server closes the connection mid-response."""


@dataclass(slots=True)
class HttpRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes
    client: str
    site: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(slots=True)
class Session:
    """The WooCommerce session of one PHP request (shared by a batch's sub-requests)."""

    user_id: str
    cookie: bool  # a cookie session (no valid Cart-Token), as a browser would get
    state: CartState
    original: CartState = field(init=False)

    def __post_init__(self) -> None:
        self.original = self.state.copy()

    @property
    def changed(self) -> bool:
        return self.state != self.original


def encode(body: Any) -> bytes:
    """``wp_json_encode``: compact JSON with ``/`` escaped as ``\\/``."""
    return msgspec.json.encode(body).replace(b"/", b"\\/")


class WordPress:
    """ASGI app emulating ``/wp-json/wc/store/v1`` of a WooCommerce 8.9.1 store."""

    def __init__(self, sim: Sim, renderer: Renderer) -> None:
        self.sim = sim
        self.renderer = renderer

    # -- ASGI -----------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = await self._read(scope, receive)
        if request is not None and "traceparent" in request.headers:
            self.sim.traceparents.append(request.headers["traceparent"])
        if request is None:
            await self._write(
                send,
                HttpResponse(413, [("Content-Type", "text/plain")], b"Request Entity Too Large"),
            )
            return
        try:
            response = await self.handle(request)
        except DropConnection:
            await self._drop(send)
            return
        await self._write(send, response)

    @staticmethod
    async def _read(scope: Scope, receive: Receive) -> HttpRequest | None:
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            headers[raw_name.decode("latin-1").lower()] = raw_value.decode("latin-1")
        cookies: dict[str, str] = {}
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name:
                cookies[name] = unquote(value)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = unquote(raw_path.decode("latin-1").split("?", 1)[0])
        host = headers.get("host", "localhost")
        client = (scope.get("client") or ("127.0.0.1", 0))[0]
        return HttpRequest(
            method=scope["method"].upper(),
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            cookies=cookies,
            body=b"".join(chunks),
            client=client,
            site=f"{scope.get('scheme', 'http')}://{host}",
        )

    @staticmethod
    async def _write(send: Send, response: HttpResponse) -> None:
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers]
        headers.append((b"Content-Length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    @staticmethod
    async def _drop(send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"Content-Type", b"application/json; charset=UTF-8"),
                    (b"Content-Length", b"4096"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b'{"items":[', "more_body": True})
        raise DropConnection("fault injected: connection dropped mid-response")

    # -- dispatch -------------------------------------------------------------------
    async def handle(self, request: HttpRequest) -> HttpResponse:
        rest_route, from_query = self._locate(request)
        if rest_route is None:
            return self._storefront(request)
        if not rest_route.startswith("/wc/store"):
            return self._json(request, no_route_response(), [])
        fault = self.sim.draw_fault(rest_route)
        when = self.sim.faults.when
        if fault and when == "before":
            injected = await self._strike(fault, request)
            if injected is not None:
                return injected
        response = await self._rest(request, rest_route, from_query)
        if fault and when != "before":
            injected = await self._strike(fault, request)
            if injected is not None:
                return injected
        return response

    async def _strike(self, fault: str, request: HttpRequest) -> HttpResponse | None:
        """Carry out an injected fault: a hang (then the answer), a drop, or a 500."""
        if fault == "hang":
            await asyncio.sleep(self.sim.faults.hang_seconds)
            return None
        if fault == "drop":
            raise DropConnection(fault)
        return self._critical(request)

    @staticmethod
    def _critical(request: HttpRequest) -> HttpResponse:
        return HttpResponse(
            500,
            [
                *base_headers(request.site),
                ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
                ("Cache-Control", "no-cache, must-revalidate, max-age=0"),
            ],
            encode(CRITICAL_ERROR),
        )

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
        limit_headers: list[tuple[str, str]] = []
        if sim.rate_limit.enabled:
            client = request.client
            forwarded = request.header("x-forwarded-for")
            if sim.rate_limit.proxy_support and forwarded:
                client = forwarded.split(",")[0].strip()
            values, wait = sim.rate_check(client)
            limit_headers = list(values.items())
            if wait is not None:
                sim.requests[f"{request.method} rate_limited"] += 1
                error = StoreError(
                    "rate_limit_exceeded",
                    f"Too many requests. Please wait {wait} seconds before trying again.",
                    400,
                )
                return self._json(
                    request,
                    HttpResponse(400, [], encode(error.body())),
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
                return await self._batch(request, limit_headers, token_user)
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
    def _cookie_name(self, site: str) -> str:
        digest = hashlib.md5(site.encode(), usedforsecurity=False).hexdigest()
        return f"wp_woocommerce_session_{digest}"

    def _open_session(self, request: HttpRequest, token_user: str | None) -> Session:
        if token_user is not None:
            return Session(token_user, False, self.sim.load(token_user))
        cookie = request.cookies.get(self._cookie_name(request.site), "")
        user_id = cookie.split("||", 1)[0]
        if user_id and user_id in self.sim.sessions:
            return Session(user_id, True, self.sim.load(user_id))
        return Session(new_guest_id(), True, CartState())

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
                self.sim.save(session.user_id, session.state)
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

    # -- batch ---------------------------------------------------------------------------
    def _validate_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        resolved = resolve(BATCH_ARGS, params)
        for index, entry in enumerate(resolved["requests"]):
            where = f"requests[{index}]"
            if not isinstance(entry, dict):
                raise invalid_param(
                    "requests",
                    f"{where} is not of type object.",
                    "rest_invalid_type",
                    {"param": where},
                )
            if not isinstance(entry.get("path"), str):
                raise invalid_param(
                    "requests", f"path is a required property of {where}.", "rest_property_required"
                )
            method = str(entry.get("method", "POST")).upper()
            if method not in BATCH_METHODS:
                raise invalid_param(
                    "requests",
                    f"{where}[method] is not one of POST, PUT, PATCH, and DELETE.",
                    "rest_not_in_enum",
                )
        return resolved

    async def _batch(
        self, request: HttpRequest, limit_headers: list[tuple[str, str]], token_user: str | None
    ) -> HttpResponse:
        cors = token_user is not None
        try:
            if not request.body and "requests" not in form_to_params(request.query):
                raise missing_params("requests")
            params = self._validate_batch(self._params(request, False))
        except StoreError as error:
            return self._json(
                request,
                HttpResponse(error.status, [], encode(error.body())),
                limit_headers,
                allow="POST",
                cors=cors,
            )
        entries: list[dict[str, Any]] = params["requests"]
        if any("wc/store" not in entry["path"] for entry in entries):
            bad_path = StoreError("woocommerce_rest_invalid_path", "Invalid path provided.", 400)
            headers = self._batch_headers()
            return self._json(
                request,
                HttpResponse(400, headers, encode(bad_path.body())),
                limit_headers,
                allow="POST",
                cors=cors,
            )

        planned = [self._plan(entry) for entry in entries]
        self.sim.batch_sizes.append(len(entries))
        if params["validation"] == "require-all-validate" and any(
            isinstance(p, StoreError) for p in planned
        ):
            responses: list[Any] = [
                {"body": p.body(), "status": p.status, "headers": []}
                if isinstance(p, StoreError)
                else None
                for p in planned
            ]
            body = encode({"failed": "validation", "responses": responses})
            return self._json(
                request,
                HttpResponse(207, self._batch_headers(), body),
                limit_headers,
                allow="POST",
                cors=cors,
            )

        outer_token = request.header("cart-token")
        session: Session | None = None
        results: list[dict[str, Any]] = []
        async with self._serialised(token_user):
            for _entry, plan in zip(entries, planned, strict=True):
                if isinstance(plan, StoreError):
                    allow = plan.allow
                    results.append(
                        {
                            "body": plan.body(),
                            "status": plan.status,
                            "headers": {"Allow": allow} if allow else {},
                        }
                    )
                    continue
                route, method, sub_params, sub_headers = plan
                self.sim.subrequests[f"{method} {route.name}"] += 1
                if session is None:
                    session = self._batch_session(request, outer_token, sub_headers)
                result = self._run(session, route, method, sub_params, sub_headers, request.site)
                now = self.sim.now()
                nonce = self.sim.nonces.current(now)
                results.append(
                    {
                        "body": None if result.status == 204 else result.body,
                        "status": result.status,
                        "headers": {
                            "Nonce": nonce,
                            "Nonce-Timestamp": int(now),
                            "User-ID": 0,
                            "Cart-Token": self.sim.signer.issue(session.user_id, now),
                            "X-WC-Store-API-Nonce": nonce,
                            "Allow": route.allow,
                        },
                    }
                )
            await self.sim.process(batch_size=len(entries), write=True)
            if session is not None and session.changed:
                self.sim.save(session.user_id, session.state)
        cookies = self._cookies(session, request.site, True) if session else []
        headers = [*cookies, *self._batch_headers()]
        return self._json(
            request,
            HttpResponse(207, headers, encode({"responses": results})),
            limit_headers,
            allow="POST",
            cors=cors,
        )

    def _batch_session(
        self, request: HttpRequest, outer_token: str | None, sub_headers: dict[str, str]
    ) -> Session:
        """WooCommerce picks the session handler from the first sub-request's Cart-Token,
        but the token handler reads the *outer* request's header: a token only on the
        sub-request is a PHP TypeError, and no token on it means a new cookie session."""
        now = self.sim.now()
        if self.sim.signer.valid_user(sub_headers.get("cart-token"), now) is not None:
            payload = self.sim.signer.decode(outer_token) if outer_token else None
            if not outer_token or payload is None or "user_id" not in payload:
                raise CriticalError("JsonWebToken::get_parts(): Argument #1 must be string")
            user_id = str(payload["user_id"])
            return Session(user_id, False, self.sim.load(user_id))
        return self._open_session(request, None)

    def _plan(
        self, entry: dict[str, Any]
    ) -> tuple[Route, str, dict[str, Any], dict[str, str]] | StoreError:
        """Match and validate one sub-request, as ``serve_batch_request_v1`` does first."""
        path, _, query = entry["path"].partition("?")
        method = str(entry.get("method", "POST")).upper()
        found = self._match(path)
        if found is None or found[0].method_for(method) is None:
            return no_route()
        route, url_params = found
        if not route.cart or method not in WRITE_METHODS:
            return StoreError(
                "rest_batch_not_allowed",
                "The requested route does not support batch requests.",
                400,
            )
        given_body = entry.get("body")
        body: dict[str, Any] = given_body if isinstance(given_body, dict) else {}
        given_headers = entry.get("headers")
        raw_headers: dict[str, Any] = given_headers if isinstance(given_headers, dict) else {}
        headers = {
            str(k).lower(): (v[0] if isinstance(v, list) and v else str(v))
            for k, v in raw_headers.items()
        }
        try:
            params = resolve(
                route.args.get(method, {}), {**form_to_params(query), **body, **url_params}
            )
        except StoreError as error:
            error.allow = route.allow
            return error
        return route, method, params, headers

    def _batch_headers(self) -> list[tuple[str, str]]:
        now = self.sim.now()
        nonce = self.sim.nonces.current(now)
        return [
            ("Nonce", nonce),
            ("X-WC-Store-API-Nonce", nonce),
            ("Nonce-Timestamp", str(int(now))),
            ("User-ID", "0"),
        ]

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

    # -- storefront ----------------------------------------------------------------------
    def _storefront(self, request: HttpRequest) -> HttpResponse:
        """``/?session=<Cart-Token>`` and ``/checkout/?session=``: the web checkout handoff.

        A logged-out visitor gets a clone of the token's guest session in a cookie.
        """
        if request.path not in ("/", "/index.php", "/checkout", "/checkout/", "/cart/"):
            page = "<!doctype html><title>Page not found</title><h1>Not found</h1>"
            return HttpResponse(404, [("Content-Type", "text/html; charset=UTF-8")], page.encode())
        query = dict(parse_qsl(request.query))
        headers = [("Content-Type", "text/html; charset=UTF-8")]
        session: Session | None = None
        user = self.sim.signer.valid_user(query.get("session"), self.sim.now())
        if user is not None and user.startswith("t_") and user in self.sim.sessions:
            session = Session(new_guest_id(), True, self.sim.load(user))
            self.sim.save(session.user_id, session.state)
            headers += self._cookies(session, request.site, True)
        else:
            session = self._open_session(request, None)
        cart = self.renderer.cart(session.state, request.site)
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


def base_headers(site: str, *, link: bool = True) -> list[tuple[str, str]]:
    """The headers WordPress sends first on every REST answer, in its order."""
    headers = [("Content-Type", "application/json; charset=UTF-8"), ("X-Robots-Tag", "noindex")]
    if link:
        headers.append(("Link", f'<{site}/wp-json/>; rel="https://api.w.org/"'))
    headers += [
        ("X-Content-Type-Options", "nosniff"),
        ("Access-Control-Expose-Headers", EXPOSE),
        ("Access-Control-Allow-Headers", ALLOW_HEADERS),
    ]
    return headers


def no_route_response() -> HttpResponse:
    return HttpResponse(404, [], encode(no_route().body()))
