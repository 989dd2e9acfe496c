"""--generate-cli-skeleton: request skeletons and sample responses built from the model.

Placeholders follow botocore's ArgumentGenerator, which the aws CLI uses: strings '' (an enum
shows its first value; ours, botocore picks one at random), integers 0, floats 0.0, booleans
true, lists with one item, maps {"KeyName": ...}, blobs null. The sample response (`output`)
fills strings with the member's name instead and timestamps with 1970-01-01T00:00:00.
The YAML input skeleton carries a comment per member: [REQUIRED] and its documentation.
"""

from __future__ import annotations

import datetime
import json

from .model import documentation_summary


def skeleton(shape, *, member_names: bool = False, name: str = "", _stack: tuple = ()):
    kind = shape.type_name
    if kind == "structure":
        if shape.name in _stack:  # a recursive shape stops at its second appearance
            return {}
        return {member: skeleton(sub, member_names=member_names, name=member, _stack=_stack + (shape.name,))
                for member, sub in shape.members.items()}
    if kind == "list":
        return [skeleton(shape.member, member_names=member_names, name=shape.member.name if member_names else "",
                         _stack=_stack)]
    if kind == "map":
        return {"KeyName": skeleton(shape.value, member_names=member_names, _stack=_stack)}
    if kind == "string":
        if member_names:
            return name
        return shape.enum[0] if shape.enum else ""
    if kind in ("integer", "long"):
        return 0
    if kind in ("float", "double"):
        return 0.0
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return datetime.datetime(1970, 1, 1).isoformat()
    return None  # blob


def input_json(shape) -> str:
    return json.dumps(skeleton(shape), indent=4) + "\n"


def sample_output(shape) -> dict:
    return skeleton(shape, member_names=True) if shape is not None else {}


def input_yaml(shape) -> str:
    """The request skeleton as YAML, one comment per member."""
    lines: list[str] = []
    _yaml_structure(shape, 0, lines, ())
    return "\n".join(lines) + "\n"


def _comment(parent, member: str, sub) -> str:
    parts = []
    if member in parent.required_members:
        parts.append("[REQUIRED]")
    doc = documentation_summary(sub.documentation)
    if doc:
        parts.append(doc)
    if getattr(sub, "enum", None):
        parts.append("Valid values are: " + ", ".join(sub.enum) + ".")
    return ("  # " + " ".join(parts)) if parts else ""


def _scalar_yaml(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "''" if value == "" else value


def _yaml_structure(shape, indent: int, lines: list[str], stack: tuple) -> None:
    pad = " " * indent
    for member, sub in shape.members.items():
        note = _comment(shape, member, sub)
        if sub.type_name == "structure" and sub.name not in stack:
            lines.append(f"{pad}{member}:{note}")
            _yaml_structure(sub, indent + 2, lines, stack + (shape.name,))
        elif sub.type_name in ("list", "map", "structure"):
            lines.append(f"{pad}{member}:{note}")
            _yaml_block(skeleton(sub, _stack=stack + (shape.name,)), indent + 2 if sub.type_name != "list" else indent,
                        lines)
        else:
            lines.append(f"{pad}{member}: {_scalar_yaml(skeleton(sub))}{note}")


def _yaml_block(value, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                sub: list[str] = []
                _yaml_block(item, indent + 2, sub)
                sub[0] = pad + "- " + sub[0].lstrip()
                lines.extend(sub)
            else:
                lines.append(f"{pad}- {_scalar_yaml(item) if not isinstance(item, (dict, list)) else json.dumps(item)}")
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                _yaml_block(item, indent + 2 if isinstance(item, dict) else indent, lines)
            else:
                lines.append(f"{pad}{key}: {_scalar_yaml(item) if not isinstance(item, (dict, list)) else json.dumps(item)}")
