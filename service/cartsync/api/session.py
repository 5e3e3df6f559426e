"""``POST /v1/session/guest``: a signed guest identity for shoppers who are not logged in."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post

from ..auth import Authenticator
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
    )
    async def guest(self, request: Request[Any, Any, Any]) -> GuestSession:
        limits: Limits = request.app.state.limits
        limits.check_guest_issue(request.client.host if request.client else "unknown")
        authenticator: Authenticator = request.app.state.authenticator
        token, expires = authenticator.issue_guest()
        return GuestSession(token=token, expires_at=expires)
