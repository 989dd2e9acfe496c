"""SigV4 verification: AWS's published example, botocore-signed requests, and each rejection."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from app.server.protocol_errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from app.server.sigv4 import SigV4Verifier, canonical_query, signing_key

KEY_ID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def verifier(clock_offset_s: float = 0.0, **kw) -> SigV4Verifier:
    return SigV4Verifier({KEY_ID: SECRET}, kw.pop("region", "us-east-1"), clock=lambda: NOW.timestamp() + clock_offset_s, **kw)


def botocore_signed(monkeypatch, body=b'{"CollectionId":"c"}', url="http://127.0.0.1:8085/", key=KEY_ID, secret=SECRET,
                    region="us-east-1", service="rekognition", at=NOW, extra_headers=None):
    """(method, target, headers, body) of a request as botocore signs it at time `at`."""
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: at.replace(tzinfo=None))
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.CreateCollection"}
    headers.update(extra_headers or {})
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    prepared = request.prepare()
    target = prepared.url.split("8085", 1)[1]
    return "POST", target, list(prepared.headers.items()) + [("Host", "127.0.0.1:8085")], body


def test_signing_key_matches_the_aws_documentation_example():
    # "Examples of how to derive a signing key for Signature Version 4" (AWS General Reference)
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_aws_documented_iam_list_users_example_verifies():
    # The GET ListUsers example of the AWS SigV4 documentation, with its published signature.
    example = SigV4Verifier(
        {KEY_ID: SECRET},
        "us-east-1",
        service="iam",
        clock=lambda: datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.timezone.utc).timestamp(),
    )
    headers = [
        ("Host", "iam.amazonaws.com"),
        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("X-Amz-Date", "20150830T123600Z"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        ),
    ]
    assert example.verify("GET", "/?Action=ListUsers&Version=2010-05-08", headers, b"") == KEY_ID


def test_botocore_signed_requests_verify(monkeypatch):
    assert verifier().verify(*botocore_signed(monkeypatch)) == KEY_ID
    # a query string and odd characters in it are canonicalised the same way on both sides
    signed = botocore_signed(monkeypatch, url="http://127.0.0.1:8085/?b=2&a=%20x&a=1&c~=%2F")
    assert verifier().verify(*signed) == KEY_ID
    # the request time may be up to 5 minutes away from the server clock, either way
    assert verifier(clock_offset_s=290).verify(*botocore_signed(monkeypatch)) == KEY_ID
    assert verifier(clock_offset_s=-290).verify(*botocore_signed(monkeypatch)) == KEY_ID


def test_tampering_with_anything_signed_is_detected(monkeypatch):
    method, target, headers, body = botocore_signed(monkeypatch)
    with pytest.raises(InvalidSignatureException, match="does not match"):
        verifier().verify(method, target, headers, b'{"CollectionId":"d"}')
    swapped = [(n, "RekognitionService.DeleteCollection" if n == "X-Amz-Target" else v) for n, v in headers]
    with pytest.raises(InvalidSignatureException, match="does not match"):
        verifier().verify(method, target, swapped, body)
    with pytest.raises(InvalidSignatureException):
        verifier().verify("PUT", target, headers, body)
    with pytest.raises(InvalidSignatureException):
        verifier().verify(method, "/?x=1", headers, body)


def test_wrong_secret_unknown_key_and_missing_header(monkeypatch):
    with pytest.raises(InvalidSignatureException, match="does not match"):
        verifier().verify(*botocore_signed(monkeypatch, secret="not-the-secret"))
    with pytest.raises(UnrecognizedClientException, match="security token"):
        verifier().verify(*botocore_signed(monkeypatch, key="AKIDUNKNOWN"))
    method, target, headers, body = botocore_signed(monkeypatch)
    unsigned = [(n, v) for n, v in headers if n.lower() != "authorization"]
    with pytest.raises(MissingAuthenticationTokenException):
        verifier().verify(method, target, unsigned, body)


@pytest.mark.parametrize(
    "offset, message",
    [(600, "Signature expired: 20260301T120000Z is now earlier than"), (-600, "Signature not yet current")],
)
def test_request_time_more_than_5_minutes_away_is_rejected(monkeypatch, offset, message):
    with pytest.raises(InvalidSignatureException, match=message):
        verifier(clock_offset_s=offset).verify(*botocore_signed(monkeypatch))


@pytest.mark.parametrize(
    "signed_for, message",
    [
        ({"region": "eu-west-1"}, "valid region, not 'eu-west-1'"),
        ({"service": "s3"}, "correct service: 'rekognition'"),
    ],
)
def test_credential_scope_must_match(monkeypatch, signed_for, message):
    with pytest.raises(InvalidSignatureException, match=message):
        verifier().verify(*botocore_signed(monkeypatch, **signed_for))


def _replace_header(headers, name, value):
    return [(n, value if n.lower() == name.lower() else v) for n, v in headers]


def _authorization(headers) -> str:
    return next(v for n, v in headers if n.lower() == "authorization")


def test_scope_date_must_be_the_request_date(monkeypatch):
    method, target, headers, body = botocore_signed(monkeypatch)
    auth = _authorization(headers).replace("/20260301/", "/20260302/")
    with pytest.raises(InvalidSignatureException, match="Date in Credential scope"):
        verifier().verify(method, target, _replace_header(headers, "Authorization", auth), body)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"), "Unsupported Authorization scheme"),
        (lambda a: "Bearer abc", "Unsupported Authorization scheme"),
        (lambda a: a.split(", Signature=")[0], "requires 'Signature'"),
        (lambda a: a.replace("/aws4_request", ""), "5 slash-delimited"),
        (lambda a: a.replace("SignedHeaders=", "SignedHeaders=x-amz-target;").replace("host;", ""), "'Host' must be"),
    ],
)
def test_malformed_authorization_is_incomplete_signature(monkeypatch, mutate, message):
    method, target, headers, body = botocore_signed(monkeypatch)
    mutated = _replace_header(headers, "Authorization", mutate(_authorization(headers)))
    with pytest.raises(IncompleteSignatureException, match=message):
        verifier().verify(method, target, mutated, body)


def test_date_header_is_required_and_must_be_iso_basic(monkeypatch):
    method, target, headers, body = botocore_signed(monkeypatch)
    without = [(n, v) for n, v in headers if n.lower() != "x-amz-date"]
    with pytest.raises(IncompleteSignatureException, match="X-Amz-Date"):
        verifier().verify(method, target, without, body)
    with pytest.raises(IncompleteSignatureException, match="basic format"):
        verifier().verify(method, target, _replace_header(headers, "X-Amz-Date", "2026-03-01T12:00:00Z"), body)


def test_payload_hash_header_must_match_the_body(monkeypatch):
    good = hashlib.sha256(b'{"CollectionId":"c"}').hexdigest()
    signed = botocore_signed(monkeypatch, extra_headers={"X-Amz-Content-SHA256": good})
    assert verifier().verify(*signed) == KEY_ID
    method, target, headers, body = botocore_signed(monkeypatch, extra_headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    with pytest.raises(InvalidSignatureException, match="x-amz-content-sha256"):
        verifier().verify(method, target, headers, body)


def test_signed_header_missing_from_the_request(monkeypatch):
    method, target, headers, body = botocore_signed(monkeypatch)
    without_target = [(n, v) for n, v in headers if n.lower() != "x-amz-target"]
    with pytest.raises(InvalidSignatureException, match="x-amz-target"):
        verifier().verify(method, target, without_target, body)


def test_canonical_query_sorts_and_reencodes():
    assert canonical_query("b=2&a=%20x&a=1&c~=%2F") == "a=%20x&a=1&b=2&c~=%2F"
    assert canonical_query("") == ""
    assert canonical_query("flag") == "flag="


def test_verifier_needs_credentials():
    with pytest.raises(ValueError):
        SigV4Verifier({}, "us-east-1")
