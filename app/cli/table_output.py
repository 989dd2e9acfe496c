"""`--output table`: the aws CLI's boxed tables, cell for cell.

The response becomes sections: a dict's scalar members form one header row and one value row
(a single scalar member prints as a "Key | value" row), each list or dict member opens a
nested section one level deeper, titled with the member name; a list of dicts prints one row
per element (and a fresh section per element when elements have nested members). All sections
share one width; when that exceeds the terminal, every one-row section is turned into
key/value rows. Widths count East Asian wide and ambiguous characters as two columns.
"""

from __future__ import annotations

import os
import unicodedata

_ANSI_BLUE_BRIGHT = "\x1b[1m\x1b[34m"
_ANSI_YELLOW_DIM = "\x1b[2m\x1b[33m"
_ANSI_RESET = "\x1b[0m"
DEFAULT_TERMINAL_WIDTH = 80


def text_width(text) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in str(text))


def terminal_width(stream) -> int:
    """The terminal's width when `stream` is one, else 80 (what the aws CLI assumes)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return DEFAULT_TERMINAL_WIDTH


class _Section:
    def __init__(self, title: str = "", indent: int = 0):
        self.title = title
        self.indent = indent
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self._columns: int | None = None
        self._widths: list[int] = []

    def add_header(self, headers: list) -> None:
        self._grow(headers)
        if self._columns is None:
            self._columns = len(headers)
        self.headers = list(headers)

    def add_row(self, row: list) -> None:
        if self._columns is None:
            self._columns = len(row)
        if len(row) != self._columns:
            raise ValueError(f"Row should have {self._columns} elements, instead it has {len(row)}")
        row = [str(cell) for cell in row]
        self.rows.append(row)
        self._grow(row)

    def _grow(self, cells: list) -> None:
        if not self._widths:
            self._widths = [text_width(c) for c in cells]
        else:
            for i, cell in enumerate(cells):
                self._widths[i] = max(text_width(cell), self._widths[i])

    def column_widths(self, padding: int = 0, max_width: int | None = None) -> list[int]:
        """Widths padded, then scaled so they add up to exactly max_width."""
        widths = [w + padding for w in self._widths]
        if max_width is None or not widths:
            return widths
        scale = max_width / float(sum(widths))
        scaled = [int(round(scale * w)) for w in widths]
        off_by = sum(scaled) - max_width
        while off_by != 0:
            order = range(len(scaled)) if off_by > 0 else reversed(range(len(scaled)))
            for i in order:
                step = 1 if off_by > 0 else -1
                scaled[i] -= step
                off_by -= step
                if off_by == 0:
                    break
        return scaled

    def total_width(self, padding: int, outer: int) -> int:
        border = 2
        total = sum(w + padding for w in self.column_widths()) + border + 2 * outer
        return max(text_width(self.title) + border + 2 * outer, total)


def _center(text: str, length: int, left: str = "|", right: str = "|", shown: int | None = None) -> str:
    shown = text_width(text) if shown is None else shown
    start = (length // 2) - (shown // 2) - 1
    so_far = text_width(left) + start + shown
    return left + " " * start + text + " " * (length - text_width(right) - so_far) + right


def _align_left(text: str, length: int, left: str, right: str, shown: int, padding: int = 2) -> str:
    if length - (shown + padding + text_width(left) + text_width(right)) < 0:
        padding = 0
    so_far = len(left) + padding + shown
    return left + " " * padding + text + " " * (length - so_far - len(right)) + right


class _Table:
    def __init__(self, colour: bool, width: int):
        self.sections: list[_Section] = []
        self.colour = colour
        self.width = width

    @property
    def current(self) -> _Section:
        return self.sections[-1]

    def new_section(self, title: str, indent: int = 0) -> None:
        self.sections.append(_Section(title, indent))

    def _cell(self, text: str) -> str:
        return f"{_ANSI_BLUE_BRIGHT}{text}{_ANSI_RESET}" if self.colour else text

    def _edge(self) -> str:
        return f"{_ANSI_YELLOW_DIM}|{_ANSI_RESET}" if self.colour else "|"

    def render(self) -> str:
        width = max(s.total_width(padding=4, outer=s.indent) for s in self.sections)
        if width > self.width:
            self.sections = [_vertical(s) for s in self.sections]
            width = max(s.total_width(padding=4, outer=s.indent) for s in self.sections)
        lines = ["-" * width + "\n"]
        for section in self.sections:
            inner = width - 2 * section.indent
            body: list[str] = []
            if section.title:
                body.append(_center(section.title, inner, shown=text_width(section.title)))
                if not section.headers and not section.rows:
                    body.append("+" + "-" * (inner - 2) + "+")
            if section.headers:
                widths = section.column_widths(padding=4, max_width=inner)
                body.append(_rule(widths))
                body.append("".join(_center(h, w, "|" if i == 0 else "", "|", text_width(h))
                                    for i, (w, h) in enumerate(zip(widths, section.headers, strict=False))))
            if section.rows:
                widths = section.column_widths(padding=4, max_width=inner)
                if widths:
                    body.append(_rule(widths))
                    for row in section.rows:
                        body.append("".join(_align_left(self._cell(c), w, "|" if i == 0 else "", "|", text_width(c))
                                            for i, (w, c) in enumerate(zip(widths, row, strict=False))))
                    body.append(_rule(widths))
            edge = self._edge() * section.indent
            lines.extend(f"{edge}{line}{edge}\n" for line in body)
        return "".join(lines)


def _rule(widths: list[int]) -> str:
    return "".join(("+" + "-" * (w - 2) + "+") if i == 0 else ("-" * (w - 1) + "+") for i, w in enumerate(widths))


def _vertical(section: _Section) -> _Section:
    """A one-row section as key/value rows, for narrow terminals."""
    if len(section.rows) != 1 or not section.headers:
        return section
    turned = _Section(section.title, section.indent)
    for header, cell in zip(section.headers, section.rows[0], strict=False):
        turned.add_row([header, cell])
    return turned


def _is_scalar(value) -> bool:
    return not isinstance(value, (list, dict))


def _split_keys(value: dict) -> tuple[list, list]:
    return sorted(k for k in value if _is_scalar(value[k])), sorted(k for k in value if not _is_scalar(value[k]))


def _build(table: _Table, title, value, indent: int = 0) -> bool:
    if not value:
        return False
    if title is not None:
        table.new_section(title, indent)
    if isinstance(value, list):
        if isinstance(value[0], dict):
            _list_of_dicts(table, value, indent, title)
        else:
            for item in value:
                if _is_scalar(item):
                    table.current.add_row([item])
                elif all(_is_scalar(el) for el in item):
                    table.current.add_row(item)
                else:
                    _build(table, None, item)
    if isinstance(value, dict):
        headers, nested = _split_keys(value)
        if len(headers) == 1:
            table.current.add_row([headers[0], value[headers[0]]])
        elif headers:
            table.current.add_header(headers)
            table.current.add_row([value[k] for k in headers])
        for key in nested:
            _build(table, key, value[key], indent + 1)
    return True


def _list_of_dicts(table: _Table, items: list, indent: int, title) -> None:
    headers: set = set()
    nested: set = set()
    for item in items:
        h, n = _split_keys(item)
        headers.update(h)
        nested.update(n)
    headers_sorted, nested_sorted = sorted(headers), sorted(nested)
    table.current.add_header(headers_sorted)
    for i, element in enumerate(items):
        if i and nested_sorted:
            table.new_section(title, indent)
            table.current.add_header(headers_sorted)
        table.current.add_row([element.get(h, "") for h in headers_sorted])
        for key in nested_sorted:
            if key in element:
                _build(table, key, element[key], indent + 1)


def format_table(title: str, data, *, colour: bool = False, width: int = DEFAULT_TERMINAL_WIDTH) -> str:
    """The table for `data` under `title` (the operation name), or '' when there is nothing to show."""
    table = _Table(colour, width)
    if not _build(table, title, data):
        return ""
    return table.render()
