"""One pooled HTTP client per store, shared by every adapter: timeouts, read retries,
trace propagation (by hand, or OpenTelemetry's httpx instrumentation when tracing is
on), the shopper's address and user agent, and the upstream latency metric.

Policy lives here; I/O is httpx's (keep-alive pool; a test may hand in a transport).
Transport failures become the domain's upstream errors here and nowhere else: before
the request left, ``UpstreamUnavailable`` (nothing happened); after, an
``UpstreamOutcomeUnknown`` (it may have happened). Reads may be retried; writes never
are, since a second attempt could apply twice.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..carts.ports.upstream import ProductQuery
from ..carts.ports.upstream_errors import (
    UpstreamOutcomeUnknown,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ..metrics import observe_upstream
from ..request_context import note_upstream_call

_ID_SEGMENT = re.compile(r"/(\d+|[0-9a-f]{30,32})(?=/|$)")
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def product_params(query: ProductQuery) -> dict[str, Any]:
    """A catalogue query as both WordPress product APIs take it (the Store API's and
    CoCart's name these parameters alike)."""
    params: dict[str, Any] = {"page": query.page, "per_page": query.per_page}
    if query.search:
        params["search"] = query.search
    if query.category:
        params["category"] = query.category
    if query.product_type:
        params["type"] = query.product_type
    if query.parent is not None:
        params["parent"] = query.parent
    return params


def route_label(path: str) -> str:
    """The path with ids folded (``/products/{id}``), so metric labels stay few."""
    return _ID_SEGMENT.sub("/{id}", path)


class _NoCookies(http.cookiejar.CookieJar):
    """A jar that keeps nothing. One client serves every cart, so a cookie the store set
    for one cart's session (``wp_woocommerce_session_*`` when a request carried no valid
    Cart-Token) would go out on the next cart's requests; each cart is named by its own
    credentials instead. Parsing and storing ``Set-Cookie`` was also ~0.3 ms of CPU a
    write (profiled)."""

    def extract_cookies(self, response: object, request: object) -> None:
        return None

    def add_cookie_header(self, request: object) -> None:
        return None


@dataclass(frozen=True, slots=True)
class StoreClientSettings:
    """How to talk to the store, whichever API it speaks."""

    connect_timeout: float = 3.0
    read_timeout: float = 15.0
    read_retries: int = 2
    max_connections: int = 100
    instrument: Callable[[httpx.AsyncClient], None] | None = None  # tracing's, when on


class StoreClient:
    """Sends requests to one store under ``base_url`` (the API's root path included);
    ``transport`` replaces the network (a test's in-process storesim)."""

    def __init__(
        self,
        base_url: str,
        settings: StoreClientSettings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.read_retries = settings.read_retries
        limit = settings.max_connections
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            headers={"Accept": "application/json", "User-Agent": "cartsync"},
            transport=transport,
            follow_redirects=False,
            cookies=_NoCookies(),
        )
        if settings.instrument is not None:
            settings.instrument(self._client)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        retries: int = 0,
    ) -> httpx.Response:
        """One call, retried ``retries`` times (reads only). Any HTTP status is returned
        as it is: what a status means is the adapter's business."""
        attempt = 0
        route = route_label(path)
        while True:
            facts = note_upstream_call()
            if facts is not None:  # on behalf of a request: its trace, who the shopper is
                headers = {**(headers or {}), **facts.forwarded(), **facts.trace_headers()}
            started = time.perf_counter()
            try:
                response = await self._client.request(
                    method, path, headers=headers, json=json, params=params
                )
            except httpx.TransportError as exc:
                observe_upstream(method, route, type(exc).__name__, time.perf_counter() - started)
                if attempt < retries:
                    attempt += 1
                    if not isinstance(exc, httpx.TimeoutException) or isinstance(exc, _NOT_SENT):
                        await asyncio.sleep(0.05 * attempt)
                    continue
                if isinstance(exc, _NOT_SENT):
                    raise UpstreamUnavailable(f"store unreachable: {type(exc).__name__}") from exc
                if isinstance(exc, httpx.TimeoutException):
                    raise UpstreamTimeout(f"store did not answer {method} {path} in time") from exc
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
