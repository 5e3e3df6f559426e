"""The baselines: a bare Litestar route answering a static JSON body of a given size
(``app``), and a raw ASGI callable answering the same bytes (``raw``): what the server
alone costs, without any framework."""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, Response, get

_BODY = b'{"pad":"' + b"x" * max(int(os.environ.get("BARE_BYTES", "3000")) - 10, 0) + b'"}'


@get("/static", sync_to_thread=False)
def static() -> Response[bytes]:
    return Response(_BODY, media_type="application/json")


app = Litestar([static], openapi_config=None)


_RAW_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_BODY)).encode()),
]


async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The same bytes from a bare ASGI callable (lifespan accepted, nothing else)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": _RAW_HEADERS})
    await send({"type": "http.response.body", "body": _BODY})
