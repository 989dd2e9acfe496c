"""The endpoint server: a threaded HTTP server in front of one shared Engine.

Threads:
- the accept loop (serve_forever, run by `start()` in a daemon thread);
- one daemon thread per open connection, parsing HTTP and writing answers;
- a fixed pool of `workers` threads that run the engine calls. The store keeps one SQLite
  connection per thread for the thread's whole life, so engine work must stay on a bounded set
  of long-lived threads rather than on the per-connection ones, which come and go;
- a watchdog that closes connections past their deadline.

Slow and idle clients cannot take the server (issue 13): every connection is in one phase at a
time, and the watchdog closes it when the phase outlasts its total deadline, however steadily the
client trickles bytes:
- waiting for a request line and headers: `header_timeout_s` on a new connection,
  `idle_timeout_s` on a kept-alive one (idle time and headers together);
- reading the body: `body_timeout_s`;
- running the call and writing the answer: no deadline here (the socket timeout still applies).
At most `max_connections` are open, at most `max_connections_per_address` from one address.
When a new connection would pass either cap, the longest-waiting connection that has not sent a
complete request (of that address, else of any) is closed to make room; only when every open
connection is busy with a request does the new one wait in the listen backlog. A client that
opens many connections and sends slowly therefore only ever loses its own connections.

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
import ssl
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

from app.vision import image_memory

from .handler import BODY, EXPIRED, WAITING, EndpointHandler
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
    max_connections: int = 128
    max_connections_per_address: int = 32
    header_timeout_s: float = 10.0
    idle_timeout_s: float = 15.0
    body_timeout_s: float = 30.0
    drain_timeout_s: float = 10.0
    # HTTPS: a PEM certificate chain and its private key; both or neither
    tls_cert: str | None = None
    tls_key: str | None = None

    def __post_init__(self):
        for name in ("max_body_bytes", "workers", "max_connections", "max_connections_per_address"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("socket_timeout_s", "header_timeout_s", "idle_timeout_s", "body_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key must be given together")

    def tls_context(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None for plain HTTP; OSError/SSLError for unusable files."""
        if self.tls_cert is None or self.tls_key is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.tls_cert, self.tls_key)
        return context


@dataclass(eq=False)
class _Connection:
    address: str
    phase: str = WAITING
    since: float = field(default_factory=time.monotonic)
    served: int = 0  # requests answered on it so far


def is_loopback(host: str) -> bool:
    """True when every address `host` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return bool(infos) and all(_is_loopback_address(info[4][0]) for info in infos)


def _is_loopback_address(host: str | int) -> bool:
    # getaddrinfo answers with AF_INET/AF_INET6 socket addresses here, whose host is a str
    # (the int in typeshed's union is for other families)
    assert isinstance(host, str), host
    return ipaddress.ip_address(host.split("%")[0]).is_loopback


class EndpointServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # connection threads are daemons; stop() drains the engine calls instead
    request_queue_size = 128

    def __init__(self, engine, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, config: EndpointConfig | None = None):
        self.engine = engine
        self.config = config or EndpointConfig()
        self.verifier = SigV4Verifier(self.config.credentials, self.config.region) if self.config.credentials else None
        self.address_family = _address_family(host, port)
        self._stopping = threading.Event()
        self._active = 0
        self._active_changed = threading.Condition()
        self._connections: dict[socket.socket, _Connection] = {}
        self._connections_changed = threading.Condition()
        self._watchdog: threading.Thread | None = None
        self.closed_by_deadline = 0  # counters, for logs and tests
        self.closed_to_make_room = 0
        self.refused = 0
        self._serving_thread: threading.Thread | None = None
        self._serving = False
        self._tls = self.config.tls_context()
        self._executor = ThreadPoolExecutor(self.config.workers, thread_name_prefix="rekurator-engine")
        try:
            super().__init__((host, port), EndpointHandler)
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    def get_request(self):
        request, address = super().get_request()
        if self._tls is not None:
            # the handshake runs in the connection's own thread, under the header deadline,
            # so a client that never completes it holds neither the accept loop nor a slot for long
            request = self._tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        return request, address

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
        bound = self.server_address[0]
        host = bound.decode() if isinstance(bound, (bytes, bytearray)) else bound
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # a wildcard bind is reached via loopback locally
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self._tls is not None else 'http'}://{host}:{self.port}"

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
        if self._watchdog is None:
            self._watchdog = threading.Thread(
                target=self._watch_deadlines, name="rekurator-deadlines", daemon=True
            )
            self._watchdog.start()
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
        with self._connections_changed:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections_changed.notify_all()
        if self._watchdog is not None:
            self._watchdog.join()
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

    def set_phase(self, request: socket.socket, phase: str) -> bool:
        """Move a connection to `phase` (the handler calls this); False once it has expired."""
        with self._connections_changed:
            state = self._connections.get(request)
            if state is None or state.phase == EXPIRED:
                return False
            if phase == state.phase:
                # a new connection's first WAITING: it has waited since it was accepted (the handler
                # threads start in any order, so resetting here made the oldest look younger)
                return True
            if phase == WAITING:
                state.served += 1
            state.phase, state.since = phase, time.monotonic()
            return True

    # -- deadlines and caps ----------------------------------------------------------------------
    def _deadline(self, state: _Connection) -> float | None:
        config = self.config
        if state.phase == WAITING:
            return state.since + (config.idle_timeout_s if state.served else config.header_timeout_s)
        if state.phase == BODY:
            return state.since + config.body_timeout_s
        return None

    def _watch_deadlines(self) -> None:
        while not self._stopping.is_set():
            now = time.monotonic()
            with self._connections_changed:
                for request, state in self._connections.items():
                    deadline = self._deadline(state)
                    if deadline is not None and now >= deadline:
                        log.debug("closing the connection from %s: %s phase past its deadline",
                                  state.address, state.phase)
                        self._expire(request, state)
                        self.closed_by_deadline += 1
            self._stopping.wait(0.1)

    def _expire(self, request: socket.socket, state: _Connection) -> None:
        """Close a connection's socket under its thread; the thread then ends and frees the slot."""
        state.phase = EXPIRED
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_RDWR)

    def _make_room(self, address: str) -> str:
        """Decide about a new connection from `address`: "admit", "wait" or "refuse".

        Call with _connections_changed held. Over a cap, the longest-waiting connection without a
        complete request (of that address, else of any) is closed, and the newcomer waits the
        moment its thread takes to leave. An address whose connections are all busy is refused
        at once: waiting would hold the accept loop, and with it every other client.
        """
        config = self.config
        open_now = [s for s in self._connections.values() if s.phase != EXPIRED]
        same = [s for s in open_now if s.address == address]
        if len(same) >= config.max_connections_per_address:
            candidates = same
        elif len(self._connections) >= config.max_connections:
            candidates = open_now
        else:
            return "admit"
        expiring = any(s.phase == EXPIRED and s.address == address for s in self._connections.values())
        waiting = [(s.since, r) for r, s in self._connections.items()
                   if s.phase == WAITING and any(s is c for c in candidates)]
        if waiting:
            _, victim = min(waiting, key=lambda item: item[0])
            self._expire(victim, self._connections[victim])
            self.closed_to_make_room += 1
            return "wait"
        if candidates is same and not expiring:
            return "refuse"
        return "wait"

    # -- socketserver hooks --------------------------------------------------------------------
    def process_request(self, request, client_address):
        address = str(client_address[0]) if client_address else ""
        with self._connections_changed:
            # Wait for room; an expired connection's thread leaves within moments, and while every
            # connection is busy with a request the kernel backlog holds the new ones.
            while (decision := self._make_room(address)) != "admit":
                if decision == "refuse" or self._stopping.is_set():
                    log.debug("refusing a connection from %s: its %d connections are all busy", address,
                              self.config.max_connections_per_address)
                    self.refused += 1
                    self.shutdown_request(request)
                    return
                self._connections_changed.wait(0.1)
            self._connections[request] = _Connection(address)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)
            raise

    def process_request_thread(self, request, client_address):
        try:
            if isinstance(request, ssl.SSLSocket):
                try:
                    request.settimeout(self.config.socket_timeout_s)
                    request.do_handshake()
                except (OSError, ValueError) as exc:  # not TLS, a bad client hello, or closed by the watchdog
                    log.debug("TLS handshake with %s failed: %r", client_address, exc)
                    self.shutdown_request(request)
                    return
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def _forget(self, request: socket.socket) -> None:
        with self._connections_changed:
            self._connections.pop(request, None)
            self._connections_changed.notify_all()

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
