"""A JSON null for an optional member means the member is absent: removed before any handler runs.

AWS's JSON protocols treat `"FaceMatchThreshold": null` like a request without it; handlers that
read `params.get("FaceMatchThreshold", 80)` would otherwise see None. The walk follows the
operation's input shape from the service model, so nested optional members (`Image.Bytes`,
`Image.S3Object.Version`) are covered too. Required members given as null, and nulls inside
lists and maps, stay: validation rejects them with the member's path.

Dicts are copied only along a path that holds a removed null; a request without nulls comes back
as the same object, and the caller's dicts are never changed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from app.core import extension_model, service_model

Dropper = Callable[[object], object]


def drop_null_members(operation: str, params: dict) -> dict:
    """`params` without its null optional members (at any depth); unknown operations pass through."""
    if operation not in service_model.OPERATIONS and operation not in extension_model.EXTENSIONS \
            or not isinstance(params, dict):
        return params
    result = _request_dropper(operation)(params)
    assert isinstance(result, dict)
    return result


@functools.cache
def _request_dropper(operation: str) -> Dropper:
    return _shape_dropper(service_model.input_shape(operation)) or _unchanged


@functools.cache
def _dropper(shape_name: str) -> Dropper | None:
    return _shape_dropper(service_model.shape(shape_name))


def _unchanged(value: object) -> object:
    return value


def _shape_dropper(shape: dict) -> Dropper | None:
    kind = shape["type"]
    if kind == "structure":
        required = frozenset(shape.get("required", ()))
        nested = {}
        for name, member in shape["members"].items():
            member_drop = _dropper(member["shape"])
            if member_drop is not None:
                nested[name] = member_drop
        return _structure_dropper(required, nested)
    if kind == "list":
        item = _dropper(shape["member"]["shape"])
        return _list_dropper(item) if item is not None else None
    if kind == "map":
        item = _dropper(shape["value"]["shape"])
        return _map_dropper(item) if item is not None else None
    return None


def _structure_dropper(required: frozenset[str], nested: dict[str, Dropper]) -> Dropper:
    def drop(value: object) -> object:
        if not isinstance(value, dict):
            return value  # validation names the wrong type
        result = value
        for name, member in value.items():
            if member is None:
                if name in required:
                    continue  # "must not be null", from validation
                new = None
            else:
                member_drop = nested.get(name)
                if member_drop is None:
                    continue
                new = member_drop(member)
                if new is member:
                    continue
            if result is value:
                result = dict(value)
            if new is None:
                del result[name]
            else:
                result[name] = new
        return result

    return drop


def _list_dropper(item_drop: Dropper) -> Dropper:
    def drop(value: object) -> object:
        if not isinstance(value, list):
            return value
        items = [item if item is None else item_drop(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items

    return drop


def _map_dropper(item_drop: Dropper) -> Dropper:
    def drop(value: object) -> object:
        if not isinstance(value, dict):
            return value
        items = {key: item if item is None else item_drop(item) for key, item in value.items()}
        return value if all(items[key] is value[key] for key in value) else items

    return drop
