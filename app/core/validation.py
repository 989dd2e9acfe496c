"""Request validation driven by the Rekognition service model (see service_model.py).

Every request is checked against its operation's input shape before the engine touches it:
member names, required members, JSON types, string lengths and patterns, enums, numeric
ranges, list/map/blob sizes. Clients such as boto3 check only some of these (no maximums,
patterns or enums), so the engine does the rest itself.

Checkers are built once per shape and cached; a violation is raised deep in the tree and the
path to it (``FaceIds[3]``, ``Image.Bytes``) is assembled on the way out, so a valid request
pays for no string building.

Messages follow the AWS server style, with the operation name in front and the exact member path:
    AssociateFaces: Value 'X' at 'FaceIds[3]' failed to satisfy constraint: Member must ...

Decisions that are ours, not the model's:
- An optional member given as None (JSON null) counts as absent, as on the AWS JSON wire.
- A too-large ImageBlob (Image.Bytes) raises ImageTooLargeException, as AWS does; every other
  violation raises InvalidParameterException.
- Patterns must match the whole string (the model's patterns are Java regexes applied with
  ``matches()``); Java's ``\\p{..}`` Unicode categories are translated for Python's ``re``.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
import sys
import unicodedata
from collections.abc import Callable

from app.core import extension_model, service_model
from app.core.errors import ImageTooLargeException, InvalidParameterException

# Blob shapes whose maximum maps to a dedicated AWS error instead of InvalidParameterException.
_TOO_LARGE_ERRORS = {"ImageBlob": ImageTooLargeException}

_VALUE_PREVIEW_CHARS = 80

# the AWS operations and our extensions (app.core.extension_model); the server serves only the former
_IN_SCOPE = frozenset(service_model.OPERATIONS) | frozenset(extension_model.EXTENSIONS)

Checker = Callable[[object], None]


class UnknownOperationError(LookupError):
    """The operation is not one the engine serves; the server answers UnknownOperationException."""


class _Violation(Exception):
    """Raised inside checkers; the path is collected innermost-first while it propagates."""

    def __init__(self, value, rule: str, error_class: type = InvalidParameterException, unknown: bool = False):
        super().__init__(rule)
        self.value = value
        self.rule = rule
        self.error_class = error_class
        self.unknown = unknown
        self.path: list[str] = []

    def to_error(self, operation: str) -> Exception:
        path = ""
        for segment in reversed(self.path):
            path += segment if segment.startswith("[") or not path else "." + segment
        if self.unknown:
            message = f"{operation}: Unknown parameter '{path}'; {self.rule}"
        else:
            message = (
                f"{operation}: Value {_preview(self.value)} at '{path}' "
                f"failed to satisfy constraint: {self.rule}"
            )
        return self.error_class(message)


def validate_request(operation: str, params: dict) -> None:
    """Check `params` against `operation`'s input shape; raise a typed error on the first violation."""
    # Membership first: the cache below must not grow with every name a client makes up.
    if not isinstance(operation, str) or operation not in _IN_SCOPE:
        raise UnknownOperationError(
            f"Unknown operation {_preview(operation)}; expected one of: {', '.join(service_model.OPERATIONS)}"
        )
    if not isinstance(params, dict):
        raise InvalidParameterException(
            f"{operation}: Request parameters must be a JSON object (got {_json_type(params)})"
        )
    try:
        _request_checker(operation)(params)
    except _Violation as violation:
        raise violation.to_error(operation) from None


@functools.cache
def _request_checker(operation: str) -> Checker:
    # Input shapes are used by one operation each, so they need no entry in the shape cache.
    return _structure(f"{operation}Request", service_model.input_shape(operation))


@functools.cache
def _checker(shape_name: str) -> Checker:
    # The in-scope shapes are not recursive, so building eagerly through lru_cache terminates.
    shape = service_model.shape(shape_name)
    build = _BUILDERS.get(shape["type"])
    if build is None:
        raise NotImplementedError(f"shape {shape_name} has type {shape['type']!r}, which validation does not handle")
    return build(shape_name, shape)


# --- messages -------------------------------------------------------------------------------


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "blob"
    return type(value).__name__


def _preview(value) -> str:
    """The value as the message shows it: short, and never the content of a blob."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if len(value) > _VALUE_PREVIEW_CHARS:
            value = value[:_VALUE_PREVIEW_CHARS] + "..."
        return "'" + value.replace("\n", "\\n") + "'"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<blob of {_blob_size(value)} bytes>"
    if isinstance(value, (list, tuple)):
        return f"<list of {len(value)} items>"
    if isinstance(value, dict):
        return f"<object with {len(value)} members>"
    if isinstance(value, (int, float)):
        return repr(value)
    return f"<{type(value).__name__}>"


def _type_rule(expected: str, value) -> str:
    return f"Member must be of type {expected} (got {_json_type(value)})"


def _blob_size(value) -> int:
    return value.nbytes if isinstance(value, memoryview) else len(value)


# --- builders, one per model type ------------------------------------------------------------


def _bounds(shape: dict) -> tuple:
    return shape.get("min"), shape.get("max")


def _structure(shape_name: str, shape: dict) -> Checker:
    members = {name: _checker(member["shape"]) for name, member in shape["members"].items()}
    required = tuple(shape.get("required", ()))
    expected = "expected one of: " + ", ".join(members)

    def check_structure(value):
        if not isinstance(value, dict):
            raise _Violation(value, _type_rule("structure", value))
        for name in required:
            if value.get(name) is None:
                violation = _Violation(None, "Member must not be null")
                violation.path.append(name)
                raise violation
        for name, member_value in value.items():
            check = members.get(name)
            if check is None:
                violation = _Violation(member_value, expected, unknown=True)
                violation.path.append(str(name)[:_VALUE_PREVIEW_CHARS])
                raise violation
            if member_value is None:
                continue
            try:
                check(member_value)
            except _Violation as violation:
                violation.path.append(name)
                raise

    return check_structure


def _list(shape_name: str, shape: dict) -> Checker:
    check_item = _checker(shape["member"]["shape"])
    item_shape = service_model.shape(shape["member"]["shape"])
    all_accepted = _strings_accepted(item_shape) if item_shape["type"] == "string" else None
    low, high = _bounds(shape)
    low = low or 0
    high = sys.maxsize if high is None else high

    def check_list(value):
        if type(value) is not list and not isinstance(value, (list, tuple)):
            raise _Violation(value, _type_rule("list", value))
        count = len(value)
        if count < low:
            raise _Violation(value, f"Member must have length greater than or equal to {low}")
        if count > high:
            raise _Violation(value, f"Member must have length less than or equal to {high}")
        if all_accepted is not None and all_accepted(value):
            return
        index = 0
        try:
            for index, item in enumerate(value):  # noqa: B007 - the except clause names the failing item by it
                if item is None:
                    raise _Violation(None, "Member must not be null")
                check_item(item)
        except _Violation as violation:
            violation.path.append(f"[{index}]")
            raise

    return check_list


def _map(shape_name: str, shape: dict) -> Checker:
    check_key = _checker(shape["key"]["shape"])
    check_value = _checker(shape["value"]["shape"])
    low, high = _bounds(shape)
    low = low or 0
    high = sys.maxsize if high is None else high

    def check_map(value):
        if not isinstance(value, dict):
            raise _Violation(value, _type_rule("map", value))
        if len(value) < low:
            raise _Violation(value, f"Member must have length greater than or equal to {low}")
        if len(value) > high:
            raise _Violation(value, f"Member must have length less than or equal to {high}")
        for key, item in value.items():
            try:
                check_key(key)
            except _Violation as violation:
                # AWS reports key failures at the map itself, showing the key as the value.
                raise _Violation(key, f"Map keys must satisfy constraint: [{violation.rule}]") from None
            try:
                if item is None:
                    raise _Violation(None, "Member must not be null")
                check_value(item)
            except _Violation as violation:
                violation.path.append(f"[{key!r}]")
                raise

    return check_map


def _string(shape_name: str, shape: dict) -> Checker:
    low, high = _bounds(shape)
    low = low or 0
    high = sys.maxsize if high is None else high
    enum = frozenset(shape["enum"]) if "enum" in shape else None
    enum_rule = f"Member must satisfy enum value set: [{', '.join(shape.get('enum', ()))}]"
    pattern = shape.get("pattern")
    fullmatch = _fullmatcher(pattern) if pattern is not None else None
    pattern_rule = f"Member must satisfy regular expression pattern: {pattern}"

    def check_string(value):
        if type(value) is not str and not isinstance(value, str):
            raise _Violation(value, _type_rule("string", value))
        length = len(value)
        if length < low:
            raise _Violation(value, f"Member must have length greater than or equal to {low}")
        if length > high:
            raise _Violation(value, f"Member must have length less than or equal to {high}")
        if enum is not None and value not in enum:
            raise _Violation(value, enum_rule)
        if fullmatch is not None and fullmatch(value) is None:
            raise _Violation(value, pattern_rule)

    return check_string


def _strings_accepted(shape: dict) -> Callable[[list], bool]:
    """A bulk test that says True only when every item of a list passes the string shape.

    Lists of ids are the big inputs (100 FaceIds); testing them in one go costs about half as
    much as one call per item. False means "look item by item", which finds the violation.
    """
    low, high = _bounds(shape)
    bounded = low is not None or high is not None
    low = low or 0
    high = sys.maxsize if high is None else high
    enum = frozenset(shape["enum"]) if "enum" in shape else None
    pattern = shape.get("pattern")
    joined_fullmatch = _joined_fullmatcher(pattern) if pattern is not None else None
    item_fullmatch = _fullmatcher(pattern) if pattern is not None and joined_fullmatch is None else None

    def accepted(items) -> bool:
        try:
            text = _SEPARATOR.join(items)
        except TypeError:
            return False
        if bounded and items:
            lengths = list(map(len, items))
            if min(lengths) < low or max(lengths) > high:
                return False
        if enum is not None and not enum.issuperset(items):
            return False
        if joined_fullmatch is not None:
            # An item holding the separator would shift the boundaries; let the slow path judge it.
            if text.count(_SEPARATOR) != len(items) - 1 or joined_fullmatch(text) is None:
                return False
        elif item_fullmatch is not None and not all(map(item_fullmatch, items)):
            return False
        return True

    return accepted


def _integer(shape_name: str, shape: dict) -> Checker:
    low, high = _bounds(shape)

    def check_integer(value):
        if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
            raise _Violation(value, _type_rule("integer", value))
        _check_range(value, low, high)

    return check_integer


def _float(shape_name: str, shape: dict) -> Checker:
    low, high = _bounds(shape)

    def check_float(value):
        kind = type(value)
        if kind is not float and kind is not int:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _Violation(value, _type_rule("number", value))
        if isinstance(value, float) and not math.isfinite(value):
            raise _Violation(value, "Member must be a finite number")
        _check_range(value, low, high)

    return check_float


def _check_range(value, low, high) -> None:
    if low is not None and value < low:
        raise _Violation(value, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        raise _Violation(value, f"Member must have value less than or equal to {high}")


def _boolean(shape_name: str, shape: dict) -> Checker:
    def check_boolean(value):
        if not isinstance(value, bool):
            raise _Violation(value, _type_rule("boolean", value))

    return check_boolean


def _blob(shape_name: str, shape: dict) -> Checker:
    low, high = _bounds(shape)
    low = low or 0
    high = sys.maxsize if high is None else high
    too_large = _TOO_LARGE_ERRORS.get(shape_name, InvalidParameterException)

    def check_blob(value):
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise _Violation(value, _type_rule("blob", value))
        size = _blob_size(value)
        if size < low:
            raise _Violation(value, f"Member must have length greater than or equal to {low} bytes")
        if size > high:
            raise _Violation(value, f"Member must have length less than or equal to {high} bytes", too_large)

    return check_blob


def _timestamp(shape_name: str, shape: dict) -> Checker:
    def check_timestamp(value):
        if isinstance(value, bool) or not isinstance(value, (int, float, datetime.datetime)):
            raise _Violation(value, _type_rule("timestamp", value))
        if isinstance(value, float) and not math.isfinite(value):
            raise _Violation(value, "Member must be a finite number")

    return check_timestamp


_BUILDERS = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "integer": _integer,
    "long": _integer,
    "float": _float,
    "double": _float,
    "boolean": _boolean,
    "blob": _blob,
    "timestamp": _timestamp,
}


# --- patterns --------------------------------------------------------------------------------

_UNICODE_PROPERTY = re.compile(r"\\([pP])\{(?:Is)?([A-Z][a-z]?)\}")


@functools.cache
def _fullmatcher(pattern: str) -> Callable[[str], object]:
    """A whole-string matcher for a model (Java) pattern, compiled once per process."""
    if "\\p" not in pattern and "\\P" not in pattern:
        return re.compile(pattern).fullmatch
    # Translating a Unicode category scans every code point (~0.1 s), so wait until it is used.
    compiled = None

    def fullmatch(value: str):
        nonlocal compiled
        if compiled is None:
            compiled = re.compile(_translate_unicode_properties(pattern))
        return compiled.fullmatch(value)

    return fullmatch


_SEPARATOR = "\x00"
# Escapes that can never match NUL; anything else (\S, \W, \x00, \P{..}, backrefs) is unsafe.
_NUL_FREE_ESCAPES = frozenset("dwsbBAZ") | frozenset("-._:/+@$^[](){}*?|\\")


@functools.cache
def _joined_fullmatcher(pattern: str) -> Callable[[str], object] | None:
    """Whole-string matcher for items joined by NUL, or None when that would not be sound.

    Sound when the pattern cannot match NUL: then each repetition of the pattern in
    ``P(NUL P)*`` lines up with exactly one item. Context-sensitive parts (anchors, lookaround)
    can only make the joined match fail, never succeed wrongly, and failure falls back per item.
    """
    if not _cannot_match_nul(pattern):
        return None
    try:
        return re.compile(f"(?:{pattern})(?:{_SEPARATOR}(?:{pattern}))*").fullmatch
    except re.error:  # e.g. a named group, which may not appear twice
        return None


def _cannot_match_nul(pattern: str) -> bool:
    """Conservative syntactic test: no '.', no negated class, only escapes known not to match NUL."""
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if pattern[i + 1 : i + 2] not in _NUL_FREE_ESCAPES:
                return False
            i += 2
            continue
        if char == _SEPARATOR:
            return False
        if char == "[" and not in_class:
            if pattern.startswith("^", i + 1):
                return False
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == "." and not in_class:
            return False
        i += 1
    return True


def _translate_unicode_properties(pattern: str) -> str:
    """Rewrite Java's \\p{L} / \\P{L} (general categories) as explicit code-point ranges."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            match = _UNICODE_PROPERTY.match(pattern, i)
            if match is None:
                out.append(pattern[i : i + 2])
                i += 2
                continue
            ranges = _category_ranges(match[2])
            if match[1] == "P":
                if in_class:
                    raise ValueError(f"negated Unicode category inside a character class: {pattern}")
                out.append(f"[^{ranges}]")
            else:
                out.append(ranges if in_class else f"[{ranges}]")
            i = match.end()
            continue
        if char == "[":
            if in_class:
                raise ValueError(f"nested character classes are not supported: {pattern}")
            in_class = True
            out.append(char)
            i += 1
            # A ']' straight after '[' or '[^' is a literal in both dialects.
            for literal in ("^", "]"):
                if pattern.startswith(literal, i):
                    out.append(literal)
                    i += 1
            continue
        if char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


@functools.cache
def _category_ranges(category: str) -> str:
    """Character-class body covering every code point whose general category starts with `category`."""
    ranges = [
        f"\\U{start:08X}" if start == last else f"\\U{start:08X}-\\U{last:08X}"
        for start, last, run_category in _category_runs()
        if run_category.startswith(category)
    ]
    if not ranges:
        raise ValueError(f"unknown Unicode general category {category!r}")
    return "".join(ranges)


@functools.lru_cache(maxsize=1)
def _category_runs() -> tuple:
    """(first, last, category) for each run of code points sharing a general category; one scan."""
    runs = []
    start, current = 0, unicodedata.category("\x00")
    for code in range(1, sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if category != current:
            runs.append((start, code - 1, current))
            start, current = code, category
    runs.append((start, sys.maxunicode, current))
    return tuple(runs)
