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
        self.request_id: str | None = None  # set on errors that came back from a remote endpoint

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"__type": self.code, "Message": self.message}


class InvalidParameterException(RekognitionError):
    code = "InvalidParameterException"


class ResourceNotFoundException(RekognitionError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(RekognitionError):
    code = "ResourceAlreadyExistsException"


class ConflictException(RekognitionError):
    code = "ConflictException"


class IdempotentParameterMismatchException(RekognitionError):
    code = "IdempotentParameterMismatchException"


class InvalidPaginationTokenException(RekognitionError):
    code = "InvalidPaginationTokenException"


class ImageTooLargeException(RekognitionError):
    code = "ImageTooLargeException"


class InvalidImageFormatException(RekognitionError):
    code = "InvalidImageFormatException"


class InvalidS3ObjectException(RekognitionError):
    code = "InvalidS3ObjectException"


class ServiceQuotaExceededException(RekognitionError):
    code = "ServiceQuotaExceededException"


class AccessDeniedException(RekognitionError):
    code = "AccessDeniedException"


class InternalServerError(RekognitionError):
    code = "InternalServerError"
    http_status = 500


class ThrottlingException(RekognitionError):
    code = "ThrottlingException"
    http_status = 500


ERRORS_BY_CODE: dict[str, type[RekognitionError]] = {
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
