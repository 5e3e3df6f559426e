"""One pooled HTTP client per store, shared by every adapter: timeouts, read retries,
trace propagation (by hand, or OpenTelemetry's httpx instrumentation when tracing is
on), the shopper's address and user agent, and the upstream latency metric.

Policy lives here; I/O is a transport's: httpx's interface over aiohttp's keep-alive
pool (``_aiohttp.py``), or the one a test hands in.
Transport failures become the domain's upstream errors here and nowhere else: before
the request left, ``UpstreamUnavailable`` (nothing happened); after, an
``UpstreamOutcomeUnknown`` (it may have happened). Reads may be retried; writes never
are, since a second attempt could apply twice.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from ..carts.ports.upstream import ProductQuery
from ..carts.ports.upstream_errors import (
    UpstreamOutcomeUnknown,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ..metrics import observe_upstream
from ..request_context import note_upstream_call
from ._aiohttp import AiohttpTransport

_ID_SEGMENT = re.compile(r"/(\d+|[0-9a-f]{30,32})(?=/|$)")
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_JSON = msgspec.json.Encoder()
_DEFAULT_HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "cartsync",
}


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
    ``transport`` replaces the network (a test's in-process storesim).

    Requests go straight to the transport: the parts of ``httpx.AsyncClient`` between a
    request and its transport (auth and redirect flows, event hooks, the cookie jar)
    do nothing here and cost ~0.7 ms of CPU a call (``bench.store_client``). There is
    no cookie jar on purpose: one client serves every cart, so a cookie the store set
    for one cart's session (``wp_woocommerce_session_*`` when a request carried no
    valid Cart-Token) must never go out with the next cart's request; each cart is
    named by its own credentials instead."""

    def __init__(
        self,
        base_url: str,
        settings: StoreClientSettings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.read_retries = settings.read_retries
        self._base = base_url.rstrip("/") + "/"
        self._timeout = httpx.Timeout(
            settings.read_timeout, connect=settings.connect_timeout
        ).as_dict()
        self._transport = transport or AiohttpTransport(settings.max_connections)
        if settings.instrument is not None:
            # The instrumentation wraps the client's transport in place: the same
            # object this client sends through.
            settings.instrument(httpx.AsyncClient(transport=self._transport))

    async def aclose(self) -> None:
        await self._transport.aclose()

    def _request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None,
        json: Any,
        params: dict[str, Any] | None,
    ) -> httpx.Request:
        url = httpx.URL(self._base + path.lstrip("/"), params=params)
        merged = {**_DEFAULT_HEADERS, **headers} if headers else dict(_DEFAULT_HEADERS)
        body = None
        if json is not None:
            body = _JSON.encode(json)
            merged["Content-Type"] = "application/json"
        return httpx.Request(
            method, url, headers=merged, content=body, extensions={"timeout": self._timeout}
        )

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

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
                request = self._request(method, path, headers, json, params)
                response = await self._exchange(request)
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
