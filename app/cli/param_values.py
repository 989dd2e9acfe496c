"""From option strings to request values, the way the aws CLI reads them.

- `file://path` gives the file's text, `fileb://path` its raw bytes (for blob parameters).
- Scalars convert by type; lists take several values or one JSON list; structures and maps
  take JSON or shorthand (see shorthand.py).
- Blob values given as text are base64 (`--cli-binary-format base64`, the aws CLI v2 default) or
  taken as the text's UTF-8 bytes (`raw-in-base64-out`); fileb:// bytes are always used as they are.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

from . import shorthand
from .exit_codes import ParamError


def _read_param_file(path: str, binary: bool) -> str | bytes:
    if binary:
        with open(path, "rb") as raw_handle:
            return raw_handle.read()
    with open(path, encoding="utf-8") as text_handle:
        return text_handle.read()


def load_param_file(value: str, cli_name: str) -> str | bytes | None:
    """The content named by a file:// or fileb:// value, or None when the value names no file."""
    for prefix, binary in (("fileb://", True), ("file://", False)):
        if value.startswith(prefix):
            path = os.path.expandvars(os.path.expanduser(value[len(prefix) :]))
            try:
                return _read_param_file(path, binary)
            except UnicodeDecodeError:
                raise ParamError(cli_name, f"Unable to load paramfile ({path}), text contents could not be decoded. "
                                           "If this is a binary file, please use the fileb:// prefix instead of the "
                                           "file:// prefix.") from None
            except OSError as exc:
                # a parameter that cannot be read is a parameter error (252), as in aws CLI v2
                reason = exc.strerror or str(exc)
                raise ParamError(cli_name, f"Unable to load paramfile {value}: {reason}: '{path}'") from None
    return None


def parse_argument(shape, raw, cli_name: str):
    """The request value for one option; `raw` is a string, or a list of strings for list shapes."""
    if isinstance(raw, list) and len(raw) == 1:
        loaded = load_param_file(raw[0], cli_name)
        if loaded is not None:
            raw = loaded
    elif isinstance(raw, str):
        loaded = load_param_file(raw, cli_name)
        if loaded is not None:
            raw = loaded
    if isinstance(raw, bytes):
        if shape.type_name == "blob":
            return raw
        raise ParamError(cli_name, "fileb:// gives raw bytes, which only blob parameters take; use file:// for text")
    try:
        return _parse(shape, raw, cli_name)
    except shorthand.ShorthandError as exc:
        raise ParamError(cli_name, str(exc)) from None


def _parse(shape, raw, cli_name: str):
    kind = shape.type_name
    if kind == "list":
        if isinstance(raw, str):  # one value, or a file's text
            raw = [raw]
        if len(raw) == 1 and raw[0].lstrip().startswith("["):
            return parse_json(raw[0], cli_name)
        return [_parse_item(shape.member, item, cli_name) for item in raw]
    if kind in ("structure", "map"):
        return _parse_item(shape, raw, cli_name)
    return _parse_scalar(shape, raw, cli_name)


def _parse_item(shape, text: str, cli_name: str):
    if shape.type_name in ("structure", "map"):
        if text.lstrip().startswith("{"):
            return parse_json(text, cli_name)
        if not text.strip():
            raise ParamError(cli_name, "Invalid JSON:\n" + text)
        return shorthand.coerce(shorthand.parse(text), shape)
    if shape.type_name == "list":
        return _parse(shape, text, cli_name)
    return _parse_scalar(shape, text, cli_name)


def _parse_scalar(shape, text: str, cli_name: str):
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError as exc:
        raise ParamError(cli_name, str(exc)) from None
    if kind == "boolean":
        return text.lower() != "false"
    return text


def parse_json(text: str, cli_name: str):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ParamError(cli_name, f"Invalid JSON: {exc}\nJSON received: {text}") from None


def apply_binary_format(params: dict, shape, binary_format: str) -> dict:
    """Turn text given for blob members into bytes, per --cli-binary-format; bytes stay as they are."""
    return _blobs(params, shape, binary_format, "")


def _looks_like_a_file(text: str) -> bool:
    if len(text) > 4096 or "\n" in text:
        return False
    image_suffixes = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
    return os.path.splitext(text)[1].lower() in image_suffixes or os.path.isfile(os.path.expanduser(text))


def _blobs(value, shape, binary_format: str, path: str):
    kind = shape.type_name
    if kind == "blob" and isinstance(value, str):
        if binary_format == "raw-in-base64-out":
            return value.encode("utf-8")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            message = f'Invalid base64: "{value[:80]}"'
            if _looks_like_a_file(value):
                message += f"; to send the bytes of a file, name it with fileb://, as in fileb://{value[:200]}"
            raise ParamError(path or "blob", message) from None
    if kind == "structure" and isinstance(value, dict):
        return {k: _blobs(v, shape.members[k], binary_format, _member_path(path, k)) if k in shape.members else v
                for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_blobs(v, shape.member, binary_format, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {k: _blobs(v, shape.value, binary_format, f"{path}[{k!r}]") for k, v in value.items()}
    return value


def _member_path(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def has_blob(shape, _seen=None) -> bool:
    seen = _seen if _seen is not None else set()
    if shape.name in seen:
        return False
    seen.add(shape.name)
    if shape.type_name == "blob":
        return True
    if shape.type_name == "structure":
        return any(has_blob(m, seen) for m in shape.members.values())
    if shape.type_name == "list":
        return has_blob(shape.member, seen)
    if shape.type_name == "map":
        return has_blob(shape.value, seen)
    return False
