"""Headers every answer carries, whichever path made it (hot read, route, 404, error).

- ``X-Content-Type-Options: nosniff`` on everything: browsers never guess a type.
- Cart answers (``/v1/cart...``) are ``Cache-Control: private`` (a shared cache must
  never keep one shopper's cart), unless they already say ``no-store`` or ``private``;
  token answers (``/v1/session/...``) are ``no-store``.
- No ``Server`` header (uvicorn's is off: ``server_header=False``); ``Date`` stays.

Litestar's middleware runs per route, so it never sees a 404 or a 405: this is applied
in the outermost ASGI layer instead (``fastpath.serve_app``), which the hot read builds
its own headers beside.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

NOSNIFF = (b"x-content-type-options", b"nosniff")
_PRIVATE = b"private"
_NO_STORE = b"no-store"


def cache_policy(path: str) -> bytes | None:
    """The ``Cache-Control`` an answer on ``path`` must have at least (None: any)."""
    if path.startswith("/v1/cart"):
        return _PRIVATE
    if path.startswith("/v1/session/"):
        return _NO_STORE
    return None


def secured(headers: Headers, policy: bytes | None) -> Headers:
    """``headers`` with ``nosniff`` and the path's caching policy applied."""
    out = [NOSNIFF]
    cache_control = None
    for name, value in headers:
        if name.lower() == b"cache-control":
            cache_control = value
        elif name.lower() != b"x-content-type-options":
            out.append((name, value))
    if policy is not None and (
        cache_control is None or (_NO_STORE not in cache_control and policy not in cache_control)
    ):
        cache_control = policy if cache_control is None else policy + b", " + cache_control
    if cache_control is not None:
        out.append((b"cache-control", cache_control))
    return out


def securing(send: Send, path: str) -> Send:
    """``send`` that secures the response's headers on the way out."""
    policy = cache_policy(path)

    async def send_secured(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = secured(list(message.get("headers", [])), policy)
        await send(message)

    return send_secured
