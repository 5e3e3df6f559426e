"""HTTP pieces both faces share: requests and answers, WordPress' JSON, headers, limits.

The Store API face (``wordpress.py``) and the CoCart face (``cocart/``) are raw ASGI
code; this module holds what they have in common so that neither imports the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

import msgspec

from .errors import StoreError
from .sim import Sim

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

EXPOSE = "X-WP-Total, X-WP-TotalPages, Link"
WP_ALLOW_HEADERS = "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type"
WP_CORS = (
    ("Access-Control-Expose-Headers", EXPOSE),
    ("Access-Control-Allow-Headers", WP_ALLOW_HEADERS),
)
CRITICAL_ERROR = {
    "code": "internal_server_error",
    "message": '<p>There has been a critical error on this website.</p><p><a href="'
    'https://wordpress.org/documentation/article/faq-troubleshooting/">Learn more about '
    "troubleshooting WordPress.</a></p>",
    "data": {"status": 500},
    "additional_errors": [],
}


class DropConnection(Exception):
    """Raised after a partial answer, so the server closes the connection mid-response."""


@dataclass(slots=True)
class HttpRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes
    client: str
    site: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


async def read_request(scope: Scope, receive: Receive, max_body: int) -> HttpRequest | None:
    """The whole request, or None when its body is larger than ``max_body``."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        headers[raw_name.decode("latin-1").lower()] = raw_value.decode("latin-1")
    cookies: dict[str, str] = {}
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            cookies[name] = unquote(value)
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = unquote(raw_path.decode("latin-1").split("?", 1)[0])
    host = headers.get("host", "localhost")
    client = (scope.get("client") or ("127.0.0.1", 0))[0]
    return HttpRequest(
        method=scope["method"].upper(),
        path=path,
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        cookies=cookies,
        body=b"".join(chunks),
        client=client,
        site=f"{scope.get('scheme', 'http')}://{host}",
    )


async def write_response(send: Send, response: HttpResponse) -> None:
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers]
    headers.append((b"Content-Length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def drop_connection(send: Send) -> None:
    """Send the status line and part of a body, then give up: the server closes the socket."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"Content-Type", b"application/json; charset=UTF-8"),
                (b"Content-Length", b"4096"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b'{"items":[', "more_body": True})
    raise DropConnection("fault injected: connection dropped mid-response")


def encode(body: Any) -> bytes:
    """``wp_json_encode``: compact JSON with ``/`` escaped as ``\\/``."""
    return msgspec.json.encode(body).replace(b"/", b"\\/")


def http_date(timestamp: float) -> str:
    """``Sat, 21 Nov 2026 20:32:38 GMT``."""
    return formatdate(int(timestamp), usegmt=True)


def session_cookie_name(site: str) -> str:
    """``wp_woocommerce_session_<COOKIEHASH>``: WordPress hashes the site URL."""
    digest = hashlib.md5(site.encode(), usedforsecurity=False).hexdigest()
    return f"wp_woocommerce_session_{digest}"


def base_headers(
    site: str,
    *,
    link: bool = True,
    cors: tuple[tuple[str, str], ...] | None = None,
) -> list[tuple[str, str]]:
    """The headers WordPress sends first on every REST answer, in its order.

    ``cors`` are the ``Access-Control-Expose-Headers`` / ``-Allow-Headers`` WordPress
    sends next (WooCommerce adds its own names to them); None leaves them out.
    """
    headers = [("Content-Type", "application/json; charset=UTF-8"), ("X-Robots-Tag", "noindex")]
    if link:
        headers.append(("Link", f'<{site}/wp-json/>; rel="https://api.w.org/"'))
    headers.append(("X-Content-Type-Options", "nosniff"))
    if cors is not None:
        headers += cors
    return headers


def critical_response(
    site: str,
    store_headers: tuple[tuple[str, str], ...],
    cache_control: str = "no-cache, must-revalidate, max-age=0",
) -> HttpResponse:
    """A PHP fatal error: WordPress answers 500 with its "critical error" page."""
    return HttpResponse(
        500,
        [
            *base_headers(site, cors=store_headers),
            ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
            ("Cache-Control", cache_control),
        ],
        encode(CRITICAL_ERROR),
    )


def rate_limit(sim: Sim, request: HttpRequest) -> tuple[list[tuple[str, str]], StoreError | None]:
    """WooCommerce's limiter (when switched on): the RateLimit headers of this request,
    and the 400 ``rate_limit_exceeded`` error when it is over the limit."""
    if not sim.rate_limit.enabled:
        return [], None
    client = request.client
    forwarded = request.header("x-forwarded-for")
    if sim.rate_limit.proxy_support and forwarded:
        client = forwarded.split(",")[0].strip()
    values, wait = sim.rate_check(client)
    if wait is None:
        return list(values.items()), None
    sim.requests[f"{request.method} rate_limited"] += 1
    error = StoreError(
        "rate_limit_exceeded",
        f"Too many requests. Please wait {wait} seconds before trying again.",
        400,
    )
    return list(values.items()), error
