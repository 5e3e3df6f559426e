"""The hot read: ``GET /v1/cart`` answered from the near cache before the framework (and
the hot line writes, ``POST /v1/cart/items`` and ``PATCH``/``DELETE`` of a line, handed
to ``fastwrites.py``).

A warm cart read needs no Redis call and no upstream call; what is left is the web
framework's own pipeline, which costs more than the read itself (profiled: routing,
middleware, dependency resolution, response building). This ASGI layer answers exactly
the reads it can answer as they are: a bearer token already verified (claims cached), a
known owner within its rate limit, a fresh near copy, and an ``If-None-Match`` that is
not newer than it. Everything else, errors included, goes down the full path, so the
answers are the same either way; the request log line and the metrics are kept. This is
also the outermost layer, so it puts the headers every answer carries (``headers.py``)
on everything the framework answers, 404s included; a hot read builds them itself.

A hot read makes no call to the store, so it opens no request context (the shopper's
address and user agent are noted for upstream calls on the full path only).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from litestar import Litestar
from prometheus_client import Counter

from ..carts.errors import RateLimited
from ..carts.reads import parse_tag
from ..observability import request_line
from ..request_context import new_request_id
from .fastwrites import FastCartWrites, route_of
from .headers import NOSNIFF, securing

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

FAST_READS = Counter(
    "cartsync_fast_cart_reads", "GET /v1/cart answered before the framework", ["status"]
)
_READ_200 = FAST_READS.labels("200")
_READ_304 = FAST_READS.labels("304")
_JSON = (b"content-type", b"application/json")
_CACHE = (b"cache-control", b"private, no-cache")


class FastCartReads:
    """Wraps the Litestar app (uvicorn serves this); everything but hot reads passes."""

    def __init__(self, app: Litestar) -> None:
        self.app = app
        self._tracing = app.state.get("tracing")  # OpenTelemetry's, when on
        self._writes = FastCartWrites(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # type: ignore[arg-type]  # plain ASGI dicts
            return
        if (
            scope["path"] == "/v1/cart"
            and scope["method"] == "GET"
            and not scope["query_string"]
            and await self._answer(scope, send)
        ):
            return
        route = route_of(scope["method"], scope["path"])
        if route is not None:
            passed = await self._writes.answer(scope, receive, send, route)
            if passed is None:
                return
            receive = passed
        secured = securing(send, scope["path"])
        await self.app(scope, receive, secured)  # type: ignore[arg-type]  # plain ASGI dicts

    async def _answer(self, scope: Scope, send: Send) -> bool:
        state = self.app.state
        service = state.get("service")
        if service is None:
            return False
        authorization = b""
        if_none_match = b""
        request_id = b""
        traceparent = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"x-request-id":
                request_id = value
            elif name == b"traceparent":
                traceparent = value
        owner = state.authenticator.cached_owner(authorization)
        if owner is None:
            return False
        try:
            state.limits.check_request(owner.id)
        except RateLimited:
            return False  # the full path answers 429 (and counts once more: harmless)
        snapshot = service.hot_snapshot(owner)
        if snapshot is None:
            return False
        started = time.perf_counter()
        status = 200
        if if_none_match:
            wanted = parse_tag(if_none_match.decode("latin-1"))
            if wanted is not None and wanted[0] == snapshot.epoch:
                if wanted[1] > snapshot.version:
                    return False  # the client knows a newer cart: ask Redis, not this copy
                if wanted[1] == snapshot.version:
                    status = 304
        if not (request_id and len(request_id) <= 64):
            request_id = new_request_id().encode()
        headers: list[tuple[bytes, bytes]] = [
            (b"etag", snapshot.etag.encode()),
            _CACHE,
            NOSNIFF,
            (b"x-request-id", request_id),
        ]
        if status == 200:
            body = snapshot.body
            headers += [_JSON, (b"content-length", str(len(body)).encode())]
            _READ_200.inc()
        else:
            body = b""
            _READ_304.inc()
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        line = {
            "method": "GET",
            "path": "/v1/cart",
            "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "request_id": request_id.decode("latin-1"),
            "owner": owner.id,
            "cache": "near",
            "upstream_calls": 0,
            "fast": True,
        }
        if self._tracing is not None:  # a span of our own: the instrumentation costs more
            line["trace_id"] = self._tracing.hot_read(traceparent, status, started)
        request_line(line)
        return True


def serve_app(app: Litestar) -> Any:
    """What uvicorn runs: the hot-read layer around the app."""
    return FastCartReads(app)
