"""Request-scoped values: the authenticated owner, rate-limited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from litestar import Request

from ..auth import Authenticator, Owner
from ..carts.service import CartService
from .limits import Limits

_READS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated owner and the cart service: one dependency, resolved without a
    task group (two dependencies cost a task group per request in Litestar)."""

    owner: Owner
    service: CartService


async def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    """The caller, from ``Authorization: Bearer``; rate limits counted here."""
    state = request.app.state
    authenticator: Authenticator = state.authenticator
    owner = await authenticator.owner(request.headers.get("authorization"))
    structlog.contextvars.bind_contextvars(owner=owner.id)
    limits: Limits = state.limits
    limits.check_request(owner.id)
    if request.method not in _READS:
        await limits.check_write(owner.id)
    return Caller(owner, state.service)
