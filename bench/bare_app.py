"""The baseline: a bare Litestar route answering a static JSON body of a given size."""

from __future__ import annotations

import os

from litestar import Litestar, Response, get

_BODY = b'{"pad":"' + b"x" * max(int(os.environ.get("BARE_BYTES", "3000")) - 10, 0) + b'"}'


@get("/static", sync_to_thread=False)
def static() -> Response[bytes]:
    return Response(_BODY, media_type="application/json")


app = Litestar([static], openapi_config=None)
