"""``GET /v1/cart/events``: the caller's cart, pushed on every change, as Server-Sent Events.

Each event is the whole compact cart; its id is the cart's version, so a reconnecting
client sends ``Last-Event-ID`` and gets the current cart at once if it is behind.
Browsers' ``EventSource`` cannot send an Authorization header: they open the stream
with ``?stream_token=`` from ``POST /v1/cart/events/token`` (valid one minute). The
owner and the cart are settled before the answer starts (a state store outage is a
503 then); the stream itself is written by ``streams.StreamHub``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState

from ..auth import Authenticator
from ..carts.service import CartService
from .dependencies import Caller, provide_caller
from .docs import AUTHENTICATED, BEARER, documented, ok
from .schemas import StreamToken
from .streams import EventStream, StreamHub


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
        cart_id = await service.cart_id(owner)
        found: StreamHub | None = state.get("streams")
        hub = found or StreamHub(service, state.settings.sse_heartbeat_s)
        state.streams = hub
        # The parsed request headers would be kept for as long as the stream is open
        # (hours, times every stream): drop them, they were read.
        ScopeState.from_scope(request.scope).headers = Empty
        return EventStream(hub, owner, cart_id, last_event_id)
