"""The store client's network I/O (aiohttp, called straight or behind httpx's transport
interface), against real sockets: what each failure becomes decides whether the lane
may retry, so "not sent" must mean not sent. Every test runs both ways."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import msgspec
import pytest

from cartsync.carts.ports.upstream_errors import (
    UpstreamOutcomeUnknown,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from cartsync.upstream._aiohttp import AiohttpTransport, _mapped
from cartsync.upstream._http import StoreClient, StoreClientSettings

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
FAST = StoreClientSettings(connect_timeout=1.0, read_timeout=0.5, read_retries=0)
WAYS = ["direct", "httpx-transport"]


def _client(url: str, way: str) -> StoreClient:
    """The store client as it runs (straight to aiohttp), or through the httpx transport
    that tracing's instrumentation wraps."""
    if way == "direct":
        return StoreClient(url, FAST)
    return StoreClient(url, FAST, AiohttpTransport(10))


async def _request_head(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        ),
        0,
    )
    return head + await reader.readexactly(length)


@asynccontextmanager
async def _server(handler: Handler) -> AsyncIterator[tuple[str, list[bytes]]]:
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            seen.append(await _request_head(reader))
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/api", seen
    finally:
        server.close()
        await server.wait_closed()


async def _answer(writer: asyncio.StreamWriter, body: bytes, *headers: bytes) -> None:
    head = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
    head += b"".join(h + b"\r\n" for h in headers)
    writer.write(head + b"content-length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()


@pytest.mark.parametrize("way", WAYS)
async def test_a_request_leaves_with_its_headers_and_json_and_the_answer_is_decoded(
    way: str,
) -> None:
    async def gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _answer(
            writer, gzip.compress(b'{"ok":true}'), b"content-encoding: gzip", b"Cart-Token: t1"
        )

    async with _server(gzipped) as (url, seen):
        client = _client(url, way)
        try:
            response = await client.send(
                "POST", "/cart/add-item", headers={"Nonce": "n1"}, json={"id": 15}
            )
        finally:
            await client.aclose()
    assert response.status_code == 201
    assert msgspec.json.decode(response.content) == {"ok": True}
    assert response.headers.get("cart-token") == response.headers.get("Cart-Token") == "t1"
    request = seen[0]
    assert request.startswith(b"POST /api/cart/add-item HTTP/1.1\r\n")
    lowered = request.lower()
    for header in (b"nonce: n1", b"content-type: application/json", b"user-agent: cartsync"):
        assert header in lowered
    assert request.endswith(b'\r\n\r\n{"id":15}')
    assert b"cookie" not in lowered


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return None  # read the request, answer nothing, close


@pytest.mark.parametrize("way", WAYS)
async def test_query_parameters_are_encoded_alike_both_ways(way: str) -> None:
    async def empty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _answer(writer, b"[]")

    async with _server(empty) as (url, seen):
        client = _client(url, way)
        try:
            await client.send("GET", "/products", params={"search": "a b&c/é", "page": 2})
        finally:
            await client.aclose()
    # aiohttp's URL (yarl) leaves "/" unescaped in a query, as RFC 3986 allows; PHP reads
    # both spellings alike.
    assert seen[0].startswith(b"GET /api/products?search=a+b%26c/%C3%A9&page=2 HTTP/1.1\r\n")


async def _add_fails_with(url: str, error: type[Exception], way: str) -> Exception:
    """The error one add-item to ``url`` raises (it must be ``error``)."""
    client = _client(url, way)
    try:
        with pytest.raises(error) as failed:
            await client.send("POST", "/cart/add-item", json={"id": 15})
    finally:
        await client.aclose()
    return failed.value


@pytest.mark.parametrize("way", WAYS)
async def test_nothing_listening_is_unavailable_since_nothing_left(way: str) -> None:
    async with _server(_hang_up) as (url, _):
        pass  # the port is closed again
    failure = await _add_fails_with(url, UpstreamUnavailable, way)
    assert not isinstance(failure, UpstreamOutcomeUnknown)


@pytest.mark.parametrize("way", WAYS)
async def test_a_connection_dropped_after_the_request_is_an_unknown_outcome(way: str) -> None:
    async with _server(_hang_up) as (url, seen):
        await _add_fails_with(url, UpstreamOutcomeUnknown, way)
    assert len(seen) == 1  # it did arrive: a retry could apply it twice


@pytest.mark.parametrize("way", WAYS)
async def test_an_answer_that_never_comes_is_a_timeout_after_the_send(way: str) -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()

    async with _server(silent) as (url, seen):
        try:
            await _add_fails_with(url, UpstreamTimeout, way)
        finally:
            release.set()
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("failure", "not_sent"),
    [
        (aiohttp.ServerDisconnectedError(), False),
        (aiohttp.ClientOSError(104, "reset"), False),
        (aiohttp.ClientPayloadError("cut"), False),
        (aiohttp.SocketTimeoutError("read"), False),
        (aiohttp.ConnectionTimeoutError("pool"), True),
    ],
)
def test_only_failures_before_the_send_say_not_sent(failure: Exception, not_sent: bool) -> None:
    import httpx

    mapped = _mapped(failure)
    assert isinstance(mapped, (httpx.ConnectError, httpx.ConnectTimeout)) is not_sent
