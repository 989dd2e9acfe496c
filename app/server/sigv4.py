"""AWS Signature Version 4 verification for header-signed requests.

The server recomputes what the client signed: the canonical request (method, path, query,
the signed headers, the payload hash), the string to sign over the credential scope, and the
HMAC-SHA256 chain from the secret key, then compares signatures in constant time.

Checks, in order, each with the AWS error code a real endpoint gives:
- no Authorization header                              -> MissingAuthenticationTokenException
- malformed header, no date header, host or any x-amz-* header present (X-Amz-Target
  above all) not signed                                 -> IncompleteSignatureException
- access key id not configured                          -> UnrecognizedClientException
- scope (date, region, service, terminator) wrong       -> InvalidSignatureException
- request time more than 5 minutes from the server clock -> InvalidSignatureException
  ("Signature expired: ..." / "Signature not yet current: ...", AWS's wording)
- x-amz-content-sha256 not the body's hash, or signature -> InvalidSignatureException
A session token (x-amz-security-token) is signed like any header but not checked: there is
no STS here. Query-string (presigned) authentication is not supported.

Replay: as on AWS, a signed request can be sent again, unchanged, by anyone who captured it,
until its time is more than 5 minutes from the server clock; nothing here remembers the
signatures already seen. ClientRequestToken makes a replayed AssociateFaces, DisassociateFaces,
CreateUser or DeleteUser return the stored first answer; use HTTPS (--tls-cert/--tls-key) off
loopback so requests cannot be captured.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, unquote

from .protocol_errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
MAX_SKEW_S = 300  # AWS allows 5 minutes either way
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_SPACES = re.compile(r"\s+")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, TERMINATOR)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def canonical_query(query: str) -> str:
    """Pairs sorted by encoded name then value, each re-encoded with AWS's unreserved set."""
    if not query:
        return ""
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((_aws_quote(unquote(name)), _aws_quote(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _aws_quote(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_uri(path: str) -> str:
    # botocore encodes the (already encoded) path once more for every service but S3
    return quote(path or "/", safe="/~")


class SigV4Verifier:
    """Verifies requests against a fixed set of access key pairs for one region and service."""

    def __init__(
        self,
        credentials: Mapping[str, str],
        region: str,
        service: str = "rekognition",
        max_skew_s: float = MAX_SKEW_S,
        clock: Callable[[], float] = time.time,
    ):
        if not credentials:
            raise ValueError("SigV4Verifier needs at least one access key pair")
        self._secrets = dict(credentials)
        self.region = region
        self.service = service
        self.max_skew_s = max_skew_s
        self._clock = clock

    def verify(self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes) -> str:
        """Check one request; return the access key id that signed it, or raise the AWS error.

        `target` is the request target as sent (path and query, still percent-encoded);
        `headers` are all (name, value) pairs, repeated names included.
        """
        header_values: dict[str, list[str]] = {}
        for name, value in headers:
            header_values.setdefault(name.lower(), []).append(value)

        authorizations = header_values.get("authorization")
        if not authorizations:
            raise MissingAuthenticationTokenException("Request is missing Authentication Token")
        if len(authorizations) > 1:
            raise IncompleteSignatureException("Only one Authorization header is allowed")
        access_key, scope_parts, signed_headers, signature = _parse_authorization(authorizations[0])

        amz_date, request_time = _request_time(header_values)

        secret = self._secrets.get(access_key)
        if secret is None:
            raise UnrecognizedClientException("The security token included in the request is invalid.")
        self._check_scope(scope_parts, amz_date)

        if "host" not in signed_headers:
            raise IncompleteSignatureException("'Host' must be a 'SignedHeader' in the AWS Authorization.")
        date_header = "x-amz-date" if "x-amz-date" in header_values else "date"
        if date_header not in signed_headers:
            raise IncompleteSignatureException(f"'{date_header}' must be a 'SignedHeader' in the AWS Authorization.")

        # Every x-amz-* header present must be signed, X-Amz-Target above all: a signature over
        # only host and date would otherwise let anyone who saw the request swap its operation.
        for name in sorted(header_values):
            if name.startswith("x-amz-") and name not in signed_headers:
                raise IncompleteSignatureException(
                    f"'{name}' must be a 'SignedHeader' in the AWS Authorization: "
                    "every x-amz-* header is signed."
                )

        self._check_time(amz_date, request_time)

        payload_hash = hashlib.sha256(body).hexdigest()
        claimed = header_values.get("x-amz-content-sha256")
        if claimed is not None and claimed[0].strip() != payload_hash:
            raise InvalidSignatureException(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )

        canonical_headers = []
        for name in signed_headers:
            values = header_values.get(name)
            if values is None:
                raise InvalidSignatureException(f"Signed header '{name}' is not present in the request.")
            canonical_headers.append(f"{name}:{','.join(_SPACES.sub(' ', v).strip() for v in values)}\n")

        path, _, query = target.partition("?")
        canonical_request = "\n".join(
            (
                method.upper(),
                canonical_uri(path),
                canonical_query(query),
                "".join(canonical_headers),
                ";".join(signed_headers),
                payload_hash,
            )
        )
        scope = "/".join(scope_parts)
        string_to_sign = "\n".join(
            (ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest())
        )
        key = signing_key(secret, *scope_parts[:3])
        expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise InvalidSignatureException(_MISMATCH)
        return access_key

    def _check_scope(self, scope_parts: list[str], amz_date: str) -> None:
        date, region, service, terminator = scope_parts
        if date != amz_date[:8]:
            raise InvalidSignatureException(
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{date}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        if region != self.region:
            raise InvalidSignatureException(
                f"Credential should be scoped to a valid region, not '{region}'. (this endpoint serves '{self.region}')"
            )
        if service != self.service:
            raise InvalidSignatureException(f"Credential should be scoped to correct service: '{self.service}'.")
        if terminator != TERMINATOR:
            raise InvalidSignatureException(
                f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'."
            )

    def _check_time(self, amz_date: str, request_time: float) -> None:
        now = self._clock()
        if request_time < now - self.max_skew_s:
            raise InvalidSignatureException(
                f"Signature expired: {amz_date} is now earlier than {_format(now - self.max_skew_s)} "
                f"({_format(now)} - {self.max_skew_s / 60:g} min.)"
            )
        if request_time > now + self.max_skew_s:
            raise InvalidSignatureException(
                f"Signature not yet current: {amz_date} is still later than {_format(now + self.max_skew_s)} "
                f"({_format(now)} + {self.max_skew_s / 60:g} min.)"
            )


def _parse_authorization(header: str) -> tuple[str, list[str], list[str], str]:
    scheme, _, rest = header.strip().partition(" ")
    if scheme != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported Authorization scheme {scheme[:40]!r}; this endpoint accepts {ALGORITHM} only"
        )
    fields = {}
    for part in rest.split(","):
        name, eq, value = part.strip().partition("=")
        if eq:
            fields[name.strip()] = value.strip()
    for required in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(required):
            raise IncompleteSignatureException(
                f"Authorization header requires '{required}' parameter. Authorization={header[:200]}"
            )
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or not all(credential):
        raise IncompleteSignatureException(
            f"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{fields['Credential'][:200]}'"
        )
    signed_headers = fields["SignedHeaders"].lower().split(";")
    return credential[0], credential[1:], signed_headers, fields["Signature"]


def _request_time(header_values: dict[str, list[str]]) -> tuple[str, float]:
    """The request's signing time as AWS basic ISO-8601 text and as epoch seconds."""
    amz_dates = header_values.get("x-amz-date")
    if amz_dates:
        text = amz_dates[0].strip()
        try:
            moment = datetime.datetime.strptime(text, _DATE_FORMAT).replace(tzinfo=datetime.UTC)
        except ValueError:
            raise IncompleteSignatureException(
                f"X-Amz-Date {text[:40]!r} must be in ISO-8601 basic format: YYYYMMDD'T'HHMMSS'Z'"
            ) from None
        return text, moment.timestamp()
    dates = header_values.get("date")
    if dates:
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(dates[0])
        except (TypeError, ValueError):
            raise IncompleteSignatureException(f"Date header {dates[0][:40]!r} is not an HTTP date") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return _format(moment.timestamp()), moment.timestamp()
    raise IncompleteSignatureException(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


def _format(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime(_DATE_FORMAT)
