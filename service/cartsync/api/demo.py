"""``/demo/``: the demo page, served only with ``CARTSYNC_DEMO_PAGE`` (``cartsync demo``
turns it on).

The page (plain HTML and JavaScript in ``demo/``, no build step, nothing from another
origin) shows one user's cart on two devices side by side, each with its own change feed
and ETag, an offline queue replayed through ``POST /v1/cart/ops``, a guest cart merged
on "sign in", and the upstream calls the lane saved. ``GET /demo/session`` hands the
page a user token and a guest token: it signs user tokens with ``CARTSYNC_JWT_SECRET``,
so anyone who can load the page is that demo user. Never on in production. None of these
routes is in the OpenAPI document.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter, QueryParameter

from ..auth import Authenticator, issue_user_token
from ..carts.service import CartService
from .limits import Limits

DEMO_USER = "demo-user"  # the subject of the token ``cartsync demo`` prints, too
USER_TOKEN_TTL_S = 24 * 3600
_FILES = Path(__file__).with_name("demo")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_NAME = re.compile(r"^[a-z]+\.(html|js|css)$")
# Everything from this origin: no CDN, no inline script; frames only of the page itself.
_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


def _file(name: str) -> Response[bytes]:
    path = _FILES / name
    if not _NAME.match(name) or not path.is_file():
        raise NotFoundException("No such file of the demo page.")
    return Response(
        path.read_bytes(),
        media_type=_TYPES[path.suffix],
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": _POLICY},
    )


class DemoController(Controller):
    path = "/demo"
    include_in_schema = False

    @get("/")
    async def page(self) -> Response[bytes]:
        return _file("index.html")

    @get("/{name:str}")
    async def asset(self, name: Annotated[str, PathParameter(max_length=64)]) -> Response[bytes]:
        return _file(name)

    @get("/session")
    async def session(
        self,
        request: Request[Any, Any, Any],
        user: Annotated[str | None, QueryParameter(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")] = None,
    ) -> Response[dict[str, object]]:
        """A user token (the demo user, or ``demo-<user>``: tests keep their carts apart)
        and a new guest token."""
        state = request.app.state
        limits: Limits = state.limits
        limits.check_guest_issue(request.client.host if request.client else None)
        subject = DEMO_USER if user is None else f"demo-{user}"
        authenticator: Authenticator = state.authenticator
        guest, expires = authenticator.issue_guest()
        body: dict[str, object] = {
            "user": subject,
            "user_token": issue_user_token(state.settings, subject, ttl_s=USER_TOKEN_TTL_S),
            "guest_token": guest,
            "guest_expires_at": expires,
        }
        return Response(body, headers={"Cache-Control": "no-store"})

    @get("/stats")
    async def stats(self, request: Request[Any, Any, Any]) -> Response[dict[str, int]]:
        """This process's figures behind ``cartsync_upstream_calls_total``,
        ``cartsync_batch_operations_total``, ``cartsync_batch_size`` and
        ``cartsync_cart_reads_total`` (the same counters ``/metrics`` exports)."""
        service: CartService = request.app.state.service
        lane = service.lane.stats
        reads = service.stats
        body = {
            "upstream_writes": lane.upstream_writes,
            "upstream_reads": lane.upstream_reads,
            "batches": lane.batches,
            "batch_operations": lane.batch_operations,
            "largest_batch": max(lane.batch_sizes, default=0),
            "cached_reads": reads.near_hits + reads.state_hits,
        }
        return Response(body, headers={"Cache-Control": "no-store"})
