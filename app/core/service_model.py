"""The Rekognition service model shipped inside botocore: the one source of shapes and limits.

Validation tables, member names and error lists are read from here rather than written by hand,
so a botocore upgrade that changes a limit changes the engine with it. The dicts returned are
the loader's own, shared by every caller: treat them as read-only.
"""

from __future__ import annotations

import functools
import re

from . import extension_model

# The operations the engine implements; everything else in the model is out of scope.
OPERATIONS = (
    "CreateCollection",
    "DeleteCollection",
    "DescribeCollection",
    "ListCollections",
    "IndexFaces",
    "ListFaces",
    "DeleteFaces",
    "CreateUser",
    "DeleteUser",
    "ListUsers",
    "AssociateFaces",
    "DisassociateFaces",
    "SearchUsers",
    "SearchUsersByImage",
    "SearchFaces",
    "SearchFacesByImage",
)


@functools.lru_cache(maxsize=1)
def _model() -> dict:
    # Imported here so that importing this module stays cheap; loading takes ~0.1 s.
    from botocore.loaders import create_loader

    return create_loader().load_service_model("rekognition", "service-2")


def _operation(operation: str) -> dict:
    try:
        return _model()["operations"][operation]
    except KeyError:
        raise KeyError(f"the Rekognition model has no operation {operation!r}") from None


def shape(name: str) -> dict:
    if name in extension_model.SHAPES:
        return extension_model.SHAPES[name]
    try:
        return _model()["shapes"][name]
    except KeyError:
        raise KeyError(f"the Rekognition model has no shape {name!r}") from None


def input_shape(operation: str) -> dict:
    if operation in extension_model.EXTENSIONS:
        return shape(extension_model.input_shape_name(operation))
    return shape(_operation(operation)["input"]["shape"])


def output_shape(operation: str) -> dict | None:
    output = _operation(operation).get("output")
    return shape(output["shape"]) if output else None


def operation_errors(operation: str) -> list[str]:
    return [error["shape"] for error in _operation(operation).get("errors", ())]


def method_name(operation: str) -> str:
    """The boto3-style method name of an operation: AssociateFaces -> associate_faces."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
