"""``GET /v1/cart/events``: the caller's cart, pushed on every change, as Server-Sent Events.

Each event is the whole compact cart; its id is the cart's version, so a reconnecting
client sends ``Last-Event-ID`` and gets the current cart at once if it is behind.
Browsers' ``EventSource`` cannot send an Authorization header: they open the stream
with ``?stream_token=`` from ``POST /v1/cart/events/token`` (valid one minute).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import structlog
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from ..auth import Authenticator, Owner
from ..carts.errors import CartError
from ..carts.ports.state import StateUnavailable
from ..carts.service import CartService
from .dependencies import Caller, provide_caller
from .docs import AUTHENTICATED, BEARER, documented, ok
from .schemas import StreamToken

log = structlog.get_logger(__name__)
RETRY_MS = 2000
RECONNECT_MS = 100  # the hint sent as a stream ends because its replica stops


class EventsController(Controller):
    path = "/v1/cart/events"
    tags = ["cart"]
    security = BEARER

    @post(
        "/token",
        operation_id="createStreamToken",
        status_code=201,
        dependencies={"caller": Provide(provide_caller)},
        summary="A one-minute token to open the change feed from a browser",
        **documented({201: ok(StreamToken, "A stream token")}, AUTHENTICATED),
    )
    async def stream_token(
        self, request: Request[Any, Any, Any], caller: NamedDependency[Caller]
    ) -> StreamToken:
        authenticator: Authenticator = request.app.state.authenticator
        token, expires = authenticator.issue_stream(caller.owner)
        return StreamToken(token=token, expires_at=expires)

    @get(
        "/",
        operation_id="cartEvents",
        summary="Server-Sent Events: the cart on every change",
        **documented(
            {
                200: ok(
                    str,
                    "The stream: a `cart` event (the whole compact cart, its version as "
                    "`id`) on every change, comments as keep-alives",
                    media_type="text/event-stream",
                )
            },
            AUTHENTICATED,
            (422,),
            why={
                401: "missing_token, invalid_token, token_expired: the bearer token or "
                "`stream_token` is absent, unverifiable or expired",
                503: "The identity provider's keys cannot be fetched (a user token); once "
                "the stream is open, outages are comments on it, not answers",
            },
        ),
    )
    async def events(
        self,
        request: Request[Any, Any, Any],
        last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID")] = None,
        stream_token: Annotated[str | None, QueryParameter(max_length=2048)] = None,
    ) -> ServerSentEvent:
        state = request.app.state
        authenticator: Authenticator = state.authenticator
        if stream_token:
            owner = authenticator.stream_owner(stream_token)
        else:
            owner = await authenticator.owner(request.headers.get("authorization"))
        state.limits.check_request(owner.id)
        service: CartService = state.service
        return ServerSentEvent(
            _stream(service, owner, last_event_id, state.settings.sse_heartbeat_s),
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


async def _stream(
    service: CartService, owner: Owner, last_event_id: str | None, heartbeat_s: float
) -> AsyncIterator[ServerSentEventMessage]:
    cart_id = await service.cart_id(owner)
    sent = (last_event_id or "").strip().strip('"')
    with service.feed.listen(cart_id) as changes:
        yield ServerSentEventMessage(data=None, comment="cartsync", retry=RETRY_MS)
        while True:
            try:
                view = await service.read(owner)
            except (CartError, StateUnavailable) as exc:
                # A passing outage: keep the stream, try again on the next change or beat.
                log.warning("change feed read failed", error=type(exc).__name__)
                yield ServerSentEventMessage(data=None, comment="unavailable")
                await asyncio.sleep(1.0)
                continue
            tag = view.etag.strip('"')
            if tag != sent:
                yield ServerSentEventMessage(data=view.body.decode(), id=tag, event="cart")
                sent = tag
            if service.draining:
                break
            try:
                async with asyncio.timeout(heartbeat_s):
                    await changes.get()
            except TimeoutError:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:  # several changes arrived: one read gives the newest cart
                    changes.get_nowait()
            if service.draining:
                break
        # This replica is stopping: the client reconnects (to another one) right away,
        # with Last-Event-ID, so it misses nothing.
        yield ServerSentEventMessage(data=None, comment="shutting down", retry=RECONNECT_MS)
