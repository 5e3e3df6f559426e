"""JSON request bodies: a nesting limit, then one strict, typed decode.

Litestar decodes a JSON body untyped and then converts it into the handler's ``data``
type with ``msgspec.convert(strict=False)``: the lax mode meant for query strings and
forms, so ``"quantity": "5"`` became 5. Bodies here are decoded once, in
``StrictRequest.json``, straight into the handler's Struct with ``strict=True`` (JSON
has integers: a string is not one); the signature model then passes the Struct through
unchanged. Query and path parameters, which are text, keep Litestar's lax conversion.

Before msgspec sees a body, its bracket depth is checked: msgspec recurses per level
and raises ``RecursionError`` (a 500) around a thousand levels down. No body of ours
nests more than five deep (an ``/ops`` add with attributes); ``MAX_DEPTH`` leaves room
and stays far from msgspec's limit.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.types import Empty

from ..carts.errors import Invalid

MAX_DEPTH = 32
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class InvalidJSON(Exception):
    """The body is not JSON (or nests deeper than ``MAX_DEPTH``): 400 ``invalid_json``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the arrays and objects of a JSON text nest deeper than ``limit``
    (brackets inside strings do not count; an unclosed run counts as deep).

    A body with at most ``limit`` opening brackets cannot nest deeper: two counts, and
    that is all a usual write costs. Otherwise escapes go, everything but brackets and
    quotes goes, strings (now quote, brackets, quote) go, and the brackets left are
    walked, stopping as soon as the limit is passed."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    if b"\\" in body:
        body = _ESCAPE.sub(b"", body)
    depth = 0
    for step in map(_STEP.__getitem__, _STRING.sub(b"", body.translate(None, _NOT_STRUCTURE))):
        depth += step
        if depth > limit:
            return True
    return False


_AT = re.compile(r" - at `\$\.?([^`]*)`$")
_NAMED = re.compile(r"(?:unknown|required) field `([^`]*)`")


def field_of(message: str) -> str | None:
    """The field a msgspec validation message is about, as a path below the body
    (``variation[0].value``, ``billing_address.x``); None for the body as a whole."""
    at = _AT.search(message)
    parent = at.group(1) if at else ""
    named = _NAMED.search(message)
    if named:
        return f"{parent}.{named.group(1)}" if parent else named.group(1)
    return parent or None


def message_of(message: str) -> str:
    """The message without msgspec's ``- at `$.path``` suffix (``field`` says where)."""
    return _AT.sub("", message)


_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {}


def _decoder(request: Request[Any, Any, Any]) -> msgspec.json.Decoder[Any]:
    handler = request.route_handler
    decoder = _DECODERS.get(handler.handler_id)
    if decoder is None:
        field = handler.parsed_fn_signature.parameters.get("data")
        target = field.annotation if field is not None else Any
        decoder = _DECODERS[handler.handler_id] = msgspec.json.Decoder(target, strict=True)
    return decoder


def decode_body(body: bytes, decoder: msgspec.json.Decoder[Any]) -> Any:
    """The body as the handler's type: 400 ``invalid_json`` or 422 with the field."""
    if too_deep(body):
        raise InvalidJSON(f"The JSON body nests deeper than {MAX_DEPTH} levels.")
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        text = str(exc)
        raise Invalid("invalid_request", message_of(text), field=field_of(text)) from None
    except msgspec.DecodeError as exc:
        raise InvalidJSON(f"The body is not valid JSON: {exc}") from None


class StrictRequest(Request[Any, Any, Any]):
    """Every request of the app: ``json()`` decodes into the handler's ``data`` type."""

    async def json(self) -> Any:
        if self._json is Empty:
            self._json = decode_body(await self.body() or b"null", _decoder(self))
        return self._json


__all__ = ["MAX_DEPTH", "InvalidJSON", "StrictRequest", "field_of", "too_deep"]
