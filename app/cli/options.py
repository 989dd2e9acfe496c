"""One sub-command per operation, its options built from the operation's input shape.

Every member becomes `--kebab-case` (botocore's name transform, as the aws CLI does); booleans
get `--flag/--no-flag`; lists take one or more values. Operations with an Image member also
take `--image-bytes fileb://photo.jpg`, as the aws CLI's rekognition commands do. Paginated
operations take --starting-token/--page-size/--max-items; their NextToken/MaxResults still work
(undocumented) and turn automatic pagination off, as in the aws CLI.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

from botocore.validate import ParamValidator

from . import model
from .exit_codes import ParamError, ParamValidationError, UsageError
from .global_options import raising_parser
from .param_values import apply_binary_format, load_param_file, parse_argument

SKELETON_KINDS = ("input", "output", "yaml-input")
IMAGE_BYTES = "--image-bytes"
_PAGING = {"--starting-token": ("starting_token", str), "--page-size": ("page_size", int), "--max-items": ("max_items", int)}
_TYPE_NAMES = {str: "string", int: "integer"}
_PAGING_HELP = {
    "--starting-token": "Where to start: the NextToken of a previous truncated output.",
    "--page-size": "Items per service call; the output still holds every item.",
    "--max-items": "The most items to output; a NextToken follows when more remain.",
}


@dataclass
class OperationArgs:
    operation: str
    params: dict  # from the command line options, already converted
    cli_input: dict | None = None  # from --cli-input-json / --cli-input-yaml
    skeleton: str | None = None
    paging: dict = field(default_factory=dict)  # starting_token / page_size / max_items, when given


def _type_label(shape) -> str:
    kind = shape.type_name
    if kind == "list":
        return f"list of {_type_label(shape.member)}"
    return {"structure": "structure", "map": "map", "blob": "blob", "timestamp": "timestamp"}.get(kind, kind)


def add_member_options(parser: argparse.ArgumentParser, shape, hidden=(), optional=()) -> None:
    """One option per member of `shape`: --kebab-case, --flag/--no-flag for booleans, lists take values.

    Members in `hidden` still work but are left out of the help; `optional` members are not
    marked required (the request check after merging --cli-input is what enforces it).
    """
    for name, member in shape.members.items():
        flag = model.cli_name(name)
        required = name in shape.required_members and name not in optional
        doc = model.documentation_summary(member.documentation)
        label = argparse.SUPPRESS if name in hidden else f"({_type_label(member)}{', required' if required else ''}) {doc}"
        if member.type_name == "boolean":
            parser.add_argument(flag, dest=name, action="store_const", const="true", help=label)
            parser.add_argument("--no-" + flag[2:], dest=name, action="store_const", const="false",
                                help=argparse.SUPPRESS if name in hidden else f"(boolean) Sets {name} to false.")
        else:
            parser.add_argument(flag, dest=name, metavar="<value>", nargs="+" if member.type_name == "list" else None,
                                help=label)


def member_values(shape, namespace: argparse.Namespace) -> dict:
    """The request members given as options, converted to their model types."""
    values = vars(namespace)
    return {name: parse_argument(member, values[name], model.cli_name(name))
            for name, member in shape.members.items() if values.get(name) is not None}


def operation_parser(operation: str) -> argparse.ArgumentParser:
    shape = model.input_shape(operation)
    command = model.command_name(operation)
    parser = raising_parser(prog=f"rekurator {command}",
                            description=f"The {operation} operation, with the options of `aws rekognition {command}`.")
    config = model.paginator(operation)
    hidden = {config["input_token"], config.get("limit_key")} if config else set()
    image_hoisted = _hoists_image(shape)
    add_member_options(parser, shape, hidden, optional={"Image"} if image_hoisted else ())
    if image_hoisted:
        parser.add_argument(IMAGE_BYTES, dest="_image_bytes", metavar="<value>",
                            help="(blob) The image content; give a local file as fileb://photo.jpg.")
    if config:
        for flag, (dest, kind) in _PAGING.items():
            if flag == "--page-size" and not config.get("limit_key"):
                continue
            parser.add_argument(flag, dest="_" + dest, metavar="<value>", type=kind,
                                help=f"({_TYPE_NAMES[kind]}) {_PAGING_HELP[flag]}")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--cli-input-json", dest="_cli_input_json", metavar="<value>",
                       help="Request members as JSON (a string or file://path); options given on the line win.")
    group.add_argument("--cli-input-yaml", dest="_cli_input_yaml", metavar="<value>",
                       help="Request members as YAML (a string or file://path); options given on the line win.")
    parser.add_argument("--generate-cli-skeleton", dest="_skeleton", nargs="?", const="input", choices=SKELETON_KINDS,
                        help="Print a request skeleton (input, yaml-input) or a sample response (output) and exit.")
    parser.add_argument("-h", "--help", dest="_help", action="store_true", help=argparse.SUPPRESS)
    return parser


def _hoists_image(shape) -> bool:
    image = shape.members.get("Image")
    return image is not None and image.type_name == "structure" and "Bytes" in image.members


def read_operation_args(operation: str, argv: list[str]) -> OperationArgs:
    parser = operation_parser(operation)
    namespace, unknown = parser.parse_known_args(argv)
    if unknown:
        raise UsageError(f"Unknown options: {', '.join(unknown)}")
    shape = model.input_shape(operation)
    values = vars(namespace)
    result = OperationArgs(operation, member_values(shape, namespace))
    if values.get("_image_bytes") is not None:
        blob = parse_argument(shape.members["Image"].members["Bytes"], values["_image_bytes"], IMAGE_BYTES)
        image = result.params.get("Image")
        result.params["Image"] = {**(image if isinstance(image, dict) else {}), "Bytes": blob}
    for dest, _kind in _PAGING.values():
        if values.get("_" + dest) is not None:
            result.paging[dest] = values["_" + dest]
    for option, dest in (("--cli-input-json", "_cli_input_json"), ("--cli-input-yaml", "_cli_input_yaml")):
        if values.get(dest) is not None:
            result.cli_input = _read_cli_input(option, values[dest])
    result.skeleton = "help" if values.get("_help") else values.get("_skeleton")
    return result


def _read_cli_input(option: str, value: str) -> dict:
    text = load_param_file(value, option)
    if text is None:
        text = value
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ParamError(option, "the input file is not UTF-8 text") from None
    if option == "--cli-input-json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ParamError(option, f"Invalid JSON: {exc}\nJSON received: {text}") from None
    else:
        import yaml  # only YAML input needs it

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ParamError(option, f"Invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ParamError(option, f"the input must be an object of request members, got {type(data).__name__}")
    return data


def assemble_request(args: OperationArgs, binary_format: str) -> dict:
    """Options over --cli-input values, blobs decoded, then checked the way botocore checks clients."""
    shape = model.input_shape(args.operation)
    params = dict(args.params)
    for key, value in (args.cli_input or {}).items():
        params.setdefault(key, value)  # explicit options override the input document
    if args.cli_input is None:
        missing = [n for n in shape.required_members if n not in params]
        if missing:
            raise UsageError("the following arguments are required: " + ", ".join(model.cli_name(n) for n in missing))
    # model order, then anything unknown (which the validator names)
    params = {**{n: params[n] for n in shape.members if n in params}, **params}
    params = apply_binary_format(params, shape, binary_format)
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ParamValidationError("Parameter validation failed:\n" + report.generate_report())
    return params


def usage_help(operation: str) -> str:
    from .global_options import global_options_help

    return operation_parser(operation).format_help() + "\n" + global_options_help()
