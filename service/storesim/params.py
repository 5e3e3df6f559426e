"""WordPress REST argument handling: where parameters come from and how they are coerced.

WordPress merges the query string, a form body and a JSON body (JSON wins), then
validates each registered argument against its schema before the route runs, and
sanitises it (``"1"`` becomes ``1`` for an integer argument).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from .errors import StoreError, invalid_param, missing_params

_INTEGER = re.compile(r"^\s*[+-]?(\d+(\.0*)?|\.0+)\s*$")
_NUMERIC = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


@dataclass(frozen=True, slots=True)
class Arg:
    """One registered argument: its schema type(s), whether required, its default."""

    types: tuple[str, ...]
    required: bool = False
    default: Any = None
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    max_items: int | None = None
    validate: bool = True  # False: sanitised only (add-item's ``id`` on 8.9.1)
    # The schema's own sanitize and validate callbacks (the checkout's addresses): the
    # coerced value in, the sanitised value out; a StoreError when it is not valid.
    check: Callable[[str, Any], Any] | None = None


def php_intval(value: Any) -> int:
    """PHP ``intval``: leading digits of a string, 0 when there are none."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    match = re.match(r"^\s*([+-]?\d+)", str(value))
    return int(match.group(1)) if match else 0


def is_integer(value: Any) -> bool:
    """``rest_is_integer``: numeric and without a fractional part."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and bool(_INTEGER.match(value))


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """The JSON or form parameters of a request body."""
    if not body:
        return {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            parsed = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise StoreError(
                "rest_invalid_json",
                "Invalid JSON body passed.",
                400,
                data={"json_error_code": 4, "json_error_message": "Syntax error"},
                phase="args",
            ) from exc
        return parsed if isinstance(parsed, dict) else {}
    if kind == "application/x-www-form-urlencoded":
        return form_to_params(body.decode("utf-8", "replace"))
    return {}


def form_to_params(query: str) -> dict[str, Any]:
    """PHP's ``parse_str``: ``a[0][b]=1`` becomes ``{"a": [{"b": "1"}]}``."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        path = re.findall(r"[^\[\]]+|\[\]", key)
        if not path:
            continue
        node: Any = result
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if isinstance(node, list):
                index = len(node) if part == "[]" else php_intval(part)
                while len(node) <= index:
                    node.append({} if not last else "")
                if last:
                    node[index] = value
                else:
                    if not isinstance(node[index], dict | list):
                        node[index] = {}
                    node = node[index]
            else:
                if last:
                    node[part] = value
                else:
                    nxt = path[i + 1]
                    if part not in node or not isinstance(node[part], dict | list):
                        node[part] = [] if nxt.isdigit() or nxt == "[]" else {}
                    node = node[part]
    return result


def _type_error(name: str, types: tuple[str, ...]) -> StoreError:
    wanted = ",".join(types)
    message = f"{name} is not of type {wanted}."
    return invalid_param(name, message, "rest_invalid_type", {"param": name})


def _coerce(name: str, value: Any, arg: Arg) -> Any:
    for kind in arg.types:
        if kind == "null" and value is None:
            return None
        if kind == "integer" and is_integer(value):
            number = php_intval(value) if not isinstance(value, float) else int(value)
            if (arg.minimum is not None and number < arg.minimum) or (
                arg.maximum is not None and number > arg.maximum
            ):
                lo, hi = arg.minimum, arg.maximum
                message = f"{name} must be between {lo} (inclusive) and {hi} (inclusive)"
                raise invalid_param(name, message, "rest_out_of_bounds", {"param": name})
            return number
        if (
            kind == "string"
            and isinstance(value, str | int | float)
            and not isinstance(value, bool)
        ):
            if isinstance(value, str):
                if arg.enum and value not in arg.enum:
                    listed = ", ".join(arg.enum[:-1]) + f", and {arg.enum[-1]}"
                    message = f"{name} is not one of {listed}."
                    raise invalid_param(name, message, "rest_not_in_enum", {"param": name})
                return value
            if not arg.enum:
                return str(value)
        if kind == "array" and isinstance(value, list):
            if arg.max_items is not None and len(value) > arg.max_items:
                message = f"{name} must contain at most {arg.max_items} items."
                raise invalid_param(name, message, "rest_too_many_items")
            return value
        if kind == "object" and isinstance(value, dict):
            return value
        if kind == "boolean" and isinstance(value, bool):
            return value
    raise _type_error(name, arg.types)


def resolve(schema: Mapping[str, Arg], params: dict[str, Any]) -> dict[str, Any]:
    """Validate and sanitise ``params`` against a route's ``schema``, as WordPress does."""
    missing = [n for n, a in schema.items() if a.required and params.get(n) is None]
    if missing:
        raise missing_params(*missing)
    resolved = dict(params)
    for name, arg in schema.items():
        if name not in params or (params[name] is None and "null" not in arg.types):
            if arg.default is not None:
                resolved[name] = arg.default
            continue
        if arg.validate:
            resolved[name] = _coerce(name, params[name], arg)
        elif "integer" in arg.types:
            resolved[name] = php_intval(params[name])
        if arg.check is not None:
            resolved[name] = arg.check(name, resolved[name])
    return resolved
