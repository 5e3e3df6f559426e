"""One pooled HTTP client per store, shared by every adapter: timeouts, read retries,
trace propagation (by hand, or OpenTelemetry's httpx instrumentation when tracing is
on), the shopper's address and user agent, and the upstream latency metric.

Policy lives here; I/O is aiohttp's keep-alive pool (``_aiohttp.py``), called straight
with plain values; or, when tracing is on or a test hands in a transport (storesim in
the test's process), an httpx transport, through httpx's request and response objects.
Transport failures become the domain's upstream errors here and nowhere else: before
the request left, ``UpstreamUnavailable`` (nothing happened); after, an
``UpstreamOutcomeUnknown`` (it may have happened). Reads may be retried; writes never
are, since a second attempt could apply twice.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

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
from ._aiohttp import AiohttpExchange, AiohttpTransport, client_timeout

_ID_SEGMENT = re.compile(r"/(\d+|[0-9a-f]{30,32})(?=/|$)")
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_JSON = msgspec.json.Encoder()
_DEFAULT_HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "cartsync",
}


def _with_defaults(headers: dict[str, str] | None, body: bytes | None) -> dict[str, str]:
    merged = {**_DEFAULT_HEADERS, **headers} if headers else dict(_DEFAULT_HEADERS)
    if body is not None:
        merged["Content-Type"] = "application/json"
    return merged


class StoreResponse(Protocol):
    """What the adapters read of an answer: ``_aiohttp.StoreAnswer`` on the direct way,
    ``httpx.Response`` through a transport."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...


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

    Requests go straight to aiohttp with plain values: the parts of ``httpx.AsyncClient``
    between a request and its transport (auth and redirect flows, event hooks, the
    cookie jar) do nothing here and cost ~0.7 ms of CPU a call, and httpx's request and
    response objects (URL parsing, header normalising) another ~0.4 ms
    (``bench.store_client``); they are built only when a transport needs them. There is
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
        self._limits = client_timeout(self._timeout)
        self._direct: AiohttpExchange | None = None
        self._transport: httpx.AsyncBaseTransport | None = transport
        if transport is None and settings.instrument is None:
            self._direct = AiohttpExchange(settings.max_connections)
        elif transport is None:
            self._transport = AiohttpTransport(settings.max_connections)
        if settings.instrument is not None:
            # The instrumentation wraps the client's transport in place: the same
            # object this client sends through.
            settings.instrument(httpx.AsyncClient(transport=self._transport))

    async def aclose(self) -> None:
        if self._direct is not None:
            await self._direct.aclose()
        if self._transport is not None:
            await self._transport.aclose()

    async def _exchange(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None,
        json: Any,
        params: dict[str, Any] | None,
    ) -> StoreResponse:
        url = self._base + path.lstrip("/")
        body = _JSON.encode(json) if json is not None else None
        merged = _with_defaults(headers, body)
        if self._direct is not None:
            if params:
                url += "?" + urlencode(params)  # as httpx encodes them
            return await self._direct.exchange(method, url, merged, body, self._limits)
        assert self._transport is not None
        request = httpx.Request(
            method,
            httpx.URL(url, params=params),
            headers=merged,
            content=body,
            extensions={"timeout": self._timeout},
        )
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
    ) -> StoreResponse:
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
                response = await self._exchange(method, path, headers, json, params)
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
