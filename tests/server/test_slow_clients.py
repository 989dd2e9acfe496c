"""Slow and idle clients cannot starve the endpoint (issue 13.3).

Every test talks to 127.0.0.1 only, with a bounded number of connections and bounded waits.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest

from app.core.analysis import ImageAnalysis
from tests.core.fakes import RegisteredAnalyzer

from .endpoint_fixtures import running_endpoint


def list_collections(port: int, timeout: float = 5) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "RekognitionService.ListCollections"})
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        conn.close()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def trickle(sock: socket.socket, stop: threading.Event, every: float) -> None:
    """Send one header line every `every` seconds until stopped or closed (slowloris)."""
    with_lines = 0
    try:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        while not stop.wait(every) and with_lines < 100:
            sock.sendall(b"X-Slow-%d: y\r\n" % with_lines)
            with_lines += 1
    except OSError:
        pass


def test_seventy_trickling_connections_do_not_keep_a_normal_request_out(tmp_path):
    stop = threading.Event()
    sockets, threads = [], []
    with running_endpoint(tmp_path / "ws") as ep:
        try:
            for _ in range(70):
                sock = socket.create_connection(("127.0.0.1", ep.port), timeout=10)
                sockets.append(sock)
                thread = threading.Thread(target=trickle, args=(sock, stop, 0.5), daemon=True)
                thread.start()
                threads.append(thread)
            time.sleep(0.5)
            for _ in range(5):
                status, seconds = list_collections(ep.port)
                assert status == 200 and seconds < 1.0, seconds
        finally:
            stop.set()
            for sock in sockets:
                sock.close()
            for thread in threads:
                thread.join(5)
        assert ep.server.closed_to_make_room > 0


def test_headers_have_a_total_deadline_however_steadily_they_trickle(tmp_path):
    stop = threading.Event()
    with running_endpoint(tmp_path / "ws", header_timeout_s=0.6, socket_timeout_s=30) as ep:
        sock = socket.create_connection(("127.0.0.1", ep.port), timeout=10)
        thread = threading.Thread(target=trickle, args=(sock, stop, 0.1), daemon=True)  # 10 lines/s
        thread.start()
        started = time.monotonic()
        try:
            assert closed_by_server(sock, within=5)
            assert 0.5 < time.monotonic() - started < 3
        finally:
            stop.set()
            thread.join(5)
            sock.close()
        assert ep.server.closed_by_deadline == 1


def test_body_has_a_total_deadline(tmp_path):
    with running_endpoint(tmp_path / "ws", body_timeout_s=0.6, socket_timeout_s=30) as ep:
        with socket.create_connection(("127.0.0.1", ep.port), timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: RekognitionService.ListCollections\r\n"
                         b"Content-Length: 100\r\n\r\n")
            started = time.monotonic()
            for _ in range(30):  # a byte every 0.05 s: never idle long enough for the socket timeout
                try:
                    sock.sendall(b" ")
                except OSError:
                    break
                time.sleep(0.05)
            assert closed_by_server(sock, within=5)
            assert time.monotonic() - started < 3


def test_idle_kept_alive_connection_is_closed_after_the_idle_timeout(tmp_path):
    with running_endpoint(tmp_path / "ws", idle_timeout_s=0.5) as ep:
        conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=10)
        conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "RekognitionService.ListCollections"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Connection") != "close"
        started = time.monotonic()
        assert closed_by_server(conn.sock, within=5)
        assert 0.4 < time.monotonic() - started < 3
        conn.close()


def test_one_address_cannot_take_every_connection(tmp_path):
    with running_endpoint(tmp_path / "ws", max_connections_per_address=3, header_timeout_s=60) as ep:
        idle = [socket.create_connection(("127.0.0.1", ep.port), timeout=10) for _ in range(3)]
        try:
            time.sleep(0.2)
            status, seconds = list_collections(ep.port)  # the 4th from this address: the oldest idle goes
            assert status == 200 and seconds < 1.0
            assert closed_by_server(idle[0], within=2)
            assert not closed_by_server(idle[2], within=0.2)
        finally:
            for sock in idle:
                sock.close()


class BlockingAnalyzer(RegisteredAnalyzer):
    def __init__(self):
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def analyze(self, image_bytes: bytes) -> ImageAnalysis:
        self.entered.set()
        self.release.wait(10)
        return super().analyze(image_bytes)


def test_busy_connections_are_never_closed_to_make_room(tmp_path):
    analyzer = BlockingAnalyzer()
    with running_endpoint(tmp_path / "ws", analyzer=analyzer, max_connections=1) as ep:
        ep.engine.create_collection(CollectionId="c")
        answers = []

        def index():
            conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=20)
            conn.request("POST", "/", body=b'{"CollectionId": "c", "Image": {"Bytes": "eA=="}}',
                         headers={"X-Amz-Target": "RekognitionService.IndexFaces"})
            answers.append(conn.getresponse().status)
            conn.close()

        busy = threading.Thread(target=index)
        busy.start()
        assert analyzer.entered.wait(5)
        second = []
        waiter = threading.Thread(target=lambda: second.append(list_collections(ep.port, timeout=20)))
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive()  # waits in the backlog: the busy request keeps its connection
        analyzer.release.set()
        busy.join(10)
        waiter.join(10)
        assert answers == [400]  # answered (InvalidImageFormat from the fake), not cut off
        assert second and second[0][0] == 200


def test_an_address_whose_connections_are_all_busy_does_not_hold_the_others(tmp_path):
    analyzer = BlockingAnalyzer()
    with running_endpoint(tmp_path / "ws", analyzer=analyzer, max_connections_per_address=1) as ep:
        ep.engine.create_collection(CollectionId="c")

        def index():
            conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=20)
            conn.request("POST", "/", body=b'{"CollectionId": "c", "Image": {"Bytes": "eA=="}}',
                         headers={"X-Amz-Target": "RekognitionService.IndexFaces"})
            conn.getresponse().read()
            conn.close()

        busy = threading.Thread(target=index)
        busy.start()
        try:
            assert analyzer.entered.wait(5)
            with socket.create_connection(("127.0.0.1", ep.port), timeout=5) as same:  # refused at once
                assert closed_by_server(same, within=2)
            try:  # another address is served meanwhile: the accept loop was not held
                other = socket.create_connection(("127.0.0.1", ep.port), timeout=5,
                                                 source_address=("127.0.0.2", 0))
            except OSError:
                pytest.skip("127.0.0.2 is not usable as a source address here")
            with other:
                other.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n"
                              b"X-Amz-Target: RekognitionService.ListCollections\r\n"
                              b"Content-Length: 2\r\n\r\n{}")
                other.settimeout(5)
                assert other.recv(65536).startswith(b"HTTP/1.1 200")
            assert ep.server.refused >= 1
        finally:
            analyzer.release.set()
            busy.join(10)


@pytest.mark.parametrize("name", ["header_timeout_s", "idle_timeout_s", "body_timeout_s"])
def test_deadlines_must_be_positive(name):
    from app.server.endpoint import EndpointConfig

    with pytest.raises(ValueError, match=name):
        EndpointConfig(**{name: 0})
