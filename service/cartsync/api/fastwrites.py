"""The hot writes: a cart line added, its quantity set or the line removed
(``POST /v1/cart/items``, ``PATCH`` and ``DELETE /v1/cart/items/{key}``), settled before
the framework.

Profiled, the framework's pipeline around a write (routing, five middleware layers,
dependency injection, body parsing, the response object) costs about a fifth of the
gateway's CPU for one add (``bench.added_latency``). This layer takes the requests it
can answer exactly as the framework path would, and passes on everything else before
anything has happened, so an error is the framework's own answer:

- taken: one of those routes with no query string and a line key the route's own
  pattern accepts, a bearer token already verified (its claims cached), a JSON body of
  at most ``MAX_BODY`` bytes that decodes strictly into the route's body (``AddItemIn``,
  ``SetQuantityIn``; a removal's body is not read by the route either), tracing off
  (with tracing on, every write keeps its server span from the ASGI instrumentation);
- then the same steps in the same order as the framework path: the request and write
  limits (``Limits``), the mutation (``writes.settle``: Idempotency-Key, If-Match, the
  lane), the answer rendered as ``writes.render`` renders it, an error by the same
  handler (``errors.EXCEPTION_HANDLERS``), the same headers (``headers.securing``), the
  request context the store calls carry (``observability.open_request``) and the same log
  line (``observability.RequestLogMiddleware``'s fields, with ``fast``).

A test holds both paths to the same status, headers and body for the same requests.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec
import structlog
from litestar import Litestar, Response
from prometheus_client import Counter, Histogram

from ..carts import operations as ops
from ..observability import open_request
from .body import too_deep
from .dependencies import Caller
from .errors import EXCEPTION_HANDLERS
from .headers import securing
from .schemas import AddItemIn, SetQuantityIn
from .writes import WriteRequest, render, settle

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 16 * 1024  # an add is ~100 bytes; larger bodies take the framework path
ITEMS = "/v1/cart/items"
_LINE = ITEMS + "/"
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # the route's ItemKey pattern (api/carts.py)
FAST_WRITES = Counter(
    "cartsync_fast_cart_writes",
    "Cart line writes answered before the framework",
    ["method", "status"],
)
FAST_WRITE_SECONDS = Histogram(  # as the framework's request duration, for these writes
    "cartsync_fast_cart_write_duration_seconds",
    "Time to answer a cart line write answered before the framework",
    ["method", "status"],
)
_ADD = msgspec.json.Decoder(AddItemIn, strict=True)
_SET = msgspec.json.Decoder(SetQuantityIn, strict=True)


def _operation(method: str, key: str | None, body: bytes) -> ops.Operation:
    """The route's operation, as its handler in ``api/carts.py`` builds it (raises
    ``msgspec.DecodeError`` for a body the route would refuse)."""
    if method == "POST":
        data = _ADD.decode(body)
        variation = tuple(ops.VariationChoice(v.attribute, v.value) for v in data.variation)
        return ops.AddItem(data.product_id, data.quantity, variation)
    assert key is not None
    if method == "DELETE":
        return ops.RemoveItem(key)
    quantity = _SET.decode(body).quantity
    return ops.RemoveItem(key) if quantity == 0 else ops.SetQuantity(key, quantity)


def route_of(method: str, path: str) -> tuple[str, str | None] | None:
    """``(method, line key)`` for a hot write's route, else None."""
    if path == ITEMS:
        return (method, None) if method == "POST" else None
    if method in ("PATCH", "DELETE") and path.startswith(_LINE):
        key = path[len(_LINE) :]
        return (method, key) if _KEY.match(key) else None
    return None


_log = structlog.get_logger("cartsync.request")


def replaying(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that hands out ``messages`` again first (a body read, then passed on)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _read_body(receive: Receive) -> tuple[bytes | None, list[Message]]:
    """The whole body, or None past ``MAX_BODY`` (or a disconnect); the messages read."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            return None, messages
        if not message.get("more_body", False):
            break
    return b"".join(m.get("body", b"") for m in messages), messages


def _response_of(exc: Exception) -> Response[bytes]:
    """The framework's answer to ``exc``: the handler of its closest class."""
    for kind in type(exc).__mro__:
        handler = EXCEPTION_HANDLERS.get(kind)
        if handler is not None:
            response: Response[bytes] = handler(None, exc)
            return response
    raise exc  # unreachable: Exception has a handler


async def _send_response(send: Send, response: Response[bytes], request_id: str) -> int:
    body = response.content if isinstance(response.content, bytes) else b""
    headers = [
        (name.lower().encode("latin-1"), str(value).encode("latin-1"))
        for name, value in response.headers.items()
    ]
    headers += [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    status = response.status_code or 200
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


class FastCartWrites:
    """Answers hot line writes; ``answer`` says whether it did, and how to pass it on if
    not."""

    def __init__(self, app: Litestar) -> None:
        self.app = app
        self._enabled = app.state.get("tracing") is None

    async def answer(
        self, scope: Scope, receive: Receive, send: Send, route: tuple[str, str | None]
    ) -> Receive | None:
        """None when answered; else the ``receive`` the framework path reads from."""
        state = self.app.state
        service = state.get("service")
        if not self._enabled or service is None or scope["query_string"]:
            return receive
        method, key = route
        authorization = content_type = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = authorization or value
            elif name == b"content-type":
                content_type = content_type or value
        if method != "DELETE" and not content_type.startswith(b"application/json"):
            return receive
        owner = state.authenticator.cached_owner(authorization)
        if owner is None:
            return receive
        body, messages = await _read_body(receive)
        if body is None or too_deep(body):
            return replaying(messages, receive)
        try:
            operation = _operation(method, key, body)
        except msgspec.DecodeError:
            return replaying(messages, receive)  # the framework words the 400/422
        await self._settle(scope, send, Caller(owner, service), operation, body)
        return None

    async def _settle(
        self, scope: Scope, send: Send, caller: Caller, operation: ops.Operation, body: bytes
    ) -> None:
        method, path = scope["method"], scope["path"]
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)  # the first of each, as the framework reads
        request_id, facts = open_request(headers, scope.get("client"))
        started = time.perf_counter()
        status = 500
        secured = securing(send, path)
        try:
            structlog.contextvars.bind_contextvars(owner=caller.owner.id)
            limits = self.app.state.limits
            limits.check_request(caller.owner.id)
            await limits.check_write(caller.owner.id)
            key = headers.get(b"idempotency-key")
            if_match = headers.get(b"if-match")
            request = WriteRequest(
                self.app.state.idempotency,
                method,
                path,
                key.decode("latin-1") if key is not None else None,
                if_match.decode("latin-1") if if_match is not None else None,
                _given(body),
            )
            answer, replayed = await settle(request, caller, [operation])
            response = render(answer, replayed=replayed)
        except Exception as exc:  # answered as the framework answers it
            response = _response_of(exc)
        try:
            status = await _send_response(secured, response, request_id)
        finally:
            elapsed = time.perf_counter() - started
            FAST_WRITES.labels(method, str(status)).inc()
            FAST_WRITE_SECONDS.labels(method, str(status)).observe(elapsed)
            _log.info(
                "request",
                method=method,
                path=path,
                status=status,
                latency_ms=round(elapsed * 1000, 2),
                cache=facts.cache or ("upstream" if facts.upstream_calls else None),
                upstream_calls=facts.upstream_calls,
                batch_size=facts.batch_size or None,
                fast=True,
            )


def _given(body: bytes) -> Callable[[], Awaitable[bytes]]:
    async def read() -> bytes:
        return body

    return read
