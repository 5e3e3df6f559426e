"""The store's network transport: httpx's interface, aiohttp's connection pool and parser.

Why not httpx's own (httpcore, h11, anyio): measured side by side (``bench.store_client``),
one add-item to storesim costs ~1.7 ms of CPU through httpcore's transport and ~1.1 ms
through this one; a write pays it on every turn. httpx stays the interface (requests,
responses, transports a test hands in, the OpenTelemetry instrumentation), so only the
bytes on the wire change hands.

What matters most here is the failure mapping, since the lane's promise rests on it:
only a failure *before* the request could leave may say so (``ConnectError``,
``ConnectTimeout``: nothing happened, a retry is safe). Anything after, a connection
dropped mid-answer, reset, an unparseable answer, is a ``ReadError`` or
``RemoteProtocolError``: the request may have been applied. (A general-purpose adapter
maps every ``ClientConnectionError`` to a connect timeout; here that would turn a lost
answer into "not sent" and a retry into a second apply.)
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
import httpx


def _mapped(exc: BaseException) -> httpx.TransportError:
    """httpx's error for an aiohttp failure; the order matters (subclasses first)."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNS, refused, TLS: never sent
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # no connection in time: not sent
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.SocketTimeoutError):  # sent; no answer in time
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientResponseError):  # sent; the answer did not parse
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(message)
    return httpx.ReadError(message)  # disconnected, reset, payload cut: sent, outcome unknown


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (its keep-alive pool) for every request to the store.

    The session is made on first use, inside the running loop (aiohttp's rule). It keeps
    no cookies, follows no redirects and decompresses nothing: httpx's ``Response``
    decodes the body by its ``Content-Encoding``, as with httpx's own transport."""

    def __init__(self, max_connections: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_connections = max_connections
        self._ssl = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl)
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            # The request carries every header it needs (httpx built it): add none.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        timeout: dict[str, Any] = request.extensions.get("timeout", {})
        limits = aiohttp.ClientTimeout(
            total=None,
            connect=timeout.get("pool"),  # waiting for a pooled connection, or a new one
            sock_connect=timeout.get("connect"),
            sock_read=timeout.get("read"),
        )
        try:
            async with self._session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=request.content or None,
                allow_redirects=False,
                timeout=limits,
            ) as answer:
                body = await answer.read()
                headers = answer.raw_headers
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _mapped(exc) from exc
        return httpx.Response(status, headers=list(headers), content=body, request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
