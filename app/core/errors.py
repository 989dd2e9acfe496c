"""Typed errors carrying the AWS error code.

Adapters translate them: the HTTP endpoint answers `http_status` with
{"__type": code, "Message": message}; the CLI prints them the way the aws CLI does; the GUI
shows the message. Nothing swallows them.
"""

from __future__ import annotations


class RekognitionError(Exception):
    """Base of every error the engine reports to a caller."""

    code = "RekognitionError"
    http_status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"__type": self.code, "Message": self.message}


def _error(name: str, status: int = 400) -> type:
    return type(name, (RekognitionError,), {"code": name, "http_status": status, "__module__": __name__})


InvalidParameterException = _error("InvalidParameterException")
ResourceNotFoundException = _error("ResourceNotFoundException")
ResourceAlreadyExistsException = _error("ResourceAlreadyExistsException")
ConflictException = _error("ConflictException")
IdempotentParameterMismatchException = _error("IdempotentParameterMismatchException")
InvalidPaginationTokenException = _error("InvalidPaginationTokenException")
ImageTooLargeException = _error("ImageTooLargeException")
InvalidImageFormatException = _error("InvalidImageFormatException")
InvalidS3ObjectException = _error("InvalidS3ObjectException")
ServiceQuotaExceededException = _error("ServiceQuotaExceededException")
AccessDeniedException = _error("AccessDeniedException")
InternalServerError = _error("InternalServerError", 500)
ThrottlingException = _error("ThrottlingException", 500)

ERRORS_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidParameterException,
        ResourceNotFoundException,
        ResourceAlreadyExistsException,
        ConflictException,
        IdempotentParameterMismatchException,
        InvalidPaginationTokenException,
        ImageTooLargeException,
        InvalidImageFormatException,
        InvalidS3ObjectException,
        ServiceQuotaExceededException,
        AccessDeniedException,
        InternalServerError,
        ThrottlingException,
    )
}


class WorkspaceError(Exception):
    """The workspace database cannot be used (corrupt, written by a newer schema, not ours).

    Raised before anything is written: the file is left exactly as it was.
    """
