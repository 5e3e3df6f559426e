"""The server's event loop: a host-name lookup that hangs never holds the loop's close,
leaves no exception unretrieved, and is asked once however many callers wait on it."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
from typing import Any

import pytest

from cartsync.event_loop import new_event_loop


class _SlowResolver:
    """``socket.getaddrinfo`` as a resolver that does not answer: blocks until released,
    then fails as glibc does after its timeouts."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.asked: list[object] = []

    def __call__(self, host: object, *args: Any, **kwargs: Any) -> Any:
        if host in ("127.0.0.1", None):
            return _real_getaddrinfo(host, *args, **kwargs)
        self.asked.append(host)
        self.released.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Any:
    resolver = _SlowResolver()
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    yield resolver
    resolver.released.set()


def test_a_connection_given_up_during_its_lookup_holds_nothing(slow: _SlowResolver) -> None:
    loop = new_event_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))

    async def connect() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(
                loop.create_connection(asyncio.Protocol, "redis", 6379), timeout=0.1
            )

    loop.run_until_complete(connect())
    assert slow.asked == ["redis"]  # the lookup is still under way
    closing = time.monotonic()
    loop.close()
    assert time.monotonic() - closing < 1.0  # uvloop's own would wait for the lookup
    slow.released.set()  # the lookup ends after its loop: dropped
    deadline = time.monotonic() + 5
    while any(t.name == "cartsync-lookup" for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.01)  # wait-ok: polling for the lookup's thread to end
    gc.collect()
    assert reported == []  # no "Future exception was never retrieved"


def test_callers_of_one_name_share_one_lookup(slow: _SlowResolver) -> None:
    loop = new_event_loop()

    async def ask() -> list[BaseException | list[Any]]:
        waiting = [asyncio.ensure_future(loop.getaddrinfo("redis", 6379)) for _ in range(5)]
        await asyncio.sleep(0.05)  # wait-ok: every caller is waiting before the answer
        slow.released.set()
        return await asyncio.gather(*waiting, return_exceptions=True)

    try:
        answers = loop.run_until_complete(ask())
    finally:
        loop.close()
    assert slow.asked == ["redis"]
    assert all(isinstance(a, socket.gaierror) for a in answers)


def test_numeric_hosts_and_names_that_resolve_connect() -> None:
    loop = new_event_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    async def connect(host: str) -> None:
        transport, _ = await loop.create_connection(asyncio.Protocol, host, port)
        transport.close()

    try:
        loop.run_until_complete(connect("127.0.0.1"))
        loop.run_until_complete(connect("localhost"))
    finally:
        loop.close()
        listener.close()


def test_names_passed_as_bytes_resolve_as_anyio_passes_them() -> None:
    """httpx connects through anyio, which hands the loop the IDNA-encoded name as bytes:
    the image test found those failing (a 500 on every call to a store named by host)."""
    import anyio

    loop = new_event_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    async def connect(host: str) -> tuple[str, int]:
        stream = await anyio.connect_tcp(host, port)
        try:
            attribute = anyio.abc.SocketAttribute.remote_address
            peer: tuple[str, int] = stream.extra(attribute)  # noqa: S610 - anyio, not Django
            return peer
        finally:
            await stream.aclose()

    try:
        assert loop.run_until_complete(loop.getaddrinfo(b"127.0.0.1", port))[0][4][1] == port
        by_name = loop.run_until_complete(loop.getaddrinfo(b"localhost", port))
        assert port in {info[4][1] for info in by_name}
        assert loop.run_until_complete(connect("localhost"))[1] == port
    finally:
        loop.close()
        listener.close()
