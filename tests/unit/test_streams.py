"""The change streams of one replica (``api/streams.py``), in process: what one change
costs (one read, one encoding, however many devices), what a heartbeat is, and how
streams end."""

from __future__ import annotations

import asyncio
from typing import Any

from cartsync.api.streams import KEEP_ALIVE, OPENING, SHUTTING_DOWN, StreamHub, cart_frame
from cartsync.carts.feed import ChangeFeed
from cartsync.carts.owners import Owner
from cartsync.carts.ports.state import Change
from cartsync.carts.reads import CartView


class FakeService:
    """What the hub calls: ``read``, ``feed``, ``draining``; counts the reads."""

    def __init__(self) -> None:
        self.feed = ChangeFeed()
        self.version = 1
        self.reads = 0
        self.fail: Exception | None = None

    @property
    def draining(self) -> bool:
        return self.feed.closing

    async def read(self, owner: Owner) -> CartView:
        self.reads += 1
        if self.fail is not None:
            raise self.fail
        return CartView(b'{"version": %d}' % self.version, f'"e.{self.version}"')


class Client:
    """One stream's ASGI side: the chunks it was sent, and a way to leave."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.left = asyncio.Event()
        self.arrived = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        self.chunks.append(message["body"])
        self.arrived.set()

    async def receive(self) -> dict[str, Any]:
        await self.left.wait()
        return {"type": "http.disconnect"}

    def frames(self) -> list[bytes]:
        return [c for c in self.chunks if c]

    async def until(self, chunk: bytes) -> None:
        await self.until_count(chunk, 1)

    async def until_count(self, chunk: bytes, count: int) -> None:
        async with asyncio.timeout(5):
            while self.chunks.count(chunk) < count:
                self.arrived.clear()
                await self.arrived.wait()


def _hub(heartbeat_s: float = 30.0) -> tuple[FakeService, StreamHub]:
    service = FakeService()
    return service, StreamHub(service, heartbeat_s)  # type: ignore[arg-type]


OWNER = Owner("user", "alice", id="u_alice")


async def _open(hub: StreamHub, n: int, last_event_id: str | None = None) -> list[Client]:
    clients = [Client() for _ in range(n)]
    for client in clients:
        asyncio.create_task(  # noqa: RUF006 - ends when the client leaves
            hub.serve(OWNER, "c1", last_event_id, client.send, client.receive)
        )
    for client in clients:  # a stream sends its opening once it has joined
        await client.until(OPENING)
    return clients


async def test_ten_devices_of_one_owner_cost_one_read_and_one_encoding_a_change() -> None:
    service, hub = _hub()
    clients = await _open(hub, 10)
    first = cart_frame("e.1", b'{"version": 1}')
    for client in clients:
        await client.until(first)
    assert service.reads == 1
    assert (hub.open_streams, service.feed.open_streams) == (10, 10)
    service.version = 2
    service.feed.dispatch(Change("c1", "e", 2))
    second = cart_frame("e.2", b'{"version": 2}')
    for client in clients:
        await client.until(second)
    assert service.reads == 2
    sent = {id(c.frames()[-1]) for c in clients}
    assert len(sent) == 1  # the very same bytes, encoded once
    assert clients[0].frames() == [OPENING, first, second]
    groups = [group.task for group in hub._groups.values()]
    for client in clients:
        client.left.set()
    for client in clients:  # the answer's last (empty) chunk follows the stream leaving
        await client.until(b"")
    await asyncio.wait(groups, timeout=5)  # the last one out stops the group's listener
    assert (hub.open_streams, service.feed.open_streams) == (0, 0)


async def test_a_heartbeat_is_a_comment_and_reads_nothing() -> None:
    service, hub = _hub(heartbeat_s=0.05)
    (client,) = await _open(hub, 1)
    await client.until(KEEP_ALIVE)
    await client.until_count(KEEP_ALIVE, 2)
    assert client.frames().count(KEEP_ALIVE) >= 2
    assert service.reads == 1
    client.left.set()


async def test_a_device_up_to_date_gets_nothing_until_the_next_change() -> None:
    service, hub = _hub()
    (behind,) = await _open(hub, 1, last_event_id="e.0")
    (current,) = await _open(hub, 1, last_event_id='"e.1"')
    await behind.until(cart_frame("e.1", b'{"version": 1}'))
    assert current.frames() == [OPENING]
    service.version = 2
    service.feed.dispatch(Change("c1", "e", 2))
    await current.until(cart_frame("e.2", b'{"version": 2}'))
    behind.left.set()
    current.left.set()


async def test_draining_ends_every_stream_with_a_reconnect_hint() -> None:
    service, hub = _hub()
    clients = await _open(hub, 3)
    service.feed.close_all()
    for client in clients:
        await client.until(SHUTTING_DOWN)
        assert client.chunks[-1] == b""  # the answer is complete
    assert hub.open_streams == 0


async def test_a_group_that_fails_ends_its_streams_and_the_next_one_starts_afresh() -> None:
    service, hub = _hub()
    service.fail = RuntimeError("unexpected")
    (client,) = await _open(hub, 1)
    await client.until(SHUTTING_DOWN)
    service.fail = None
    (again,) = await _open(hub, 1)
    await again.until(cart_frame("e.1", b'{"version": 1}'))
    again.left.set()
