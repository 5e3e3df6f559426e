"""PHP's JSON: an empty associative array is encoded ``[]``, never ``{}``.

CoCart answers ``"purchase_quantity": []``, ``"totals": []`` and the like wherever a PHP
array happens to be empty, so a strict decoder would refuse a perfectly good answer.
``decode`` first walks the parsed JSON along the target type and turns every ``[]``
that stands where an object is expected into ``{}``; then msgspec converts it.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec
from msgspec import inspect

T = TypeVar("T")
_OBJECTS = (inspect.StructType, inspect.DictType, inspect.TypedDictType, inspect.DataclassType)


@cache
def _info(target: Any) -> inspect.Type:
    return inspect.type_info(target)


def _objects_for_empty_arrays(value: Any, info: inspect.Type) -> Any:
    if isinstance(info, inspect.UnionType):
        wants_object = any(isinstance(t, _OBJECTS) for t in info.types)
        wants_array = any(isinstance(t, inspect.ListType) for t in info.types)
        if value == [] and wants_object and not wants_array:
            return {}
        if isinstance(value, dict):
            obj = next((t for t in info.types if isinstance(t, _OBJECTS)), None)
            return value if obj is None else _objects_for_empty_arrays(value, obj)
        if isinstance(value, list):
            arr = next((t for t in info.types if isinstance(t, inspect.ListType)), None)
            return value if arr is None else _objects_for_empty_arrays(value, arr)
        return value
    if isinstance(info, _OBJECTS) and value == []:
        return {}
    if isinstance(info, inspect.StructType) and isinstance(value, dict):
        fields = {f.encode_name: f.type for f in info.fields}
        return {
            k: _objects_for_empty_arrays(v, fields[k]) if k in fields else v
            for k, v in value.items()
        }
    if isinstance(info, inspect.DictType) and isinstance(value, dict):
        return {k: _objects_for_empty_arrays(v, info.value_type) for k, v in value.items()}
    if isinstance(info, inspect.ListType) and isinstance(value, list):
        return [_objects_for_empty_arrays(v, info.item_type) for v in value]
    return value


def decode(body: bytes, target: type[T]) -> T:
    """``body`` as ``target``, PHP's empty arrays read as the objects they stand for."""
    raw = msgspec.json.decode(body)
    info = _info(target)  # type: ignore[arg-type]  # types are hashable
    return msgspec.convert(_objects_for_empty_arrays(raw, info), target)
