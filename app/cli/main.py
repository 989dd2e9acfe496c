"""`rekurator`: the `aws rekognition` command line over the local engine or a remote endpoint.

    rekurator [global options] <command> [options]

Commands: one per engine operation, named and optioned as in `aws rekognition`
(associate-faces, list-faces, ...), plus index-folder, export-report, enroll, serve and the
people-and-groups commands (cluster-faces, suggest-faces, name-group, merge-users, split-user).
Exit codes: see exit_codes.py.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import platform
import sys
import traceback

import app
from app.logs import setup_logging

from . import model
from .exit_codes import (
    CONFIG_ERROR,
    GENERAL_ERROR,
    INTERRUPTED,
    SERVICE_ERROR,
    SUCCESS,
    CliError,
    UsageError,
    service_error_message,
)
from .global_options import USAGE, given_flags, global_parser, ineffective_notes, parse_globals
from .people_commands import PEOPLE_COMMANDS

EXTRA_COMMANDS = {
    "index-folder": "Index every JPEG and PNG under a folder into a collection.",
    "export-report": "Write the versioned JSON report of the workspace's operations journal.",
    "enroll": "Enroll a person from a camera, video file or stream: capture good frames, index, associate.",
    "serve": "Run the local AWS JSON 1.1 endpoint (aws --endpoint-url / boto3 work against it).",
    **{command: text for command, (_op, text, _remote) in PEOPLE_COMMANDS.items()},
}


log = logging.getLogger(__name__)


def version_text() -> str:
    return (f"rekurator {app.__version__} Python/{platform.python_version()} "
            f"{platform.system()}/{platform.release()} exe/{platform.machine()}")


def help_text() -> str:
    lines = [USAGE, "Commands (as `aws rekognition <command>`):"]
    lines += [f"  {command}" for command in model.COMMANDS]
    lines += ["", "Other commands:"]
    lines += [f"  {command:<16}{text}" for command, text in EXTRA_COMMANDS.items()]
    options = global_parser(usage=argparse.SUPPRESS).format_help().strip().split("\n", 1)[1]
    lines += ["", "Global options (before or after the command):", options, ""]
    return "\n".join(lines)


def _invalid_command(command: str) -> UsageError:
    if command == "rekognition":  # typed as `aws rekognition <command>`
        return UsageError(
            "argument command: Invalid choice: 'rekognition'. rekurator is already the `aws rekognition` "
            "command: drop `rekognition`, as in `rekurator list-collections`"
        )
    choices = list(model.COMMANDS) + list(EXTRA_COMMANDS)
    message = f"argument command: Invalid choice: '{command}', valid choices are: {' | '.join(choices)}"
    close = difflib.get_close_matches(command, choices, cutoff=0.8)
    if close:
        suggestions = "\n".join(f"  * {c}" for c in close)
        message += f"\n\nInvalid choice: {command!r}, maybe you meant:\n{suggestions}"
    return UsageError(message)


def _is_config_error(exc: Exception) -> bool:
    """botocore's profile, region and credential errors: the environment is wrong (253)."""
    try:
        from botocore import exceptions
    except ImportError:  # pragma: no cover - botocore is a dependency
        return False
    return isinstance(exc, (exceptions.NoCredentialsError, exceptions.PartialCredentialsError, exceptions.NoRegionError,
                            exceptions.ProfileNotFound, exceptions.ConfigParseError, exceptions.ConfigNotFound))


def main(argv: list[str] | None = None, *, analyzer=None, analyzer_factory=None, remote_backend_factory=None,
         engine_factory=None) -> int:
    """Run one command line; returns the exit code.

    Tests (and embedders) inject what would otherwise be loaded: `analyzer` or
    `analyzer_factory` for the local engine (default: app.vision's default analyzer, loaded
    only when an image is analysed), `remote_backend_factory` for --endpoint-url/--profile/
    --region (default: app.remote.boto3_backend.RemoteBackend), `engine_factory(workspace)`.
    """
    from app.core.errors import RekognitionError, WorkspaceError

    from .session import CliSession

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv in (["--help"], ["-h"]):  # a bare --help asks for the overview, as `aws --help` does
        argv = ["help"]
    stdout, stderr = sys.stdout, sys.stderr
    session = None
    debug = "--debug" in argv
    command = log_path = None
    try:
        namespace, command, rest = parse_globals(argv)
        if namespace.version:
            stdout.write(version_text() + "\n")
            return SUCCESS
        if command == "help":
            stdout.write(help_text())
            return SUCCESS
        if command is None:
            raise UsageError("the following arguments are required: command")
        if command not in model.COMMANDS and command not in EXTRA_COMMANDS:
            raise _invalid_command(command)
        # cli.log in the user log folder; nothing of it reaches stdout or stderr
        log_path = setup_logging("cli")
        log.info("command %s", command)
        session = CliSession(namespace, stdout, stderr, analyzer=analyzer, analyzer_factory=analyzer_factory,
                             remote_backend_factory=remote_backend_factory, engine_factory=engine_factory)
        session.debug.note(version_text())
        session.debug.note(f"Arguments entered to CLI: {argv!r}")
        if command in model.COMMANDS:
            from .operation_command import run_operation

            return run_operation(session, model.COMMANDS[command], rest)
        if command == "serve":
            return _serve(session, rest)
        for note in ineffective_notes(namespace, remote=session.remote, command=command, paginated=False,
                                      blob_input=False, output=session.output.output):
            session.debug.note(note)
        if command == "index-folder":
            from .index_folder import run_index_folder

            return run_index_folder(session, rest)
        if command in PEOPLE_COMMANDS:
            from .people_commands import run_people_command

            return run_people_command(session, command, rest)
        if command == "enroll":
            from .enroll import run_enroll

            return run_enroll(session, rest)
        from .export_report import run_export_report

        return run_export_report(session, rest)
    except UsageError as exc:
        stderr.write(f"{USAGE}\nrekurator: error: {exc.message}\n")
        return exc.exit_code
    except CliError as exc:
        stderr.write(f"\n{exc.message}\n")
        return exc.exit_code
    except RekognitionError as exc:
        if exc.code == "EndpointConnectionError":  # no answer at all: not a service error (aws: 255)
            stderr.write(f"\n{exc.message}\n")
            return GENERAL_ERROR
        operation = session.current_operation if session else None
        stderr.write(service_error_message(exc.code, operation or "unknown", exc.message))
        return SERVICE_ERROR
    except WorkspaceError as exc:
        stderr.write(f"\nThe workspace cannot be used: {exc}\n")
        return CONFIG_ERROR
    except KeyboardInterrupt:
        stdout.write("\n")
        return INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`rekurator list-faces | head`): as the aws CLI, not an error
        _silence_stdout(stdout)
        return SUCCESS
    except Exception as exc:  # the aws CLI's catch-all: report, and 255
        if log_path is not None:  # else logging's last resort would print it on stderr
            log.error("%s failed", command, exc_info=True)
        if debug:
            traceback.print_exc(file=stderr)
        stderr.write(f"\n{exc}\n")
        return CONFIG_ERROR if _is_config_error(exc) else GENERAL_ERROR
    finally:
        if session is not None:
            session.close()


def _silence_stdout(stdout) -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def _serve(session, argv: list[str]) -> int:
    """`rekurator serve ...`: the arguments after `serve` go to the server unchanged."""
    try:
        from app.server.main import serve_main
    except ModuleNotFoundError as exc:
        if exc.name not in ("app.server.main", "app.server"):
            raise
        raise CliError("The local endpoint (app.server) is not available in this installation") from None
    ns = session.namespace
    for flag in given_flags(ns):
        if flag not in ("--workspace", "--debug"):
            session.debug.note(f"{flag} has no effect on serve: give the server's own options after `serve`")
    forwarded = (["--workspace", ns.workspace] if ns.workspace else []) + list(argv)
    return int(serve_main(forwarded) or 0)
