"""A stopping replica answers the request a client sends on a keep-alive connection just
as the stop begins, instead of resetting the connection (``cartsync/http_protocol.py``).

The server's shutdown is called on the connection between two requests, then the next
request is sent on it: uvicorn's own protocol has closed it by then (the control), the
draining one answers it with ``Connection: close`` and closes it after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from cartsync.http_protocol import DrainingHttpProtocol

REQUEST = b"GET /hello HTTP/1.1\r\nHost: test\r\n\r\n"


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def _serving(protocol: type[HttpToolsProtocol]) -> AsyncIterator[tuple[int, ServerState]]:
    config = uvicorn.Config(_app, http=protocol, lifespan="off", log_level="warning")
    config.load()
    state = ServerState()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: protocol(config=config, server_state=state, app_state={}), "127.0.0.1", 0
    )
    try:
        yield server.sockets[0].getsockname()[1], state
    finally:
        server.close()
        for connection in list(state.connections):
            connection.transport.close()
        await server.wait_closed()


async def _response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(head, body) of one response, or raises when the connection ends first."""
    head = await reader.readuntil(b"\r\n\r\n")
    return head, await reader.readexactly(2)


async def _next_request_after_shutdown(protocol: type[HttpToolsProtocol]) -> bytes:
    """The head of the answer to a request sent on a kept-alive connection right after
    the server began shutting it down (raises when the connection was dropped)."""
    async with _serving(protocol) as (port, state):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(REQUEST)
            head, body = await _response(reader)
            assert b"200 OK" in head
            assert body == b"ok"
            assert len(state.connections) == 1
            for connection in list(state.connections):
                connection.shutdown()  # what uvicorn does to each connection on SIGTERM
            writer.write(REQUEST)
            head, body = await asyncio.wait_for(_response(reader), 5)
            assert body == b"ok"
            assert await asyncio.wait_for(reader.read(), 5) == b""  # then closed
            return head
        finally:
            writer.close()


async def test_a_request_sent_as_the_stop_begins_is_answered_and_the_connection_closed() -> None:
    head = await _next_request_after_shutdown(DrainingHttpProtocol)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close" in head.lower()


async def test_uvicorns_own_protocol_drops_that_request() -> None:
    """The control: without the grace the same request finds the connection closed."""
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await _next_request_after_shutdown(HttpToolsProtocol)


async def test_an_idle_connection_is_still_closed_after_the_grace() -> None:
    async with _serving(DrainingHttpProtocol) as (port, state):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(REQUEST)
            await _response(reader)
            for connection in list(state.connections):
                connection.shutdown()
            # wait-ok: the grace itself is what is tested (the server closes by then)
            assert await asyncio.wait_for(reader.read(), 5) == b""
        finally:
            writer.close()
