"""The errors that carry the CLI's exit codes; the codes themselves are in app/exit_codes.py.

    0    success
    1    index-folder and enroll: part of the work failed (the run went on; ours, after
         the aws s3 commands' "one or more transfers failed")
    130  interrupted (Ctrl-C)
    252  the command line was invalid: syntax, unknown option, bad parameter value, a missing
         or unreadable file:// / fileb:// value
    253  the environment or configuration was invalid: workspace, remote profile or credentials
    254  the service (engine or remote endpoint) answered with an error
    255  anything else
"""

from __future__ import annotations

from app.exit_codes import (  # noqa: F401  (re-exported: the CLI's modules import them from here)
    CONFIG_ERROR,
    GENERAL_ERROR,
    INTERRUPTED,
    PARAM_ERROR,
    PARTIAL_FAILURE,
    SERVICE_ERROR,
    SUCCESS,
)


class CliError(Exception):
    """An error the command line reports itself: its message goes to stderr, its code is the exit status."""

    exit_code = GENERAL_ERROR

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UsageError(CliError):
    """The command line could not be parsed; reported under the usage block, like argparse does."""

    exit_code = PARAM_ERROR


class ParamError(CliError):
    """A parameter value could not be read: bad JSON, bad shorthand, bad number."""

    exit_code = PARAM_ERROR

    def __init__(self, cli_name: str, message: str):
        super().__init__(f"Error parsing parameter '{cli_name}': {message}")
        self.cli_name = cli_name


class ParamValidationError(CliError):
    """The assembled request breaks the model's client-side rules (required, type, minimum)."""

    exit_code = PARAM_ERROR


class ConfigurationError(CliError):
    exit_code = CONFIG_ERROR


def service_error_message(code: str, operation: str, message: str) -> str:
    """What the aws CLI prints for an error the service answered with."""
    return f"\nAn error occurred ({code}) when calling the {operation} operation: {message}\n"
