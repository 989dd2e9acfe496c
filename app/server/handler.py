"""One HTTP exchange: POST / with X-Amz-Target -> engine call -> JSON 1.1 answer.

Every answer, success or error, is JSON with Content-Type application/x-amz-json-1.1, a
Content-Length and a fresh x-amzn-RequestId. Nothing a client sends can make the handler
answer with a traceback: unexpected exceptions are logged with the request id and answered
as InternalServerError (500).
"""

from __future__ import annotations

import http
import logging
import re
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from app import __version__
from app.core.errors import AccessDeniedException, InternalServerError, RekognitionError, WorkspaceError
from app.core.validation import UnknownOperationError

from . import wire
from .protocol_errors import (
    BadRequestException,
    LengthRequiredException,
    MethodNotAllowedException,
    NotFoundException,
    RequestEntityTooLargeException,
)

if TYPE_CHECKING:
    from .endpoint import EndpointServer

log = logging.getLogger(__name__)
access_log = logging.getLogger("app.server.access")

# An oversized body is read and thrown away (so the client sees the 413 instead of a reset
# connection, which SDKs would retry) unless it is absurdly large: then the connection is closed.
_DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
_DRAIN_CHUNK = 64 * 1024
_DIGITS = re.compile(r"[0-9]+", re.ASCII)

# A connection's phases; the server's watchdog gives each but BUSY a total deadline.
WAITING = "waiting"  # for a request line and headers (idle, on a kept-alive connection)
BODY = "body"  # headers read, reading the body
BUSY = "busy"  # running the call and writing the answer
EXPIRED = "expired"  # closed by the watchdog


class _ClientGone(Exception):
    """The client closed the connection or stalled past the socket timeout mid-body."""


class EndpointHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: SDK connection pools reuse connections
    # Headers and body are written separately; with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK of the headers on every kept-alive exchange.
    disable_nagle_algorithm = True
    server_version = f"Rekurator/{__version__}"
    sys_version = ""
    server: EndpointServer

    def setup(self):
        # StreamRequestHandler.setup applies this to each socket operation; the server's watchdog
        # adds total deadlines per phase, which a client trickling bytes cannot stretch
        self.timeout = self.server.config.socket_timeout_s
        super().setup()

    def handle_one_request(self):
        if not self.server.set_phase(self.connection, WAITING):
            self.close_connection = True
            return
        super().handle_one_request()

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        # headers complete; a connection the watchdog closed meanwhile has only part of them
        if not self.server.set_phase(self.connection, BODY):
            self.close_connection = True
            return False
        return True

    # -- the one route -------------------------------------------------------------------------
    def do_POST(self):
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        operation, outcome = "-", "OK"
        with self.server.tracking_request():
            try:
                body = self._read_body()  # first: an error answer must not leave a body in the socket
                path = self.path.partition("?")[0]
                if path != "/":
                    raise NotFoundException(f"No resource at {path[:200]!r}; the endpoint serves POST /")
                targets = self.headers.get_all("X-Amz-Target") or []
                if len(targets) > 1:  # which one would the signature, a proxy, the engine mean?
                    raise BadRequestException("More than one X-Amz-Target header; send exactly one")
                if self.server.verifier is not None:
                    self.server.verifier.verify(self.command, self.path, self.headers.items(), body)
                operation = wire.operation_from_target(targets[0] if targets else None)
                wire.check_content_type(self.headers.get("Content-Type"))
                params = wire.decode_request(operation, body)
                result = self.server.call_engine(operation, params)
                status, payload = 200, wire.encode_response(result)
            except _ClientGone:
                self.close_connection = True
                return
            except RekognitionError as error:
                status, payload, outcome = error.http_status, wire.encode_error(error), error.code
            except WorkspaceError as exc:  # a read-only workspace: a refusal, not a server fault
                refusal = AccessDeniedException(str(exc))
                status, payload, outcome = refusal.http_status, wire.encode_error(refusal), refusal.code
            except UnknownOperationError as unknown:
                answer = wire.unknown_operation(unknown)
                status, payload, outcome = answer.http_status, wire.encode_error(answer), answer.code
            except Exception:
                log.exception("request %s (%s) failed", request_id, operation)
                fault = InternalServerError(f"Internal server error; the server log has the details (request {request_id})")
                status, payload, outcome = fault.http_status, wire.encode_error(fault), fault.code
            self._answer(status, payload, request_id)
            access_log.info(
                '%s "%s %s" %s %d %s %.1fms %s',
                self.client_address[0], self.command, self.path[:200], operation, status, outcome,
                (time.perf_counter() - started) * 1000, request_id,
            )

    def _method_not_allowed(self):
        request_id = str(uuid.uuid4())
        self.close_connection = True  # any body was not read
        error = MethodNotAllowedException(f"Method {self.command} is not allowed; the endpoint serves POST /")
        self._answer(error.http_status, wire.encode_error(error), request_id, {"Allow": "POST"})

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _method_not_allowed

    # -- body ------------------------------------------------------------------------------------
    def handle_expect_100(self):
        # Refuse an oversized body before the client sends it.
        try:
            self._declared_length()
        except RekognitionError as error:
            self.close_connection = True
            self._answer(error.http_status, wire.encode_error(error), str(uuid.uuid4()))
            return False
        return super().handle_expect_100()

    def _declared_length(self) -> int:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise LengthRequiredException("Chunked request bodies are not supported; send Content-Length")
        values = self.headers.get_all("Content-Length") or []
        if len(set(values)) > 1:  # ambiguous framing: refuse rather than guess where the body ends
            self.close_connection = True
            raise BadRequestException("Conflicting Content-Length headers")
        if not values:
            return 0
        text = values[0].strip()
        # digits only: int() would also take "+12", " 1_2" or "١٢", which other parsers in a
        # chain (a proxy) read differently: ambiguous framing, refused
        if not _DIGITS.fullmatch(text) or len(text) > 18:
            self.close_connection = True
            raise BadRequestException(f"Content-Length {values[0][:40]!r} is not a byte count")
        length = int(text)
        limit = self.server.config.max_body_bytes
        if length > limit:
            raise RequestEntityTooLargeException(
                f"Request body of {length} bytes exceeds this endpoint's limit of {limit} bytes "
                f"(rekurator serve --max-body-bytes); images may be at most 5242880 bytes"
            )
        return length

    def _read_body(self) -> bytes:
        try:
            length = self._declared_length()
        except RequestEntityTooLargeException:
            self._discard_body()
            raise
        try:
            body = self.rfile.read(length)
        except (TimeoutError, ConnectionError) as exc:
            raise _ClientGone() from exc
        if len(body) != length or not self.server.set_phase(self.connection, BUSY):
            raise _ClientGone()
        return body

    def _discard_body(self) -> None:
        length = int(self.headers["Content-Length"])
        if length > _DRAIN_LIMIT_BYTES:
            self.close_connection = True
            return
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, _DRAIN_CHUNK))
                if not chunk:
                    break
                length -= len(chunk)
        except (TimeoutError, ConnectionError):
            pass
        if length > 0:
            self.close_connection = True

    # -- answers -----------------------------------------------------------------------------
    def _answer(self, status: int, payload: bytes, request_id: str, extra_headers: dict | None = None) -> None:
        if self.server.stopping and not self.close_connection:
            self.close_connection = True  # let keep-alive clients go while the server drains
        self.send_response(status)
        self.send_header("Content-Type", wire.CONTENT_TYPE)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", request_id)
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_error(self, code, message=None, explain=None):
        """The base class's error page for unparsable requests, in the JSON error format."""
        if code == http.HTTPStatus.NOT_IMPLEMENTED:  # an unknown method: not a server fault
            self._method_not_allowed()
            return
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = "Bad Request"
        error = BadRequestException(message or phrase)
        error.code = phrase.title().replace(" ", "").replace("-", "") + "Exception"
        error.http_status = code
        self.close_connection = True
        # An unparsable request line leaves the version at HTTP/0.9, which would suppress the
        # status line and headers; every real client speaks HTTP/1.x and wants them.
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        self._answer(code, wire.encode_error(error), str(uuid.uuid4()))

    def version_string(self):
        return self.server_version

    def log_request(self, code="-", size="-"):
        pass  # do_POST writes one access line with the operation and timing instead

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)
