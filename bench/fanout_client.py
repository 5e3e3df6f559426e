"""The load client of ``bench.fanout``: thousands of SSE devices and a few writers, each a
bare ``asyncio.Protocol`` on its own connection.

Why protocols and not ``StreamReader`` tasks or httpx: ten thousand streams in one
process must cost the client less than they cost the gateway, or the figures measure
the client. A protocol has no task, no reader buffer object and no wake-up per line; it
stamps an event's arrival in ``data_received``, the moment the bytes come off the
socket, so a busy client loop cannot shift the time it records (the writer's
acknowledgement is stamped the same way, when the answer's last byte arrives).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import cast


class Device(asyncio.Protocol):
    """One device's change stream: ``GET /v1/cart/events``, events stamped on arrival.

    ``arrivals`` maps each event id (the cart's version) to when it arrived; ``opened``
    is resolved by the first event (the current cart), which is when the stream counts
    as open.
    """

    __slots__ = (
        "_buffer",
        "_id",
        "_request",
        "arrivals",
        "closed",
        "opened",
        "status",
        "transport",
    )

    def __init__(self, request: bytes) -> None:
        self._request = request
        self._buffer = b""
        self._id: bytes | None = None
        self.status = b""
        self.arrivals: dict[str, float] = {}
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        lines = (self._buffer + data).split(b"\r\n")
        self._buffer = lines.pop()
        for line in lines:
            if line.startswith(b"id: "):
                self._id = line[4:]
            elif line.startswith(b"data: ") and self._id is not None:
                self.arrivals[self._id.decode()] = now
                self._id = None
                if not self.opened.done():
                    self.opened.set_result(None)
            elif not self.status and line.startswith(b"HTTP/1.1 "):
                self.status = line
                if b" 200 " not in line and not self.opened.done():
                    self.opened.set_exception(RuntimeError(f"stream refused: {line!r}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"stream closed before its cart: {exc}"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_device(port: int, token: str) -> Device:
    request = (
        f"GET /v1/cart/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    _, device = await loop.create_connection(lambda: Device(request), "127.0.0.1", port)
    return device


@dataclass(frozen=True, slots=True)
class Ack:
    status: int
    etag: str
    acked: float  # perf_counter when the answer's last byte arrived


class Writer(asyncio.Protocol):
    """A keep-alive connection that sends one ``POST /v1/cart/items`` at a time."""

    def __init__(self) -> None:
        self._buffer = b""
        self._answer: asyncio.Future[Ack] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    async def add_item(self, token: str, product_id: int) -> Ack:
        assert self.transport is not None
        assert self._answer is None
        body = json.dumps({"product_id": product_id}).encode()
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(
            (
                f"POST /v1/cart/items HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}"
                f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        try:
            return await self._answer
        finally:
            self._answer = None

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 or self._answer is None:
            return
        head = self._buffer[:end].decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        length = int(headers.get("content-length", "0"))
        if len(self._buffer) < end + 4 + length:
            return
        self._buffer = self._buffer[end + 4 + length :]
        status = int(head[0].split()[1])
        self._answer.set_result(Ack(status, headers.get("etag", "").strip('"'), now))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(ConnectionError(f"writer connection lost: {exc}"))


async def open_writer(port: int) -> Writer:
    loop = asyncio.get_running_loop()
    _, writer = await loop.create_connection(Writer, "127.0.0.1", port)
    return writer


class LoopLag:
    """How late the client's loop runs a 10 ms timer: the proof that the client kept up."""

    def __init__(self) -> None:
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            due = time.perf_counter() + 0.01
            await asyncio.sleep(0.01)
            self.lags_ms.append((time.perf_counter() - due) * 1000)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._tick())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
