"""Endpoint auth and framing details (issue 13.8): signed x-amz-* headers, one X-Amz-Target,
strict Content-Length, tamper-proof NextToken, HTTPS."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .endpoint_fixtures import REGION, TEST_KEY_ID, TEST_SECRET, boto3_client, running_endpoint


def signed_headers_for(url: str, target: str, body: bytes, sign_only=("host", "x-amz-date")) -> dict:
    request = AWSRequest(method="POST", url=url + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target})
    auth = SigV4Auth(Credentials(TEST_KEY_ID, TEST_SECRET), "rekognition", REGION)
    if sign_only is not None:  # a client that signs only some headers, as an attacker's capture would
        original = auth.headers_to_sign

        def fewer(request):
            headers = original(request)
            for name in list(headers.keys()):
                if name.lower() not in sign_only:
                    del headers[name]
            return headers

        auth.headers_to_sign = fewer
    auth.add_auth(request)
    return dict(request.headers.items())


def send(port: int, headers: dict | list, body: bytes) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
    for name, value in (headers.items() if isinstance(headers, dict) else headers):
        conn.putheader(name, value)
    if not any(name.lower() == "content-length" for name, _ in (
            headers.items() if isinstance(headers, dict) else headers)):
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    payload = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, payload


@pytest.fixture
def signed(tmp_path):
    with running_endpoint(tmp_path / "ws", credentials={TEST_KEY_ID: TEST_SECRET}) as ep:
        ep.engine.create_collection(CollectionId="c")
        yield ep


def test_a_target_outside_the_signature_is_refused(signed):
    body = b'{"CollectionId": "c"}'
    headers = signed_headers_for(signed.url, "RekognitionService.DescribeCollection", body)
    headers["X-Amz-Target"] = "RekognitionService.DeleteCollection"  # swapped after signing
    status, error = send(signed.port, headers, body)
    assert status == 400 and error["__type"] == "IncompleteSignatureException"
    assert "x-amz-target" in error["Message"]
    assert signed.engine.list_collections()["CollectionIds"] == ["c"]


def test_every_x_amz_header_present_must_be_signed(signed):
    body = b"{}"
    headers = signed_headers_for(signed.url, "RekognitionService.ListCollections", body,
                                 sign_only=("host", "x-amz-date", "x-amz-target"))
    headers["X-Amz-Security-Token"] = "added later"
    status, error = send(signed.port, headers, body)
    assert status == 400 and "x-amz-security-token" in error["Message"]


def test_a_normally_signed_request_still_works(signed):
    client = boto3_client(signed.url, TEST_KEY_ID, TEST_SECRET)
    assert client.list_collections()["CollectionIds"] == ["c"]


def test_two_target_headers_are_a_400(tmp_path):
    with running_endpoint(tmp_path / "ws") as ep:
        status, error = send(ep.port, [("Host", "x"), ("X-Amz-Target", "RekognitionService.ListCollections"),
                                       ("X-Amz-Target", "RekognitionService.DeleteCollection")], b"{}")
    assert status == 400 and "X-Amz-Target" in error["Message"]


@pytest.mark.parametrize("value", ["+2", " 2x", "2_0", "0x2", "-0", "٢", "1e1", ""])
def test_content_length_must_be_digits_only(tmp_path, value):
    with running_endpoint(tmp_path / "ws") as ep, \
            socket.create_connection(("127.0.0.1", ep.port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: RekognitionService.ListCollections\r\n"
                  b"Content-Length: " + value.encode() + b"\r\n\r\n{}")
        head = s.recv(65536).split(b"\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 400"), head


def test_a_next_token_with_bytes_appended_is_rejected(tmp_path):
    with running_endpoint(tmp_path / "ws") as ep:
        for n in range(3):
            ep.engine.create_collection(CollectionId=f"c{n}")
        token = ep.engine.list_collections(MaxResults=1)["NextToken"]
        assert ep.engine.list_collections(MaxResults=1, NextToken=token)["CollectionIds"] == ["c1"]
        for tampered in (token + "!", token + "%", token + "AA", token[:-1] + chr(ord(token[-1]) ^ 1)):
            status, error = send(ep.port, {"Host": "x", "X-Amz-Target": "RekognitionService.ListCollections"},
                                 json.dumps({"MaxResults": 1, "NextToken": tampered}).encode())
            assert (status, error["__type"]) == (400, "InvalidPaginationTokenException"), tampered


@pytest.fixture
def certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_https_with_tls_cert_and_key(tmp_path, certificate):
    cert, key = certificate
    with running_endpoint(tmp_path / "ws", tls_cert=str(cert), tls_key=str(key)) as ep:
        assert ep.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", ep.port, timeout=10, context=context)
        conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "RekognitionService.ListCollections"})
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read()) == {"CollectionIds": [], "FaceModelVersions": []}
        conn.close()
        # plain HTTP on a TLS port gets no answer
        with socket.create_connection(("127.0.0.1", ep.port), timeout=10) as plain:
            plain.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            plain.settimeout(5)
            try:
                assert b"200" not in plain.recv(65536)
            except (ConnectionResetError, TimeoutError):
                pass


def test_tls_options_must_come_together_and_be_readable(tmp_path, capsys):
    from app.server.main import serve_main

    assert serve_main(["--workspace", str(tmp_path / "ws"), "--tls-cert", str(tmp_path / "c.pem")]) == 252
    assert "--tls-cert and --tls-key" in capsys.readouterr().err
    assert serve_main(["--workspace", str(tmp_path / "ws"), "--port", "0",
                       "--tls-cert", str(tmp_path / "c.pem"), "--tls-key", str(tmp_path / "k.pem")]) == 253
    assert "cannot use the TLS certificate" in capsys.readouterr().err
