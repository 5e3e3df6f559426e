"""CoCart's route arguments, checked the way WordPress 6.5 checks registered args.

WordPress first lists missing required args, then runs every arg's validation and
reports all failures in one ``rest_invalid_param`` (a schema type error with
``details``; a plain ``false`` from CoCart's own ``rest_validate_quantity_arg`` as
"Invalid parameter." without). Types are strict: ``"id": 10`` is not a string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError, missing_params
from ..params import is_integer, php_intval
from .store import sanitize_key

_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def php_empty(value: Any) -> bool:
    """PHP ``empty()``: ``""``, ``"0"``, ``0``, ``0.0``, ``null``, ``false``, ``[]``."""
    return (
        value is None or value is False or value in ("", "0", 0, 0.0) or value == [] or value == {}
    )


def is_numeric(value: Any) -> bool:
    """PHP ``is_numeric``."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(_NUMERIC.match(value))


def text(value: Any) -> Any:
    """``sanitize_text_field`` / ``wc_clean`` on a scalar: no tags, one-line, trimmed."""
    if isinstance(value, str):
        return _SPACE.sub(" ", _TAGS.sub("", value)).strip()
    return value


def stock_amount(value: Any) -> int:
    """``wc_stock_amount``: a whole quantity (CoCart allows floats; storesim truncates)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return php_intval(value)


def is_boolean(value: Any) -> bool:
    """``rest_is_boolean``."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.lower() in ("false", "true", "0", "1", "")
    return isinstance(value, int) and value in (0, 1)


def to_boolean(value: Any) -> bool:
    """``rest_sanitize_boolean``."""
    if isinstance(value, str):
        return value.lower() not in ("false", "0", "")
    return bool(value)


@dataclass(frozen=True, slots=True)
class Param:
    """One registered arg: ``kind`` is string, boolean, object, integer or quantity."""

    kind: str
    required: bool = False
    default: Any = None
    sanitize: Callable[[Any], Any] | None = None


CART_PARAMS: dict[str, Param] = {
    "cart_key": Param("string", sanitize=sanitize_key),
    "fields": Param("string", sanitize=text),
    "thumb": Param("boolean", default=True),
    "default": Param("boolean", default=False),
}
ITEM_KEY = Param("string", sanitize=text)
ADD_ITEM_PARAMS: dict[str, Param] = {
    **CART_PARAMS,
    "id": Param("string", required=True, sanitize=text),
    "quantity": Param("quantity", required=True, default="1"),
    "variation": Param("object"),
    "item_data": Param("object"),
    "email": Param("string"),
    "phone": Param("string", sanitize=text),
    "price": Param("string"),
    "return_item": Param("boolean", default=False),
}


def _type_error(name: str, kind: str) -> tuple[str, dict[str, Any]]:
    message = f"{name} is not of type {kind}."
    return message, {"code": "rest_invalid_type", "message": message, "data": {"param": name}}


def _check(name: str, value: Any, param: Param) -> tuple[str, dict[str, Any] | None] | None:
    kind = param.kind
    if kind == "string" and not isinstance(value, str):
        return _type_error(name, "string")
    if kind == "boolean" and not is_boolean(value):
        return _type_error(name, "boolean")
    if kind == "integer" and not is_integer(value):
        return _type_error(name, "integer")
    if kind == "object" and not (isinstance(value, dict | list) or value == ""):
        return _type_error(name, "object")
    if kind == "quantity" and not is_numeric(value):
        return "Invalid parameter.", None
    return None


def resolve(schema: Mapping[str, Param], params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` against ``schema`` and return them sanitised, defaults filled."""
    missing = [
        name
        for name, param in schema.items()
        if param.required and params.get(name) is None and param.default is None
    ]
    if missing:
        raise missing_params(*missing)
    invalid: dict[str, str] = {}
    details: dict[str, Any] = {}
    for name, param in schema.items():
        if params.get(name) is None:
            continue
        problem = _check(name, params[name], param)
        if problem is not None:
            invalid[name], detail = problem
            if detail is not None:
                details[name] = detail
    if invalid:
        raise StoreError(
            "rest_invalid_param",
            f"Invalid parameter(s): {', '.join(invalid)}",
            400,
            data={"params": invalid, "details": details or []},
            phase="args",
        )
    resolved = dict(params)
    for name, param in schema.items():
        value = params.get(name)
        if value is None:
            if param.default is not None:
                resolved[name] = param.default
            continue
        if param.kind == "boolean":
            resolved[name] = to_boolean(value)
        elif param.kind == "integer":
            resolved[name] = php_intval(value)
        elif param.sanitize is not None:
            resolved[name] = param.sanitize(value)
    return resolved
