"""The endpoint at the HTTP level: framing, routing, protocol errors, timeouts, never a crash."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import socket
import threading
import time
import uuid

import pytest

from app.core.errors import RekognitionError

from .endpoint_fixtures import running_endpoint

JSON_11 = "application/x-amz-json-1.1"


def post(endpoint, body, target="RekognitionService.ListCollections", headers=None, path="/", connection=None):
    conn = connection or http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    all_headers = {"Content-Type": JSON_11}
    if target is not None:
        all_headers["X-Amz-Target"] = target
    all_headers.update(headers or {})
    conn.request("POST", path, body=body, headers=all_headers)
    response = conn.getresponse()
    payload = response.read()
    if connection is None:
        conn.close()
    return response, payload


def assert_json_error(response, payload, status, code):
    assert response.status == status
    assert response.getheader("Content-Type") == JSON_11
    assert uuid.UUID(response.getheader("x-amzn-RequestId")).version == 4
    assert int(response.getheader("Content-Length")) == len(payload)
    document = json.loads(payload)
    assert document["__type"] == code, document
    assert document["Message"]
    return document["Message"]


def test_success_has_request_id_and_json_content_type(endpoint):
    response, payload = post(endpoint, b"{}")
    assert response.status == 200
    assert response.getheader("Content-Type") == JSON_11
    assert json.loads(payload) == {"CollectionIds": [], "FaceModelVersions": []}
    first = response.getheader("x-amzn-RequestId")
    second = post(endpoint, b"{}")[0].getheader("x-amzn-RequestId")
    assert uuid.UUID(first) != uuid.UUID(second)


def test_empty_body_means_no_parameters(endpoint):
    response, payload = post(endpoint, b"")
    assert response.status == 200 and json.loads(payload)["CollectionIds"] == []


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
    ],
)
def test_malformed_bodies_are_serialization_exceptions(endpoint, body, fragment):
    message = assert_json_error(*post(endpoint, body), 400, "SerializationException")
    assert fragment in message


def test_blob_that_is_not_base64_names_the_member(endpoint):
    endpoint.engine.create_collection(CollectionId="c")
    body = json.dumps({"CollectionId": "c", "Image": {"Bytes": "%%% not base64 %%%"}}).encode()
    message = assert_json_error(*post(endpoint, body, "RekognitionService.IndexFaces"), 400, "SerializationException")
    assert "Image.Bytes" in message


def test_blob_members_are_decoded_from_base64(endpoint):
    from tests.core.fakes import analyzed_face, identity_centres

    endpoint.analyzer.register(b"\x00\x01raw bytes\xff", [analyzed_face(identity_centres(1)[0])])
    endpoint.engine.create_collection(CollectionId="c")
    body = json.dumps({"CollectionId": "c", "Image": {"Bytes": base64.b64encode(b"\x00\x01raw bytes\xff").decode()}})
    response, payload = post(endpoint, body.encode(), "RekognitionService.IndexFaces")
    assert response.status == 200
    assert len(json.loads(payload)["FaceRecords"]) == 1


def test_wrong_json_type_for_a_blob_is_invalid_parameter(endpoint):
    endpoint.engine.create_collection(CollectionId="c")
    body = json.dumps({"CollectionId": "c", "Image": {"Bytes": 12}}).encode()
    message = assert_json_error(*post(endpoint, body, "RekognitionService.IndexFaces"), 400, "InvalidParameterException")
    assert "Image.Bytes" in message


@pytest.mark.parametrize(
    "target, fragment",
    [
        ("RekognitionService.DetectLabels", "DetectLabels"),
        ("RekognitionService.", "not served"),
        ("DynamoDB_20120810.ListTables", "RekognitionService."),
        ("ListCollections", "RekognitionService."),
        (None, "Missing X-Amz-Target"),
    ],
)
def test_unknown_or_missing_target(endpoint, target, fragment):
    message = assert_json_error(*post(endpoint, b"{}", target), 400, "UnknownOperationException")
    assert fragment in message


def test_unknown_member_is_invalid_parameter(endpoint):
    message = assert_json_error(*post(endpoint, b'{"Bogus": 1}'), 400, "InvalidParameterException")
    assert "Bogus" in message


def test_wrong_content_type_is_415(endpoint):
    message = assert_json_error(*post(endpoint, b"{}", headers={"Content-Type": "text/plain"}), 415, "UnsupportedMediaTypeException")
    assert "application/x-amz-json-1.1" in message
    # the other JSON media types are accepted
    assert post(endpoint, b"{}", headers={"Content-Type": "application/json; charset=utf-8"})[0].status == 200


def test_other_paths_are_404(endpoint):
    message = assert_json_error(*post(endpoint, b"{}", path="/2016-06-27/collections"), 404, "NotFoundException")
    assert "POST /" in message


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
def test_other_methods_are_405_json(endpoint, method):
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    conn.request(method, "/")
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    assert_json_error(response, payload, 405, "MethodNotAllowedException")
    assert response.getheader("Allow") == "POST"


def test_head_is_405_without_a_body(endpoint):
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    conn.request("HEAD", "/")
    response = conn.getresponse()
    assert response.status == 405 and response.read() == b""
    conn.close()


def test_unparsable_request_line_is_a_json_400(endpoint):
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1 extra words\r\nHost: x\r\n\r\n")
        reply = _read_all(sock)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["__type"] == "BadRequestException"


def test_oversize_body_is_413_and_the_connection_stays_usable(tmp_path):
    with running_endpoint(tmp_path / "ws", max_body_bytes=1000) as small:
        conn = http.client.HTTPConnection("127.0.0.1", small.port, timeout=10)
        message = assert_json_error(*post(small, b"{" + b" " * 5000 + b"}", connection=conn), 413, "RequestEntityTooLargeException")
        assert "1000" in message and "--max-body-bytes" in message
        response, payload = post(small, b"{}", connection=conn)
        assert response.status == 200
        conn.close()


def test_oversize_body_announced_with_expect_100_is_refused_before_it_is_sent(tmp_path):
    with running_endpoint(tmp_path / "ws", max_body_bytes=1000) as small:
        with socket.create_connection(("127.0.0.1", small.port), timeout=10) as sock:
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
                b"X-Amz-Target: RekognitionService.ListCollections\r\n"
                b"Content-Length: 50000\r\nExpect: 100-continue\r\n\r\n"
            )
            reply = _read_all(sock)
        assert reply.startswith(b"HTTP/1.1 413")
        assert b"100 Continue" not in reply
        assert b"RequestEntityTooLargeException" in reply


def test_chunked_body_is_411(endpoint):
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"X-Amz-Target: RekognitionService.ListCollections\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        )
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 411")
    assert b"LengthRequiredException" in reply


def test_bad_content_length_is_400(endpoint):
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n{}")
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"Content-Length" in reply


def test_unexpected_exception_is_500_without_details_and_logged(tmp_path, caplog):
    class ExplodingAnalyzer:
        model_version = "dlib_resnet_v1+test"

        def analyze(self, image_bytes):
            raise RuntimeError("secret internal detail")

    with running_endpoint(tmp_path / "ws", analyzer=ExplodingAnalyzer()) as broken:
        broken.engine.create_collection(CollectionId="c")
        body = json.dumps({"CollectionId": "c", "Image": {"Bytes": base64.b64encode(b"img").decode()}}).encode()
        with caplog.at_level(logging.ERROR, logger="app.server"):
            response, payload = post(broken, body, "RekognitionService.IndexFaces")
        message = assert_json_error(response, payload, 500, "InternalServerError")
        request_id = response.getheader("x-amzn-RequestId")
        assert request_id in message
        assert "secret" not in payload.decode() and "Traceback" not in payload.decode()
        logged = [r for r in caplog.records if request_id in r.getMessage()]
        assert logged and "secret internal detail" in str(logged[0].exc_info[1])
        # the server carries on
        assert post(broken, b"{}")[0].status == 200


def test_keep_alive_serves_many_requests_on_one_connection(endpoint):
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    for _ in range(20):
        response, _ = post(endpoint, b"{}", connection=conn)
        assert response.status == 200
        assert response.getheader("Connection") != "close"
    conn.close()


def test_stalled_client_is_dropped_and_others_are_served(tmp_path):
    with running_endpoint(tmp_path / "ws", socket_timeout_s=0.3) as ep:
        with socket.create_connection(("127.0.0.1", ep.port), timeout=10) as slow:
            slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # then nothing
            assert post(ep, b"{}")[0].status == 200  # not blocked by the stalled one
            started = time.monotonic()
            assert _read_all(slow) == b""  # closed by the server, without an answer
            assert time.monotonic() - started < 5


def test_an_idle_connection_makes_room_for_a_new_one_at_the_limit(tmp_path):
    # an idle kept-alive connection holds no request: at the connection limit it is closed for a
    # newcomer (a slow or idle client cannot keep others out; see tests/server/test_slow_clients.py)
    with running_endpoint(tmp_path / "ws", max_connections=1) as ep:
        first = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=10)
        assert post(ep, b"{}", connection=first)[0].status == 200  # holds the only slot (keep-alive)
        started = time.monotonic()
        assert post(ep, b"{}")[0].status == 200
        assert time.monotonic() - started < 1.0
        assert _read_all(first.sock) == b""  # the idle one was closed by the server
        first.close()


def test_stop_answers_and_then_refuses(tmp_path):
    with running_endpoint(tmp_path / "ws") as ep:
        conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=10)
        assert post(ep, b"{}", connection=conn)[0].status == 200
        ep.server.stop()
        with pytest.raises(OSError):
            post(ep, b"{}")
        conn.close()


def test_protocol_errors_are_rekognition_errors_with_4xx():
    from app.server import protocol_errors

    classes = [v for v in vars(protocol_errors).values() if isinstance(v, type) and issubclass(v, RekognitionError)]
    assert len(classes) >= 10
    for cls in classes:
        assert cls.code == cls.__name__
        # only the shutdown answer invites a retry
        assert cls.http_status < 500 or cls.code == "ServiceUnavailableException"


def _read_all(sock) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_stop_lets_a_call_in_flight_finish_and_answer(tmp_path):
    release, entered = threading.Event(), threading.Event()

    class SlowAnalyzer:
        model_version = "dlib_resnet_v1+test"

        def analyze(self, image_bytes):
            from app.core.analysis import ImageAnalysis

            entered.set()
            release.wait(10)
            return ImageAnalysis(width=100, height=100, faces=[])

    with running_endpoint(tmp_path / "ws", analyzer=SlowAnalyzer()) as ep:
        ep.engine.create_collection(CollectionId="c")
        body = json.dumps({"CollectionId": "c", "Image": {"Bytes": base64.b64encode(b"img").decode()}}).encode()
        answers = []
        caller = threading.Thread(target=lambda: answers.append(post(ep, body, "RekognitionService.IndexFaces")))
        caller.start()
        assert entered.wait(10)
        stopper = threading.Thread(target=ep.server.stop)
        stopper.start()
        stopper.join(0.3)
        assert stopper.is_alive()  # waiting for the engine call
        release.set()
        stopper.join(10)
        caller.join(10)
        assert not stopper.is_alive()
        response, payload = answers[0]
        assert response.status == 200
        assert json.loads(payload)["FaceRecords"] == []
        assert response.getheader("Connection") == "close"


def test_conflicting_content_lengths_are_refused(endpoint):
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 10\r\n\r\n{}")
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"Conflicting Content-Length" in reply


def test_wrong_path_with_a_body_keeps_the_connection_usable(endpoint):
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    assert post(endpoint, b"{}" + b" " * 100_000, path="/other", connection=conn)[0].status == 404
    assert post(endpoint, b"{}", connection=conn)[0].status == 200
    conn.close()


def test_serve_forever_in_a_caller_thread_is_stopped_by_stop(tmp_path):
    from app.core.engine import Engine
    from app.server.endpoint import EndpointServer

    with Engine(tmp_path / "ws") as engine:
        server = EndpointServer(engine, "127.0.0.1", 0)
        runner = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        runner.start()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/", b"{}", {"X-Amz-Target": "RekognitionService.ListCollections"})
        assert conn.getresponse().status == 200
        server.stop()
        runner.join(5)
        assert not runner.is_alive()
        conn.close()
