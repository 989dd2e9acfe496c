"""One command line run: its global options, its streams, and the backend it talks to.

The backend is the local workspace engine, or the remote boto3 backend when --endpoint-url,
--profile or --region is given. Both are opened lazily (skeletons and help need neither) and
both are imported lazily (the vision models and boto3 are slow to load).
"""

from __future__ import annotations

import datetime
import inspect
import logging
import threading
import time
from collections.abc import Callable

from .exit_codes import ConfigurationError
from .global_options import given, uses_remote
from .query import compile_query
from .render import OutputOptions


def _summarise(value):
    """Request values for the debug log, with blobs shown by size only."""
    if isinstance(value, dict):
        return {k: _summarise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_summarise(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return value


class DebugLog:
    """--debug lines on stderr, in the aws CLI's log format."""

    def __init__(self, stream, enabled: bool):
        self.stream = stream
        self.enabled = enabled

    def note(self, message: str, source: str = "rekurator.cli") -> None:
        if self.enabled:
            stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
            self.stream.write(f"{stamp} - {threading.current_thread().name} - {source} - DEBUG - {message}\n")

    def request(self, operation: str, params: dict) -> None:
        if self.enabled:
            self.note(f"Calling {operation} with {_summarise(params)!r}")


_WIRE_LOGGERS = ("botocore", "boto3", "urllib3")


class _DebugHandler(logging.Handler):
    def __init__(self, log: DebugLog):
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record):
        self.log.note(record.getMessage(), record.name)


class CliSession:
    def __init__(self, namespace, stdout, stderr, *, analyzer=None, analyzer_factory: Callable | None = None,
                 remote_backend_factory: Callable | None = None, engine_factory: Callable | None = None):
        self.namespace = namespace
        self.stdout = stdout
        self.stderr = stderr
        self.debug = DebugLog(stderr, bool(namespace.debug))
        self.remote = uses_remote(namespace)
        self.output = OutputOptions(namespace.output or "json", compile_query(namespace.query), namespace.color or "auto")
        self.binary_format = namespace.cli_binary_format or "base64"
        self.current_operation: str | None = None
        self._analyzer = analyzer
        self._analyzer_factory = analyzer_factory
        self._remote_factory = remote_backend_factory
        self._engine_factory = engine_factory
        self._backend = None
        self._log_handler = None
        self._log_levels: dict[str, int] = {}

    # -- backends ---------------------------------------------------------------------------
    def backend(self):
        """The object whose .call(operation, params) answers requests."""
        if self._backend is None:
            self._backend = self._open_remote() if self.remote else self._open_engine()
        return self._backend

    def engine(self):
        """The local engine (for what only a local workspace has: the journal, batch indexing)."""
        if self.remote:
            raise ConfigurationError("this command works on a local workspace; it cannot use a remote endpoint "
                                     "(drop --endpoint-url, --profile and --region)")
        return self.backend()

    def _open_engine(self):
        ns = self.namespace
        try:
            if self._engine_factory is not None:
                engine = self._engine_factory(ns.workspace)
            else:
                from app.core.engine import Engine

                if self._analyzer is not None:
                    engine = Engine(ns.workspace, analyzer=self._analyzer)
                elif self._analyzer_factory is not None:
                    engine = Engine(ns.workspace, analyzer_factory=self._analyzer_factory)
                else:
                    from app.vision.analyzers import analyzer_choice  # models load only when an image operation runs

                    factory, version = analyzer_choice(getattr(ns, "model_pack", None))
                    engine = Engine(ns.workspace, analyzer_factory=factory, face_model_version=version)
        except OSError as exc:
            raise ConfigurationError(f"Cannot open the workspace: {exc}") from None
        except ValueError as exc:  # a model pack that cannot be used (ModelPackError)
            raise ConfigurationError(str(exc)) from None
        self.debug.note(f"Using the local engine, workspace {engine.workspace}")
        return engine

    def _open_remote(self):
        ns = self.namespace
        factory = self._remote_factory
        if factory is None:
            try:
                from app.remote.boto3_backend import RemoteBackend
            except ModuleNotFoundError as exc:
                if exc.name not in ("app.remote.boto3_backend", "boto3", "botocore"):
                    raise
                raise ConfigurationError(f"The remote backend is not available in this installation: {exc}") from None
            factory = RemoteBackend
        settings = {"endpoint_url": ns.endpoint_url, "region_name": ns.region, "profile_name": ns.profile}
        if ns.sign_request is False:
            settings["unsigned"] = True
        for option, name in (("cli_read_timeout", "read_timeout"), ("cli_connect_timeout", "connect_timeout")):
            if given(ns, option):  # 0 means no timeout, as in the aws CLI
                settings[name] = getattr(ns, option) or None
        if ns.verify_ssl is False or given(ns, "ca_bundle"):
            settings["verify"] = False if ns.verify_ssl is False else ns.ca_bundle
        settings = self._supported(factory, settings)
        self.debug.note(f"Using the remote backend: {settings!r}")
        if self.debug.enabled:  # boto3's own wire log, as `aws --debug` shows it
            self._log_handler = _DebugHandler(self.debug)
            for name in _WIRE_LOGGERS:
                logger = logging.getLogger(name)
                self._log_levels[name] = logger.level
                logger.addHandler(self._log_handler)
                logger.setLevel(logging.DEBUG)
        return factory(**settings)

    def _supported(self, factory, settings: dict) -> dict:
        """The settings the backend accepts; each one it cannot take is named under --debug."""
        try:
            parameters = inspect.signature(factory).parameters
        except (TypeError, ValueError):
            return settings
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return settings
        for name in [n for n in settings if n not in parameters]:
            flag = {"verify": "--no-verify-ssl/--ca-bundle", "unsigned": "--no-sign-request",
                    "read_timeout": "--cli-read-timeout", "connect_timeout": "--cli-connect-timeout"}.get(name, name)
            self.debug.note(f"{flag} has no effect: the remote backend takes no {name!r} setting")
            del settings[name]
        return settings

    def call(self, operation: str, params: dict) -> dict:
        self.current_operation = operation
        backend = self.backend()
        self.debug.request(operation, params)
        started = time.perf_counter()
        response = backend.call(operation, params)
        self.debug.note(f"{operation} answered in {(time.perf_counter() - started) * 1000:.1f} ms")
        return response

    def close(self) -> None:
        if self._log_handler is not None:
            for name in _WIRE_LOGGERS:
                logger = logging.getLogger(name)
                logger.removeHandler(self._log_handler)
                logger.setLevel(self._log_levels.get(name, logging.NOTSET))
            self._log_handler = None
        backend, self._backend = self._backend, None
        close = getattr(backend, "close", None)
        if close is not None:
            close()
