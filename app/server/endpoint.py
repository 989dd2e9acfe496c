"""The endpoint server: a threaded HTTP server in front of one shared Engine.

Threads:
- the accept loop (serve_forever, run by `start()` in a daemon thread);
- one daemon thread per open connection, parsing HTTP and writing answers; at most
  `max_connections` at once, further connections wait in the listen backlog;
- a fixed pool of `workers` threads that run the engine calls. The store keeps one SQLite
  connection per thread for the thread's whole life, so engine work must stay on a bounded set
  of long-lived threads rather than on the per-connection ones, which come and go.

`stop()` stops accepting, lets engine calls in flight finish and their answers go out, then
closes the socket. The engine belongs to the caller, who closes it afterwards.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import logging
import socket
import socketserver
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Mapping

from app.vision import image_memory

from .handler import EndpointHandler
from .protocol_errors import ServiceUnavailableException
from .sigv4 import SigV4Verifier

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8085
DEFAULT_REGION = "us-east-1"
# A 5 MiB image is 7 MiB as base64; 8 MiB leaves room for the rest of the JSON.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class EndpointConfig:
    region: str = DEFAULT_REGION
    # access key id -> secret; empty: unsigned requests are accepted (and signatures not checked)
    credentials: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    socket_timeout_s: float = 30.0
    workers: int = 8
    max_connections: int = 64
    drain_timeout_s: float = 10.0

    def __post_init__(self):
        for name in ("max_body_bytes", "workers", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.socket_timeout_s <= 0:
            raise ValueError(f"socket_timeout_s must be positive, got {self.socket_timeout_s}")


def is_loopback(host: str) -> bool:
    """True when every address `host` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


class EndpointServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # connection threads are daemons; stop() drains the engine calls instead
    request_queue_size = 128

    def __init__(self, engine, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, config: EndpointConfig | None = None):
        self.engine = engine
        self.config = config or EndpointConfig()
        self.verifier = SigV4Verifier(self.config.credentials, self.config.region) if self.config.credentials else None
        self.address_family = _address_family(host, port)
        self._slots = threading.BoundedSemaphore(self.config.max_connections)
        self._stopping = threading.Event()
        self._active = 0
        self._active_changed = threading.Condition()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._serving_thread: threading.Thread | None = None
        self._serving = False
        self._executor = ThreadPoolExecutor(self.config.workers, thread_name_prefix="rekurator-engine")
        try:
            super().__init__((host, port), EndpointHandler)
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    def server_bind(self):
        # HTTPServer.server_bind asks for the host's FQDN: a DNS lookup that can stall offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    # -- addresses -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        host = self.server_address[0]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # a wildcard bind is reached via loopback locally
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def signed(self) -> bool:
        return self.verifier is not None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- running -------------------------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Serve in a daemon thread; returns at once."""
        if self._serving_thread is not None:
            raise RuntimeError("the endpoint is already serving")
        self._serving_thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name="rekurator-endpoint", daemon=True
        )
        self._serving_thread.start()
        return self._serving_thread

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve in the calling thread until another thread calls stop()."""
        self._serving = True
        try:
            super().serve_forever(poll_interval)
        finally:
            self._serving = False

    def stop(self) -> None:
        """Stop accepting, finish the calls in flight, close the socket. Safe to call twice.

        Call it from a thread other than the one running serve_forever (that one is waited for).
        """
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._serving:
            self.shutdown()  # returns once the accept loop has left serve_forever
        if self._serving_thread is not None:
            self._serving_thread.join()
        self._executor.shutdown(wait=True)
        deadline = time.monotonic() + self.config.drain_timeout_s
        with self._active_changed:
            while self._active and time.monotonic() < deadline:
                self._active_changed.wait(deadline - time.monotonic())
            if self._active:
                log.warning("%d request(s) still being answered at shutdown", self._active)
        # Wake the threads still waiting on idle keep-alive connections so they end now.
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- what the handler uses -----------------------------------------------------------------
    def call_engine(self, operation: str, params: dict) -> dict:
        # A large image reserves its share of the process's image memory here, in the connection
        # thread, so that requests waiting for memory do not hold the engine workers that every
        # other request needs; the worker runs in this context and uses the same share.
        image = params.get("Image") if isinstance(params, dict) else None
        data = image.get("Bytes") if isinstance(image, dict) else None
        with image_memory.reserve(data) if isinstance(data, bytes) else contextlib.nullcontext():
            context = contextvars.copy_context()
            try:
                future = self._executor.submit(context.run, self.engine.call, operation, params)
            except RuntimeError:  # the pool is shut down: the server is stopping
                raise ServiceUnavailableException("The endpoint is shutting down") from None
            return future.result()

    @contextlib.contextmanager
    def tracking_request(self):
        with self._active_changed:
            self._active += 1
        try:
            yield
        finally:
            with self._active_changed:
                self._active -= 1
                self._active_changed.notify_all()

    # -- socketserver hooks --------------------------------------------------------------------
    def process_request(self, request, client_address):
        # Wait for a free connection slot; the kernel backlog holds the rest meanwhile.
        while not self._slots.acquire(timeout=0.1):
            if self._stopping.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)
            self._slots.release()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended: %r", client_address, exc)
        else:
            log.error("connection from %s failed", client_address, exc_info=True)


def _address_family(host: str, port: int) -> int:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    return infos[0][0]
