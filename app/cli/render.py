"""Printing responses the way the aws CLI v2 prints them.

- json: 4-space indent, non-ASCII kept, nothing printed for an empty response ({}).
- text / table: see text_output.py and table_output.py; the table's title is the operation name.
- yaml (aws CLI v2 conventions, ours to reproduce with PyYAML since v2 is not on PyPI): block
  style, keys sorted, 2-space indent with list dashes level with their key, Unicode kept,
  timestamps as quoted ISO 8601 strings; nothing for {} (as json).
- yaml-stream: each page of a paginated response, as it arrived, printed as a one-item YAML
  list as soon as it is rendered, so the concatenation is one list of pages; a response that
  is not paginated prints as a one-item list too.
- off: nothing.
Timestamps print in ISO 8601 in the local time zone (the aws CLI v2 default,
cli_timestamp_format=iso8601); blobs print as base64.
--query applies to the merged result, except for text and yaml-stream output of paginated
responses, where the aws CLI applies it to each page.
"""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass

from .pagination import Pages
from .query import apply_query
from .table_output import format_table, terminal_width
from .text_output import format_text


@dataclass
class OutputOptions:
    output: str = "json"
    query: object = None  # a compiled JMESPath expression
    color: str = "auto"


def iso_timestamp(value) -> str:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return datetime.datetime.fromtimestamp(float(value)).astimezone().isoformat()


def convert_timestamps(value, shape):
    """Timestamps (epoch numbers or datetimes) in a response become ISO 8601 strings, per the output shape."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "timestamp" and isinstance(value, (int, float, datetime.datetime)) and not isinstance(value, bool):
        return iso_timestamp(value)
    if kind == "structure" and isinstance(value, dict):
        return {k: convert_timestamps(v, shape.members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [convert_timestamps(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: convert_timestamps(v, shape.value) for k, v in value.items()}
    return value


def _json_default(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("utf-8")
    raise TypeError(f"cannot print a {type(value).__name__} as JSON")


def format_json(data) -> str:
    if data == {}:
        return ""
    return json.dumps(data, indent=4, ensure_ascii=False, default=_json_default) + "\n"


def _plain(value):
    """YAML gets plain types: datetimes as ISO strings, blobs as base64 (as in JSON output)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime.datetime, bytes, bytearray)):
        return _json_default(value)
    return value


def format_yaml(data) -> str:
    if data == {}:
        return ""
    import yaml  # only YAML output needs it

    return yaml.safe_dump(_plain(data), default_flow_style=False, allow_unicode=True, sort_keys=True)


def _colour(options: OutputOptions, stream) -> bool:
    if options.color == "on":
        return True
    if options.color == "off":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def render(title: str, response, options: OutputOptions, stream) -> None:
    """Write `response` (a dict, or Pages from pagination) to `stream` in the chosen format."""
    fmt = options.output
    if fmt == "off":
        return
    paged = isinstance(response, Pages)
    if fmt == "text" and paged:
        for page in response.text_pages():
            stream.write(format_text(apply_query(options.query, page)))
        return
    if fmt == "yaml-stream":
        pages = response.pages if paged else [response]
        for page in pages:
            stream.write(format_yaml([apply_query(options.query, page)]))
            stream.flush()
        return
    data = apply_query(options.query, response.full_result() if paged else response)
    if fmt == "json":
        stream.write(format_json(data))
    elif fmt == "yaml":
        stream.write(format_yaml(data))
    elif fmt == "text":
        stream.write(format_text(data))
    elif fmt == "table":
        stream.write(format_table(title, data, colour=_colour(options, stream), width=terminal_width(stream)))
    else:
        raise ValueError(f"unknown output format {fmt!r}")
