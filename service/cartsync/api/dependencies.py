"""Request-scoped values: the authenticated owner, rate-limited."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request

from ..auth import Authenticator, Owner
from ..carts.service import CartService
from .limits import Limits

_READS = frozenset({"GET", "HEAD"})


async def provide_owner(request: Request[Any, Any, Any]) -> Owner:
    """The caller, from ``Authorization: Bearer``; rate limits counted here."""
    authenticator: Authenticator = request.app.state.authenticator
    owner = authenticator.owner(request.headers.get("authorization"))
    structlog.contextvars.bind_contextvars(owner=owner.id)
    limits: Limits = request.app.state.limits
    limits.check_request(owner.id)
    if request.method not in _READS:
        await limits.check_write(owner.id)
    return owner


def provide_service(request: Request[Any, Any, Any]) -> CartService:
    service: CartService = request.app.state.service
    return service
