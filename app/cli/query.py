"""--query: a JMESPath expression applied to the response before it is printed."""

from __future__ import annotations

import jmespath
from jmespath.exceptions import JMESPathError

from .exit_codes import CliError, UsageError


class QueryError(CliError):
    exit_code = 255


def compile_query(expression: str | None):
    """The compiled expression, or None; a syntax error is a usage error (exit 252)."""
    if expression is None:
        return None
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise UsageError(f"Bad value for --query {expression}: {exc}") from None


def apply_query(compiled, data):
    if compiled is None:
        return data
    try:
        return compiled.search(data)
    except JMESPathError as exc:
        raise QueryError(f"--query {compiled.expression} failed on this response: {exc}") from None
