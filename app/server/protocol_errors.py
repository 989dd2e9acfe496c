"""Errors the endpoint itself raises, before or around the engine: wire, routing and signing.

They are RekognitionError subclasses carrying their AWS code and HTTP status, so the handler
answers them exactly like the engine's own errors ({"__type": code, "Message": ...}).

Status choices: AWS JSON services answer protocol and signing failures with 400; the few non-400
statuses here are plain HTTP facts (404 path, 405 method, 411/413 body framing, 415 media type).
None is 5xx except ServiceUnavailableException, sent only while the server is shutting down,
which is exactly when an SDK retry is the right reaction.
"""

from __future__ import annotations

from app.core.errors import RekognitionError


def _protocol_error(name: str, status: int, doc: str) -> type[RekognitionError]:
    return type(name, (RekognitionError,), {"code": name, "http_status": status, "__doc__": doc, "__module__": __name__})


SerializationException = _protocol_error("SerializationException", 400, "The body is not a JSON object the model can read.")
UnknownOperationException = _protocol_error("UnknownOperationException", 400, "X-Amz-Target names no served operation.")
MissingAuthenticationTokenException = _protocol_error(
    "MissingAuthenticationTokenException", 400, "No Authorization header where a signature is required."
)
IncompleteSignatureException = _protocol_error(
    "IncompleteSignatureException", 400, "The Authorization header or its date header is malformed."
)
UnrecognizedClientException = _protocol_error("UnrecognizedClientException", 400, "The access key id is not configured.")
InvalidSignatureException = _protocol_error(
    "InvalidSignatureException", 400, "The signature does not match, is out of scope, or is expired."
)
NotFoundException = _protocol_error("NotFoundException", 404, "A path other than '/'.")
MethodNotAllowedException = _protocol_error("MethodNotAllowedException", 405, "A method other than POST.")
LengthRequiredException = _protocol_error(
    "LengthRequiredException", 411, "A body sent without Content-Length (e.g. chunked), which is not supported."
)
RequestEntityTooLargeException = _protocol_error(
    "RequestEntityTooLargeException", 413, "The body is larger than the server's --max-body-bytes."
)
UnsupportedMediaTypeException = _protocol_error(
    "UnsupportedMediaTypeException", 415, "A Content-Type other than the AWS JSON ones."
)
BadRequestException = _protocol_error("BadRequestException", 400, "An HTTP request the server cannot parse.")
ServiceUnavailableException = _protocol_error(
    "ServiceUnavailableException", 503, "The server is shutting down; a retry reaches its successor or fails to connect."
)
