"""The aws CLI global options (plus --workspace), accepted before or after the command.

Each option either changes what rekurator does or, where it cannot apply (a TLS setting with the
local engine, a pager rekurator never starts), `ineffective_notes` says why under --debug.
"""

from __future__ import annotations

import argparse
from typing import Any

from .exit_codes import UsageError

OUTPUT_FORMATS = ("json", "text", "table", "yaml", "yaml-stream", "off")
COLOR_MODES = ("on", "off", "auto")
BINARY_FORMATS = ("base64", "raw-in-base64-out")

# Options that select the remote backend (app.remote) instead of the local workspace engine.
REMOTE_SELECTORS = ("endpoint_url", "profile", "region")
# Options that only shape the remote connection.
REMOTE_ONLY = {
    "verify_ssl": "--no-verify-ssl",
    "ca_bundle": "--ca-bundle",
    "sign_request": "--no-sign-request",
    "cli_read_timeout": "--cli-read-timeout",
    "cli_connect_timeout": "--cli-connect-timeout",
}

USAGE = (
    "usage: rekurator [options] <command> [parameters]\n"
    "To see help text, you can run:\n"
    "\n"
    "  rekurator help\n"
    "  rekurator <command> help\n"
)


class _RaisingParser(argparse.ArgumentParser):
    """argparse reports through UsageError instead of exiting the interpreter."""

    def error(self, message):
        raise UsageError(message)


def raising_parser(**kwargs) -> argparse.ArgumentParser:
    return _RaisingParser(add_help=False, allow_abbrev=False, **kwargs)


def parse_command_args(parser: argparse.ArgumentParser, argv: list[str], stdout):
    """An extra command's options: None after printing help (`help`, -h, --help), else the
    namespace; unknown options are a UsageError, as for the operation commands."""
    if argv[:1] == ["help"] or "-h" in argv or "--help" in argv:
        stdout.write(parser.format_help() + "\n" + global_options_help())
        return None
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        raise UsageError(f"Unknown options: {', '.join(unknown)}")
    return args


# (flag, argparse settings); an entry without "action" takes a value
_GLOBALS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--debug", dict(action="store_true", default=None,
                     help="Write what rekurator does, and why options have no effect, to stderr.")),
    ("--endpoint-url", dict(help="Send the request to this Rekognition-compatible endpoint instead of the local workspace.")),
    ("--no-verify-ssl", dict(dest="verify_ssl", action="store_false", default=None,
                             help="Do not verify the endpoint's TLS certificate (remote endpoints only).")),
    ("--no-paginate", dict(dest="paginate", action="store_false", default=None,
                           help="Make one call only: do not follow NextToken.")),
    ("--output", dict(choices=OUTPUT_FORMATS, help="Output format (default json).")),
    ("--query", dict(help="A JMESPath query applied to the response.")),
    ("--profile", dict(help="Use this AWS profile (selects the remote backend).")),
    ("--region", dict(help="Use this AWS region (selects the remote backend).")),
    ("--version", dict(action="store_true", default=None, help="Print the version and exit.")),
    ("--color", dict(choices=COLOR_MODES, help="Colour table output: on, off or auto (when stdout is a terminal).")),
    ("--no-sign-request", dict(dest="sign_request", action="store_false", default=None,
                               help="Send unsigned requests (remote endpoints only).")),
    ("--ca-bundle", dict(help="CA bundle for verifying TLS certificates (remote endpoints only).")),
    ("--cli-read-timeout", dict(type=int, help="Socket read timeout in seconds, 0 for none (remote endpoints only).")),
    ("--cli-connect-timeout", dict(type=int, help="Socket connect timeout in seconds, 0 for none (remote endpoints only).")),
    ("--cli-binary-format", dict(choices=BINARY_FORMATS,
                                 help="How blob values given as text are read: base64 (default) or raw-in-base64-out.")),
    ("--no-cli-pager", dict(action="store_true", default=None, help="Do not page output (rekurator never does).")),
    ("--cli-auto-prompt", dict(dest="cli_auto_prompt", action="store_const", const=True, default=None,
                               help="Accepted for aws compatibility; rekurator has no interactive prompt.")),
    ("--no-cli-auto-prompt", dict(dest="cli_auto_prompt", action="store_const", const=False,
                                  help="Accepted for aws compatibility; rekurator never prompts.")),
    ("--workspace", dict(help="Workspace folder (default: $REKURATOR_WORKSPACE, else the user data dir).")),
    ("--model-pack", dict(help="Use the insightface model pack in this folder (SCRFD + ArcFace) for new collections "
                               "and image operations (default: $REKURATOR_MODEL_PACK, else the bundled dlib models).")),
)
TAKES_VALUE = frozenset(flag for flag, settings in _GLOBALS if "action" not in settings)


def global_parser(**kwargs) -> argparse.ArgumentParser:
    parser = raising_parser(prog="rekurator", **kwargs)
    for flag, settings in _GLOBALS:
        extra: dict[str, Any] = {} if flag not in TAKES_VALUE or "choices" in settings else {"metavar": "<value>"}
        parser.add_argument(flag, **settings, **extra)
    return parser


def global_options_help() -> str:
    """The global options, for every command's help: a synopsis line and one entry each, as the
    aws CLI's command help lists them (its SYNOPSIS ends with them, then GLOBAL OPTIONS)."""
    import textwrap

    synopsis = " ".join(
        f"[{flag}]" if flag not in TAKES_VALUE else f"[{flag} <value>]" for flag, _ in _GLOBALS
    )
    lines = ["global options (before or after the command, as in the aws CLI):"]
    lines += textwrap.wrap(synopsis, width=78, initial_indent="  ", subsequent_indent="  ",
                           break_on_hyphens=False, break_long_words=False)
    lines.append("")
    options = global_parser(usage=argparse.SUPPRESS).format_help().strip().split("\n", 1)[1]
    lines.append(options.rstrip())
    return "\n".join(lines) + "\n"


def command_position(argv: list[str]) -> int | None:
    """Index of the command word: the first word that is neither a global option nor its value."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return i + 1 if i + 1 < len(argv) else None
        if word.startswith("-"):
            i += 2 if word in TAKES_VALUE else 1
            continue
        return i
    return None


def parse_globals(argv: list[str]) -> tuple[argparse.Namespace, str | None, list[str]]:
    """(global options, command, the command's own arguments).

    Global options are taken from anywhere on the line, as the aws CLI does, except after
    `serve`, whose arguments belong to the server untouched.
    """
    parser = global_parser()
    at = command_position(argv)
    if at is None:
        namespace, rest = parser.parse_known_args(argv)
        if rest:
            raise UsageError(f"Unknown options: {', '.join(rest)}")
        return namespace, None, []
    command = argv[at]
    if command == "serve":
        namespace, rest = parser.parse_known_args(argv[:at])
        if rest:
            raise UsageError(f"Unknown options: {', '.join(rest)}")
        return namespace, command, argv[at + 1 :]
    namespace, rest = parser.parse_known_args(argv[:at] + argv[at + 1 :])
    return namespace, command, rest


def given_flags(namespace: argparse.Namespace) -> list[str]:
    """The global options on the command line, as the user typed their names."""
    flags = []
    for flag, settings in _GLOBALS:
        value = getattr(namespace, settings.get("dest", flag[2:].replace("-", "_")), None)
        action = settings.get("action")
        if value is None or (action == "store_const" and value != settings["const"]):
            continue
        flags.append(flag)
    return flags


def given(namespace: argparse.Namespace, name: str) -> bool:
    return getattr(namespace, name, None) is not None


def uses_remote(namespace: argparse.Namespace) -> bool:
    return any(given(namespace, name) for name in REMOTE_SELECTORS)


def ineffective_notes(namespace: argparse.Namespace, *, remote: bool, command: str, paginated: bool | None,
                      blob_input: bool, output: str) -> list[str]:
    """Why each given option changes nothing for this command (shown under --debug)."""
    notes = []
    if not remote:
        for name, flag in REMOTE_ONLY.items():
            if given(namespace, name):
                notes.append(f"{flag} has no effect on the local engine: it only applies to connections to an "
                             f"--endpoint-url (or to AWS with --profile/--region)")
    elif given(namespace, "workspace"):
        notes.append("--workspace has no effect: the command runs against the remote endpoint, not a local workspace")
    if given(namespace, "no_cli_pager"):
        notes.append("--no-cli-pager changes nothing: rekurator never sends its output through a pager")
    if namespace.cli_auto_prompt is True:
        notes.append("--cli-auto-prompt has no effect: rekurator has no interactive prompt; the command runs as typed")
    elif namespace.cli_auto_prompt is False:
        notes.append("--no-cli-auto-prompt changes nothing: rekurator never prompts")
    if given(namespace, "paginate") and paginated is False:
        notes.append(f"--no-paginate has no effect: {command} is not a paginated operation")
    if given(namespace, "cli_binary_format") and not blob_input:
        notes.append(f"--cli-binary-format has no effect: {command} takes no blob parameter")
    if given(namespace, "color") and output != "table":
        notes.append(f"--color has no effect on --output {output}: only table output is coloured")
    if given(namespace, "query") and output == "off":
        notes.append("--query has no effect with --output off: nothing is printed")
    return notes
