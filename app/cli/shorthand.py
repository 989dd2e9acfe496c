"""The aws CLI shorthand syntax for structure and map parameters.

    Key=value,Key2=value2            a structure or a map
    Key=a,b,c   or   Key=[a,b,c]     a list value
    Key={Inner=value,Other=1}        a nested structure
    Key="a, quoted value"            quotes keep commas, brackets and '=' (\\" escapes a quote)

Parsing gives nested dicts, lists and strings; `coerce` then converts strings to the member
types the model asks for (integers, floats, booleans) and rejects unknown structure keys.
"""

from __future__ import annotations

import re
from typing import NoReturn

_KEY = re.compile(r"\s*([A-Za-z0-9_.#/:@\-]+)\s*=")


class ShorthandError(ValueError):
    pass


def parse(text: str) -> dict:
    parser = _Parser(text)
    value = parser.parameters()
    if parser.pos != len(text):
        parser.fail("unexpected character")
    return value


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> NoReturn:
        shown = self.text[: self.pos] + " <here> " + self.text[self.pos :]
        raise ShorthandError(f"{what} at position {self.pos + 1}: {shown}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self):
        while self.peek().isspace():
            self.pos += 1

    def key(self) -> str:
        match = _KEY.match(self.text, self.pos)
        if not match:
            self.fail("expected Key=")
        self.pos = match.end()
        return match.group(1)

    def parameters(self, closing: str = "") -> dict:
        """Key=value pairs up to `closing` (or the end); a bare list continues the previous key."""
        result: dict = {}
        while True:
            name = self.key()
            if name in result:
                self.fail(f"duplicate key {name!r}")
            values = [self.value(closing)]
            while self.peek() == ",":
                self.pos += 1
                if _KEY.match(self.text, self.pos):
                    break
                values.append(self.value(closing))  # Key=a,b,c: an implicit list
            else:
                result[name] = values[0] if len(values) == 1 else values
                return result
            result[name] = values[0] if len(values) == 1 else values

    def value(self, closing: str):
        self.skip_spaces()
        char = self.peek()
        if char == "[":
            return self.explicit_list()
        if char == "{":
            self.pos += 1
            self.skip_spaces()
            if self.peek() == "}":
                self.pos += 1
                return {}
            inner = self.parameters("}")
            self.skip_spaces()
            if self.peek() != "}":
                self.fail("expected '}'")
            self.pos += 1
            self.skip_spaces()
            return inner
        if char and char in "\"'":
            return self.quoted()
        return self.bare(closing)

    def explicit_list(self) -> list:
        self.pos += 1
        items: list = []
        self.skip_spaces()
        if self.peek() == "]":
            self.pos += 1
            self.skip_spaces()
            return items
        while True:
            items.append(self.value("]"))
            self.skip_spaces()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "]":
                self.pos += 1
                self.skip_spaces()
                return items
            self.fail("expected ',' or ']'")

    def quoted(self) -> str:
        quote = self.peek()
        self.pos += 1
        out = []
        while True:
            char = self.peek()
            if not char:
                self.fail(f"unterminated {quote}quoted{quote} value")
            self.pos += 1
            if char == "\\" and self.peek() in (quote, "\\"):
                out.append(self.peek())
                self.pos += 1
            elif char == quote:
                self.skip_spaces()
                return "".join(out)
            else:
                out.append(char)

    def bare(self, closing: str) -> str:
        stop = "," + closing + ("]" if closing == "}" else "")
        start = self.pos
        while self.peek() and self.peek() not in stop:
            if self.peek() in "[{":
                self.fail("unexpected bracket in a value (quote the value)")
            self.pos += 1
        return self.text[start : self.pos].strip()


def coerce(value, shape, path: str = ""):
    """Convert parsed shorthand strings to the types of `shape` (a botocore Shape)."""
    kind = shape.type_name
    where = f" for {path}" if path else ""
    if kind == "structure":
        if not isinstance(value, dict):
            raise ShorthandError(f"expected Key=value pairs{where}, got {value!r}")
        out = {}
        for key, item in value.items():
            if key not in shape.members:
                raise ShorthandError(f"Unknown key '{key}', valid choices are: {', '.join(shape.members)}")
            out[key] = coerce(item, shape.members[key], _join(path, key))
        return out
    if kind == "map":
        if not isinstance(value, dict):
            raise ShorthandError(f"expected Key=value pairs{where}, got {value!r}")
        return {key: coerce(item, shape.value, _join(path, key)) for key, item in value.items()}
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [coerce(item, shape.member, f"{path}[{i}]") for i, item in enumerate(items)]
    if isinstance(value, (dict, list)):
        raise ShorthandError(f"expected a single {kind} value{where}, got {value!r}")
    return coerce_scalar(value, kind, where)


def coerce_scalar(text: str, kind: str, where: str = ""):
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        wanted = "an integer" if kind in ("integer", "long") else "a number"
        raise ShorthandError(f"expected {wanted}{where}, got {text!r}") from None
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise ShorthandError(f"expected true or false{where}, got {text!r}")
        return lowered == "true"
    return text


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
