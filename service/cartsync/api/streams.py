"""The change streams of one replica: one reader per owner, one encoding per change.

Why not one generator per stream (as it was): ten devices of a user woke ten readers
per change, each read the cart, decoded its bytes and had Litestar re-encode the same
event, and each heartbeat read the cart again (older than the freshness window, that
read also sent the store a background refresh: measured, a third of the worker's CPU
with 10,000 streams open). Here the streams of one owner share a ``_Group``: one task
that listens on the cart's feed, reads the cart once per change and encodes the SSE
frame once; each stream only writes those bytes. A heartbeat is a comment, nothing more
(a change made through any replica is announced; a gap in the announcements wakes every
group, which reads its cart again).

Each stream is also lean by design (``EventStream``): no anyio task group, no
per-stream queue, no timeout context per wait; one future to wait on, one timer
handle for the heartbeat, one task listening for the client leaving (memory per stream
is what caps how many a worker holds; ``bench.fanout`` measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.response import ServerSentEvent, Stream
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse

from ..auth import Owner
from ..carts.errors import CartError
from ..carts.ports.state import StateUnavailable
from ..carts.service import CartService

log = structlog.get_logger(__name__)
Send = Callable[[Any], Awaitable[None]]
Receive = Callable[[], Awaitable[Any]]

RETRY_MS = 2000
RECONNECT_MS = 100  # the hint sent as a stream ends because its replica stops
OUTAGE_RETRY_S = 1.0
OPENING = f": cartsync\r\nretry: {RETRY_MS}\r\n\r\n".encode()
KEEP_ALIVE = b": keep-alive\r\n\r\n"
UNAVAILABLE = b": unavailable\r\n\r\n"
SHUTTING_DOWN = f": shutting down\r\nretry: {RECONNECT_MS}\r\n\r\n".encode()
_BEAT = "beat"


def cart_frame(tag: str, body: bytes) -> bytes:
    """One ``cart`` event, encoded as Litestar's ``ServerSentEventMessage`` would."""
    lines = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    data = b"".join(b"data: " + line + b"\r\n" for line in lines)
    return b"id: " + tag.encode() + b"\r\nevent: cart\r\n" + data + b"\r\n"


class _Member:
    """One open stream: what it last sent, and the frame it should send next."""

    __slots__ = ("ending", "pending", "sent", "waiter")

    def __init__(self, sent: str) -> None:
        self.sent = sent
        self.pending: tuple[str, bytes] | None = None
        self.ending = False
        self.waiter: asyncio.Future[str] | None = None

    def offer(self, tag: str, frame: bytes) -> None:
        if tag != self.sent:
            self.pending = (tag, frame)
            self.wake("frame")

    def wake(self, why: str) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(why)


class _Group:
    """The streams of one owner on this replica, fed by one task."""

    def __init__(self, hub: StreamHub, owner: Owner, cart_id: str) -> None:
        self.hub = hub
        self.owner = owner
        self.cart_id = cart_id
        self.members: set[_Member] = set()
        self.latest: tuple[str, bytes] | None = None
        self.task = asyncio.create_task(self._run())

    def join(self, member: _Member) -> None:
        self.members.add(member)
        if self.latest is not None:
            member.offer(*self.latest)
        if self.hub.service.draining:
            self._end(member)

    def _end(self, member: _Member) -> None:
        member.ending = True
        member.wake("end")

    async def _run(self) -> None:
        try:
            await self._feed()
        except Exception:
            # Not an outage it knows: its streams end (a reconnect makes a new group),
            # as a stream whose own read raised did before.
            log.exception("change feed group failed", cart_id=self.cart_id)
        finally:
            # This replica is stopping, or the group failed (even its log line: a
            # stream left waiting here would wait for good): every stream ends with
            # a reconnect hint.
            for member in self.members:
                self._end(member)

    async def _feed(self) -> None:
        service = self.hub.service
        with service.feed.listen(self.cart_id) as changes:
            while True:
                try:
                    view = await service.read(self.owner)
                except (CartError, StateUnavailable) as exc:
                    # A passing outage: keep the streams, try again on a change or in a while.
                    log.warning("change feed read failed", error=type(exc).__name__)
                    self._comment(UNAVAILABLE)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(OUTAGE_RETRY_S):
                            await changes.get()
                    continue
                tag = view.etag.strip('"')
                if self.latest is None or self.latest[0] != tag:
                    self.latest = (tag, cart_frame(tag, view.body))
                for member in self.members:
                    member.offer(*self.latest)
                if service.draining:
                    break
                await changes.get()
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:  # several changes arrived: one read gives the newest cart
                        changes.get_nowait()
                if service.draining:
                    break

    def _comment(self, comment: bytes) -> None:
        for member in self.members:
            if member.pending is None:
                member.pending = ("", comment)
                member.wake("frame")


class StreamHub:
    """This replica's change streams, grouped by owner."""

    def __init__(self, service: CartService, heartbeat_s: float) -> None:
        self.service = service
        self.heartbeat_s = heartbeat_s
        self._groups: dict[str, _Group] = {}

    @property
    def open_streams(self) -> int:
        return sum(len(group.members) for group in self._groups.values())

    def _join(self, owner: Owner, cart_id: str, sent: str) -> tuple[_Group, _Member]:
        group = self._groups.get(owner.id)
        if group is None or group.cart_id != cart_id or group.task.done():
            group = self._groups[owner.id] = _Group(self, owner, cart_id)
        else:
            self.service.feed.count_streams(1)  # the group's listener counts one
        member = _Member(sent)
        group.join(member)
        return group, member

    def _leave(self, group: _Group, member: _Member) -> None:
        group.members.discard(member)
        if group.members:
            self.service.feed.count_streams(-1)
            return
        if self._groups.get(group.owner.id) is group:
            del self._groups[group.owner.id]
        group.task.cancel()

    async def serve(
        self, owner: Owner, cart_id: str, last_event_id: str | None, send: Send, receive: Receive
    ) -> None:
        """Write one stream's frames until the client leaves or the replica stops."""
        sent = (last_event_id or "").strip().strip('"')
        group, member = self._join(owner, cart_id, sent)
        loop = asyncio.get_running_loop()
        gone = _Watch(receive, lambda: member.wake("gone"))
        try:
            await _body(send, OPENING)
            while not gone.done:
                if member.pending is not None:
                    tag, frame = member.pending
                    member.pending = None
                    if tag:
                        member.sent = tag
                    await _body(send, frame)
                    continue
                if member.ending:
                    await _body(send, SHUTTING_DOWN)
                    break
                member.waiter = waiter = loop.create_future()
                beat = loop.call_later(self.heartbeat_s, _set, waiter, _BEAT)
                try:
                    why = await waiter
                finally:
                    beat.cancel()
                    member.waiter = None
                if why == _BEAT:
                    await _body(send, KEEP_ALIVE)
        finally:
            gone.close()
            self._leave(group, member)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _Watch:
    """Waits for ``http.disconnect`` without a task of its own.

    A task per stream (plus its context copy) was a tenth of a stream's memory, for a
    wait that ends once. This steps the ``receive()`` coroutine by hand, the way a task
    would: it yields the future it waits on (or None: run again soon), and each step
    runs when that future is done.
    """

    __slots__ = ("_coro", "_gone", "_receive", "done")

    def __init__(self, receive: Receive, gone: Callable[[], None]) -> None:
        self._receive = receive
        self._gone = gone
        self.done = False
        self._coro: Coroutine[Any, Any, Any] | None = None
        self._next()

    def _next(self) -> None:
        self._coro = cast(Coroutine[Any, Any, Any], self._receive())
        self._step()

    def _step(self, _: object = None) -> None:
        coro = self._coro
        if coro is None:
            return
        try:
            waiting = coro.send(None)
        except StopIteration as finished:
            message = finished.value
            if message["type"] == "http.disconnect":
                self._coro = None
                self.done = True
                self._gone()
            else:
                self._next()  # a request body part: listen on
            return
        except BaseException:
            self._coro = None
            self.done = True
            self._gone()
            raise
        if waiting is None:
            asyncio.get_running_loop().call_soon(self._step)
        else:
            waiting._asyncio_future_blocking = False
            waiting.add_done_callback(self._step)

    def close(self) -> None:
        coro, self._coro = self._coro, None
        if coro is not None:
            coro.close()


def _set(waiter: asyncio.Future[str], why: str) -> None:
    if not waiter.done():
        waiter.set_result(why)


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


_StreamArgs = tuple["StreamHub", Owner, str, str | None]


class _LeanStreamResponse(ASGIStreamingResponse):
    """Litestar's streaming response with its body written by ``StreamHub.serve``
    (instead of an anyio task group around an iterator)."""

    __slots__ = ("_args",)

    def __init__(self, args: _StreamArgs, **kwargs: Any) -> None:
        super().__init__(iterator=(), **kwargs)
        self._args: _StreamArgs | None = args

    async def send_body(self, send: Any, receive: Any) -> None:
        assert self._args is not None
        hub, owner, cart_id, last_event_id = self._args
        self._args = None
        self.headers = MutableScopeHeaders()  # sent already: not kept for hours
        await hub.serve(owner, cart_id, last_event_id, send, receive)


class EventStream(ServerSentEvent):
    """A ``ServerSentEvent`` (its headers, its OpenAPI answer) written by ``StreamHub``.

    ``ServerSentEvent``'s own iterator machinery is not built: nothing would use it.
    """

    def __init__(
        self, hub: StreamHub, owner: Owner, cart_id: str, last_event_id: str | None
    ) -> None:
        super(Stream, self).__init__(  # Response's: ServerSentEvent's builds its iterator
            content=(),
            media_type="text/event-stream",
            headers={
                "Cache-Control": "no-store",
                "Connection": "keep-alive",
                "X-Accel-Buffering": "no",
            },
        )
        self.iterator = ()
        self._args: _StreamArgs = (hub, owner, cart_id, last_event_id)

    def to_asgi_response(
        self,
        app: Any,
        request: Any,
        *,
        background: Any = None,
        cookies: Any = None,
        encoded_headers: Any = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: Any = None,
        status_code: int | None = None,
        type_encoders: Any = None,
    ) -> ASGIResponse:
        merged = {**headers, **self.headers} if headers is not None else self.headers
        return _LeanStreamResponse(
            self._args,
            background=self.background or background,
            content_length=0,
            cookies=self.cookies if cookies is None else itertools.chain(self.cookies, cookies),
            encoded_headers=encoded_headers,
            encoding=self.encoding,
            headers=merged,
            is_head_response=is_head_response,
            media_type=self.media_type or "text/event-stream",
            status_code=self.status_code or status_code,
        )
