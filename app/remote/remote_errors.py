"""botocore failures turned into the engine's typed errors, so callers catch one family.

A ClientError whose code the engine defines becomes that very class (ResourceNotFoundException
from AWS or from another Rekurator is the same type as the local one). Other codes (signing
errors, AccessDeniedException variants, future codes) become RemoteServiceError carrying the
code, the message and the HTTP status. Failing to reach the endpoint at all is
EndpointUnreachableError.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from app.core.errors import ERRORS_BY_CODE, RekognitionError


class RemoteServiceError(RekognitionError):
    """An error code the engine has no class for; `code` and `http_status` are the remote's."""

    request_id: str | None = None

    def __init__(self, code: str, message: str, http_status: int = 400):
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class EndpointUnreachableError(RekognitionError):
    """No HTTP answer: connection refused or reset, DNS failure, timeout (after botocore's retries)."""

    code = "EndpointConnectionError"
    # what a gateway answers when its upstream is unreachable, should this ever be relayed over HTTP
    http_status = 502


class RemoteConfigurationError(ValueError):
    """The backend cannot be set up as asked: unknown profile, missing credentials, bad option."""


def error_from_client_error(exc: ClientError) -> RekognitionError:
    error = exc.response.get("Error") or {}
    metadata = exc.response.get("ResponseMetadata") or {}
    code = error.get("Code") or "UnknownError"
    message = error.get("Message") or str(exc)
    status = metadata.get("HTTPStatusCode") or 400
    known = ERRORS_BY_CODE.get(code)
    typed = known(message) if known is not None else RemoteServiceError(code, message, status)
    typed.request_id = metadata.get("RequestId")
    return typed
