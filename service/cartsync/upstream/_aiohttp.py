"""The store's network I/O: aiohttp's connection pool and parser, called two ways.

- ``AiohttpExchange``: one request, straight from the store client (``_http.py``) to
  aiohttp, nothing built in between; the way every call goes unless something needs
  httpx's interface.
- ``AiohttpTransport``: the same exchange behind httpx's transport interface, for when
  tracing is on (OpenTelemetry's httpx instrumentation wraps a transport).

Why not httpx's own transport (httpcore, h11, anyio): measured side by side
(``bench.store_client``), one add-item to storesim costs ~1.7 ms of CPU through
httpcore's transport, ~1.1 ms through this one behind httpx's interface and ~0.75 ms
straight; a write pays it on every turn.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding")  # the client sets its own


def client_timeout(timeout: dict[str, Any]) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for httpx's (``httpx.Timeout.as_dict()``)."""
    return aiohttp.ClientTimeout(
        total=None,
        connect=timeout.get("pool"),  # waiting for a pooled connection, or a new one
        sock_connect=timeout.get("connect"),
        sock_read=timeout.get("read"),
    )


@dataclass(frozen=True, slots=True)
class StoreAnswer:
    """The store's answer, as the adapters read it: what an ``httpx.Response`` also
    offers (``status_code``, case-insensitive ``headers``, the decoded ``content``)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    raw_headers: tuple[tuple[bytes, bytes], ...] = ()


class AiohttpExchange:
    """One aiohttp session (its keep-alive pool) for every request to the store.

    The session is made on first use, inside the running loop (aiohttp's rule). It keeps
    no cookies, follows no redirects and adds no headers; ``decompress``: whether it
    decodes a gzip or deflate body (httpx's ``Response`` does so itself)."""

    def __init__(
        self,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
        *,
        decompress: bool = True,
    ) -> None:
        self._max_connections = max_connections
        self._ssl = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._decompress = decompress
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl)
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=self._decompress,
            skip_auto_headers=_NO_AUTO_HEADERS,
        )

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        body: bytes | None,
        limits: aiohttp.ClientTimeout,
    ) -> StoreAnswer:
        """Send one request and read its whole answer; failures as httpx's errors
        (``_mapped``), so one mapping serves both ways of calling."""
        if self._session is None:
            self._session = self._open()
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=limits,
            ) as answer:
                content = await answer.read()
                return StoreAnswer(answer.status, answer.headers, content, answer.raw_headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _mapped(exc) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class AiohttpTransport(httpx.AsyncBaseTransport):
    """``AiohttpExchange`` behind httpx's transport interface (tracing's way)."""

    def __init__(self, max_connections: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self._exchange = AiohttpExchange(max_connections, ssl_context, decompress=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self._exchange.exchange(
            request.method,
            str(request.url),
            request.headers.multi_items(),
            request.content or None,
            client_timeout(request.extensions.get("timeout", {})),
        )
        return httpx.Response(
            answer.status_code,
            headers=list(answer.raw_headers),
            content=answer.content,
            request=request,
        )

    async def aclose(self) -> None:
        await self._exchange.aclose()
