"""``POST /v1/session/guest``: a signed guest identity for shoppers who are not logged in."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post

from ..auth import Authenticator
from .docs import documented, ok
from .limits import Limits
from .schemas import GuestSession


class SessionController(Controller):
    path = "/v1/session"
    tags = ["session"]

    @post(
        "/guest",
        operation_id="createGuestSession",
        status_code=201,
        summary="Issue a guest token (use it as a bearer token)",
        **documented(
            {201: ok(GuestSession, "A guest token and its expiry")},
            (429,),
            why={429: "rate_limited: too many guest tokens for this client address"},
        ),
    )
    async def guest(self, request: Request[Any, Any, Any]) -> GuestSession:
        limits: Limits = request.app.state.limits
        # The client as uvicorn resolved it (CARTSYNC_TRUSTED_PROXIES: behind a proxy, the
        # shopper's address from X-Forwarded-For, never one the shopper chose).
        limits.check_guest_issue(request.client.host if request.client else None)
        authenticator: Authenticator = request.app.state.authenticator
        token, expires = authenticator.issue_guest()
        return GuestSession(token=token, expires_at=expires)
