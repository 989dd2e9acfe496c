"""The AWS JSON 1.1 codec: request bodies in, response and error bodies out.

Requests: the body is a JSON object with the model's member names; members whose shape is a blob
arrive as base64 text and are decoded into bytes here, driven by the operation's input shape, so
the engine sees exactly what an in-process caller passes (``Image.Bytes`` as bytes).
Responses: engine dicts are written as compact JSON; bytes go out as base64 and datetimes as epoch
seconds (the engine already uses epoch floats), which is what botocore's JSON parser expects.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import json
from collections.abc import Callable

from app.core import service_model
from app.core.errors import RekognitionError
from app.core.validation import UnknownOperationError

from .protocol_errors import SerializationException, UnknownOperationException, UnsupportedMediaTypeException

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "RekognitionService."
# What AWS JSON services accept; plain application/json lets curl users in without ceremony.
ACCEPTED_CONTENT_TYPES = frozenset({"application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json"})

_SERVED = frozenset(service_model.OPERATIONS)

Decoder = Callable[[object, str], object]


def operation_from_target(target: str | None) -> str:
    """The operation named by an X-Amz-Target header, or UnknownOperationException."""
    if not target:
        raise UnknownOperationException("Missing X-Amz-Target header; expected RekognitionService.<Operation>")
    prefix, dot, operation = target.strip().partition(".")
    if not dot or prefix != TARGET_PREFIX[:-1]:
        raise UnknownOperationException(
            f"X-Amz-Target {target[:120]!r} does not start with {TARGET_PREFIX!r}"
        )
    if operation not in _SERVED:
        raise UnknownOperationException(
            f"Operation {operation[:120]!r} is not served here; expected one of: {', '.join(service_model.OPERATIONS)}"
        )
    return operation


def check_content_type(content_type: str | None) -> None:
    """Accept the AWS JSON media types (parameters such as charset ignored) or no header at all."""
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaTypeException(
            f"Content-Type {content_type[:120]!r} is not supported; send {CONTENT_TYPE}"
        )


def decode_request(operation: str, body: bytes) -> dict:
    """The request parameters for `operation` from a JSON 1.1 body (blobs decoded to bytes)."""
    if not body.strip():
        return {}  # boto3 always sends "{}", but an empty body means the same to AWS
    try:
        document = json.loads(body)
    except RecursionError:
        raise SerializationException("Request body is nested too deeply to be a request") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SerializationException(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SerializationException(f"Request body must be a JSON object, not {type(document).__name__}")
    decode = _request_decoder(operation)
    if decode is None:
        return document
    decoded = decode(document, "")
    assert isinstance(decoded, dict)  # an input shape is a structure: its decoder hands the dict back
    return decoded


def encode_response(result: dict) -> bytes:
    return json.dumps(result, default=_json_default, allow_nan=False, separators=(",", ":")).encode("utf-8")


def encode_error(error: RekognitionError) -> bytes:
    return json.dumps(error.to_dict(), separators=(",", ":")).encode("utf-8")


def unknown_operation(error: UnknownOperationError) -> RekognitionError:
    return UnknownOperationException(str(error))


# --- output ----------------------------------------------------------------------------------


def _json_default(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# --- input: decoders built once per shape, None where a shape holds no blob ---------------------


@functools.cache
def _request_decoder(operation: str) -> Decoder | None:
    return _shape_decoder(service_model.input_shape(operation))


@functools.cache
def _decoder(shape_name: str) -> Decoder | None:
    return _shape_decoder(service_model.shape(shape_name))


def _shape_decoder(shape: dict) -> Decoder | None:
    kind = shape["type"]
    if kind == "blob":
        return _decode_blob
    if kind == "structure":
        members = {}
        for name, member in shape["members"].items():
            decode = _decoder(member["shape"])
            if decode is not None:
                members[name] = decode
        return _structure_decoder(members) if members else None
    if kind == "list":
        decode = _decoder(shape["member"]["shape"])
        return _list_decoder(decode) if decode is not None else None
    if kind == "map":
        decode = _decoder(shape["value"]["shape"])
        return _map_decoder(decode) if decode is not None else None
    return None


def _decode_blob(value, path: str):
    if not isinstance(value, str):
        return value  # validation names the wrong JSON type with the member path
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SerializationException(f"{path or 'body'}: blob member is not valid base64") from None


def _structure_decoder(members: dict[str, Decoder]) -> Decoder:
    def decode(value, path: str):
        if not isinstance(value, dict):
            return value
        for name, decode_member in members.items():
            member = value.get(name)
            if member is not None:
                value[name] = decode_member(member, f"{path}.{name}" if path else name)
        return value

    return decode


def _list_decoder(decode_item: Decoder) -> Decoder:
    def decode(value, path: str):
        if not isinstance(value, list):
            return value
        return [item if item is None else decode_item(item, f"{path}[{i}]") for i, item in enumerate(value)]

    return decode


def _map_decoder(decode_value: Decoder) -> Decoder:
    def decode(value, path: str):
        if not isinstance(value, dict):
            return value
        return {k: v if v is None else decode_value(v, f"{path}[{k!r}]") for k, v in value.items()}

    return decode
