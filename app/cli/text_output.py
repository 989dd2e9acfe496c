"""`--output text`: tab-separated lines, with the aws CLI's rules.

A dict prints its scalar values (sorted by key) on one line, prefixed by the upper-cased name of
the member that holds it; its lists and dicts follow, each under its own member name. In a list
of dicts every element prints the same columns (the scalar keys found in any element, sorted),
with '' for a missing one. A list of scalars prints one "NAME<tab>value" line per item, or one
tab-joined line when it has no name.
"""

from __future__ import annotations


def format_text(data) -> str:
    out: list[str] = []
    _item(data, out, None, None)
    return "".join(out)


def _is_scalar(value) -> bool:
    return not isinstance(value, (dict, list))


def _item(value, out: list[str], name, columns) -> None:
    if isinstance(value, dict):
        _dict(value, out, name, columns)
    elif isinstance(value, list):
        _list(value, out, name)
    else:
        out.append(f"{value}\n")


def _list(items: list, out: list[str], name) -> None:
    if not items:
        return
    if any(isinstance(el, dict) for el in items):
        columns = sorted({k for el in items if isinstance(el, dict) for k, v in el.items() if _is_scalar(v)})
        for element in items:
            _item(element, out, name, columns)
    elif any(isinstance(el, list) for el in items):
        scalars = [el for el in items if _is_scalar(el)]
        if scalars:
            _scalar_list(scalars, out, name)
        for element in items:
            if not _is_scalar(element):
                _item(element, out, name, None)
    else:
        _scalar_list(items, out, name)


def _scalar_list(items: list, out: list[str], name) -> None:
    if name is not None:
        out.extend(f"{name.upper()}\t{item}\n" for item in items)
    else:
        out.append("\t".join(str(item) for item in items) + "\n")


def _dict(value: dict, out: list[str], name, columns) -> None:
    if columns is None:
        ordered = sorted(value.items())
        cells = [str(v) for _k, v in ordered if _is_scalar(v)]
        nested = [(k, v) for k, v in ordered if not _is_scalar(v)]
    else:
        cells = [str(value.get(k, "")) for k in columns]
        nested = [(k, value[k]) for k in sorted(set(value) - set(columns))]
    if cells:
        if name is not None:
            cells.insert(0, name.upper())
        out.append("\t".join(cells) + "\n")
    for key, child in nested:
        _item(child, out, key, None)
