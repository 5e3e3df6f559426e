"""Every error as ``{code, message, field, cart}``: stable codes, never a stack trace."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from ..auth import AuthError
from ..carts import errors as domain
from ..carts.ports.state import StateUnavailable
from .body import InvalidJSON

log = structlog.get_logger(__name__)
_ENCODER = msgspec.json.Encoder()

STATUS_BY_CLASS: dict[type[domain.CartError], int] = {
    domain.Invalid: 422,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.RateLimited: 429,
    domain.Unavailable: 503,
    domain.UpstreamTimedOut: 504,
}
# A 404 that concerns something the cart refers to carries the cart, as a conflict.
_CART_CONFLICTS = frozenset({"item_not_found", "coupon_not_applied"})


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    cart: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    return Response(
        error_bytes(code, message, field, cart),
        status_code=status,
        media_type="application/json",
        headers=headers or {},
    )


def error_bytes(
    code: str, message: str, field: str | None = None, cart: bytes | None = None
) -> bytes:
    """``{code, message, field, cart}`` with the cart's stored bytes spliced in."""
    head = _ENCODER.encode({"code": code, "message": message, "field": field})
    return head[:-1] + b',"cart":' + (cart if cart else b"null") + b"}"


def status_of(error_class: type[domain.CartError], code: str, has_cart: bool) -> int:
    if code in _CART_CONFLICTS and has_cart:
        return 409
    return STATUS_BY_CLASS.get(error_class, 409)


def cart_error(_: Request[Any, Any, Any], exc: domain.CartError) -> Response[bytes]:
    status = status_of(type(exc), exc.code, exc.cart is not None)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return error_response(status, exc.code, exc.message, exc.field, exc.cart, headers)


class BodyTokenError(AuthError):
    """A token sent in the body (``guest_token``) that is not valid, or not of the
    kind asked for: 401 as for the bearer token, with the body field named."""

    def __init__(self, error: AuthError, field: str) -> None:
        super().__init__(error.code, error.message)
        self.field = field


def auth_error(_: Request[Any, Any, Any], exc: AuthError) -> Response[bytes]:
    return error_response(
        401,
        exc.code,
        exc.message,
        exc.field if isinstance(exc, BodyTokenError) else "authorization",
        headers={"WWW-Authenticate": 'Bearer realm="cartsync"'},
    )


def json_error(_: Request[Any, Any, Any], exc: InvalidJSON) -> Response[bytes]:
    return error_response(400, "invalid_json", exc.message)


def state_error(_: Request[Any, Any, Any], exc: StateUnavailable) -> Response[bytes]:
    log.error("state store unavailable", error=str(exc))
    return error_response(
        503,
        "state_unavailable",
        "Cart storage is unavailable; retry shortly.",
        headers={"Retry-After": "2"},
    )


_AT = re.compile(r"at `\$\.([^`]*)`")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")


def _field_of(exc: ValidationException) -> str | None:
    """The field at fault, as a JSON path below the body (``variation[0].value``)."""
    extra = exc.extra
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        message = str(extra[0].get("message", ""))
        unknown = _UNKNOWN.search(message)
        at = _AT.search(message)
        parent = at.group(1) if at else ""
        if unknown:
            return f"{parent}.{unknown.group(1)}" if parent else unknown.group(1)
        if parent:
            return parent
        key = extra[0].get("key")
        return str(key) if key and key != "data" else None
    return None


def _message_of(exc: ValidationException) -> str:
    extra = exc.extra
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        message = str(extra[0].get("message", exc.detail))
        return message.split(" - at `")[0]
    return "The request is not valid."


def _no_body(exc: ValidationException) -> bool:
    """Litestar's report of a handler's ``data`` absent: the request had no body."""
    extra = exc.extra
    return (
        isinstance(extra, list)
        and len(extra) == 1
        and isinstance(extra[0], dict)
        and extra[0].get("key") == "data"
        and extra[0].get("message") == repr("data")
    )


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    if _no_body(exc):
        return error_response(400, "invalid_json", "A JSON body is required.")
    return error_response(422, "invalid_request", _message_of(exc), _field_of(exc))


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        return error_response(404, "not_found", "No such endpoint.")
    if isinstance(exc, MethodNotAllowedException):
        return error_response(
            405, "method_not_allowed", "Method not allowed here.", headers=dict(exc.headers or {})
        )
    if status == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return error_response(413, "payload_too_large", "The request body is too large.")
    if status == 400:
        return error_response(400, "invalid_request", str(exc.detail) or "Bad request.")
    return error_response(status, f"http_{status}", str(exc.detail) or "Request failed.")


def internal_error(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error", error=type(exc).__name__)
    return error_response(500, "internal_error", "Something went wrong on our side.")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    domain.CartError: cart_error,
    AuthError: auth_error,
    InvalidJSON: json_error,
    StateUnavailable: state_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}
