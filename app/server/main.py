"""`rekurator serve` / `python -m app.server`: run the endpoint until Ctrl-C or SIGTERM.

Exit status, the aws CLI v2 scheme that the rest of `rekurator` uses (app/cli/exit_codes.py):
    0    stopped cleanly (Ctrl-C, SIGTERM)
    252  the command line was invalid: unknown option, bad value, options that need each other,
         unsigned requests on a non-loopback address without --allow-unsigned
    253  the environment or configuration was unusable: workspace, model pack or face models,
         credentials file, or the address cannot be listened on
    255  anything else
"started" is logged only once the address is bound.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

import app
from app.core.errors import WorkspaceError
from app.exit_codes import CONFIG_ERROR, GENERAL_ERROR, PARAM_ERROR, SUCCESS
from app.logs import is_own_handler, setup_logging

from .credentials import ACCESS_KEY_ENV, SECRET_KEY_ENV, CredentialsError, collect_credentials
from .endpoint import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PORT,
    DEFAULT_REGION,
    EndpointConfig,
    EndpointServer,
    is_loopback,
)

log = logging.getLogger(__name__)


def build_parser(prog: str = "rekurator serve") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Serve the workspace as an Amazon Rekognition endpoint (AWS JSON 1.1), for "
            "`aws rekognition ... --endpoint-url URL` and boto3 clients."
        ),
        epilog=(
            f"Credentials: --access-key/--secret-key, --credentials-file, and the environment variables "
            f"{ACCESS_KEY_ENV} + {SECRET_KEY_ENV} all add accepted key pairs; requests must then be signed "
            f"(SigV4, service 'rekognition', the --region given). With no key pair the server accepts "
            f"unsigned requests, and says so at start-up; that is allowed on loopback addresses only, "
            f"unless --allow-unsigned is given."
        ),
    )
    parser.add_argument("--version", action="version", version=f"rekurator {app.__version__}")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free port)"
    )
    parser.add_argument("--workspace", metavar="DIR",
                        help="workspace folder (default: $REKURATOR_WORKSPACE, else the user data dir)")
    parser.add_argument(
        "--region", default=DEFAULT_REGION, help=f"region clients must sign for (default {DEFAULT_REGION})"
    )
    parser.add_argument("--access-key", metavar="KEY_ID", help="accepted access key id (with --secret-key)")
    parser.add_argument(
        "--secret-key", metavar="SECRET",
        help="its secret (visible to other local users in the process list; prefer the environment or a file)"
    )
    parser.add_argument(
        "--credentials-file",
        metavar="FILE",
        help="INI file in the AWS credentials layout; every section's aws_access_key_id/aws_secret_access_key pair is accepted",
    )
    parser.add_argument(
        "--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate (chain); with --tls-key"
    )
    parser.add_argument("--tls-key", metavar="FILE", help="the certificate's PEM private key")
    parser.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="accept unsigned requests on a non-loopback address (anyone who can connect can change the workspace)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"largest request body accepted (default {DEFAULT_MAX_BODY_BYTES}, enough for a 5 MiB image); "
             "larger ones get HTTP 413",
    )
    parser.add_argument(
        "--model-pack",
        metavar="DIR",
        help="insightface model pack folder for new collections "
             "(default: $REKURATOR_MODEL_PACK, else the bundled dlib/YuNet models)",
    )
    parser.add_argument(
        "--preload-models", action="store_true", help="load the face models at start-up instead of on the first image request"
    )
    parser.add_argument("--workers", type=_positive_int, default=8, help="threads running engine calls (default 8)")
    defaults = EndpointConfig()
    parser.add_argument(
        "--max-connections", type=_positive_int, default=defaults.max_connections,
        help=f"open connections at once (default {defaults.max_connections}); at the limit, the "
        "longest-waiting connection without a complete request is closed for a new one",
    )
    parser.add_argument(
        "--max-connections-per-address", type=_positive_int, default=defaults.max_connections_per_address,
        metavar="N",
        help=f"open connections from one client address (default {defaults.max_connections_per_address})",
    )
    parser.add_argument(
        "--header-timeout", type=_positive_float, default=defaults.header_timeout_s, metavar="SECONDS",
        help=f"total time a new connection has to send its request line and headers "
        f"(default {defaults.header_timeout_s:g})",
    )
    parser.add_argument(
        "--idle-timeout", type=_positive_float, default=defaults.idle_timeout_s, metavar="SECONDS",
        help=f"close a kept-alive connection when no complete next request arrives within this "
        f"(default {defaults.idle_timeout_s:g})",
    )
    parser.add_argument(
        "--body-timeout", type=_positive_float, default=defaults.body_timeout_s, metavar="SECONDS",
        help=f"total time to send a request body (default {defaults.body_timeout_s:g})",
    )
    parser.add_argument(
        "--socket-timeout", type=_positive_float, default=30.0, metavar="SECONDS",
        help="drop a client when one read or write stalls this long (default 30)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error"), help="stderr log level (default info)"
    )
    return parser


def serve_main(argv: list[str] | None = None, prog: str = "rekurator serve", stop_event: threading.Event | None = None) -> int:
    """Parse `argv`, serve until Ctrl-C / SIGTERM (or `stop_event` is set), return the exit status."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error: a status, not an exception, for callers
        return SUCCESS if exc.code in (0, None) else PARAM_ERROR

    # stderr as before, plus server.log in the user log folder; an embedding program's own
    # handlers (a test runner's) are kept, and then only our loggers' level is set
    embedded = any(not is_own_handler(h) for h in logging.getLogger().handlers)
    setup_logging("server", args.log_level, console=True, announce=False)
    if embedded:
        logging.getLogger("app.server").setLevel(args.log_level.upper())

    try:
        credentials = collect_credentials(args.access_key, args.secret_key, args.credentials_file)
        config = EndpointConfig(
            region=args.region,
            credentials=credentials,
            max_body_bytes=args.max_body_bytes,
            socket_timeout_s=args.socket_timeout,
            workers=args.workers,
            max_connections=args.max_connections,
            max_connections_per_address=args.max_connections_per_address,
            header_timeout_s=args.header_timeout,
            idle_timeout_s=args.idle_timeout,
            body_timeout_s=args.body_timeout,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
        )
    except CredentialsError as exc:
        return _fail(prog, exc, PARAM_ERROR if exc.usage else CONFIG_ERROR)
    except ValueError as exc:
        return _fail(prog, exc, PARAM_ERROR)
    if not credentials and not args.allow_unsigned and not is_loopback(args.host):
        return _fail(
            prog,
            f"no credentials configured, and {args.host} is not a loopback address: refusing to accept unsigned "
            f"requests from the network. Configure a key pair (--credentials-file, {ACCESS_KEY_ENV}/{SECRET_KEY_ENV}) "
            f"or pass --allow-unsigned",
            PARAM_ERROR,
        )

    try:
        config.tls_context()  # unreadable or mismatched files: say so before anything starts
    except (OSError, ValueError) as exc:
        return _fail(prog, f"cannot use the TLS certificate and key: {exc}", CONFIG_ERROR)
    if not config.tls_cert and not is_loopback(args.host):
        log.warning("serving plain HTTP on %s: requests, keys' signatures and images can be read on the "
                    "network; use --tls-cert/--tls-key", args.host)

    # after the argument checks, so that --help and usage errors stay fast
    from app.core.engine import Engine
    from app.vision.analyzers import analyzer_choice

    # The models themselves load on the first image request (or now, with --preload-models).
    try:
        analyzer_factory, face_model_version = analyzer_choice(args.model_pack)
    except (ValueError, OSError) as exc:  # the model pack folder is missing or incomplete
        return _fail(prog, f"cannot use the model pack: {exc}", CONFIG_ERROR)
    try:
        engine = Engine(args.workspace, analyzer_factory=analyzer_factory, face_model_version=face_model_version)
    except (WorkspaceError, OSError) as exc:
        return _fail(prog, f"cannot open the workspace: {exc}", CONFIG_ERROR)
    try:
        if engine.read_only:
            log.warning("the workspace %s is read-only: requests that change it are refused",
                        engine.workspace)
        if args.preload_models:
            print(f"Loading face models ({face_model_version})...", file=sys.stderr, flush=True)
            try:
                _ = engine.analyzer  # the property loads the models
            except Exception as exc:  # a missing or broken model pack: say which, do not serve half a service
                return _fail(prog, f"cannot load the face models: {exc}", CONFIG_ERROR)
        try:
            server = EndpointServer(engine, args.host, args.port, config)
        except OSError as exc:
            reason = exc.strerror or exc
            return _fail(prog, f"cannot listen on {args.host}:{args.port}: {reason}", CONFIG_ERROR)
        return _run(server, engine, config, stop_event or threading.Event())
    except Exception as exc:  # unexpected: logged with its traceback, reported in one line
        log.exception("the server failed")
        return _fail(prog, f"unexpected error: {exc}", GENERAL_ERROR)
    finally:
        engine.close()


def _run(server: EndpointServer, engine, config: EndpointConfig, stop: threading.Event) -> int:
    previous = _install_signal_handlers(stop)
    try:
        server.start()
        log.info("rekurator %s server started (pid %d), listening on %s",
                 app.__version__, os.getpid(), server.url)
        _announce(server, engine, config)
        while not stop.wait(0.5):
            pass
        print("Stopping: finishing requests in flight...", flush=True)
        server.stop()
        print("Stopped.", flush=True)
        return 0
    finally:
        server.stop()
        _restore_signal_handlers(previous)


def _announce(server: EndpointServer, engine, config: EndpointConfig) -> None:
    lines = [
        f"Rekurator endpoint listening on {server.url}",
        f"  workspace: {engine.workspace}",
        f"  region:    {config.region}",
        f"  models:    {engine.face_model_version} (for new collections)",
    ]
    if server.signed:
        keys = sorted(config.credentials)
        lines.append(f"  auth:      SigV4 signatures required; accepted access key ids: {', '.join(keys)}")
    else:
        lines.append(
            "  auth:      NONE. WARNING: accepting UNSIGNED requests; anything that can connect to "
            f"{server.url} can read and change this workspace"
        )
        log.warning("accepting unsigned requests on %s", server.url)
    # a line that works as printed, also on a machine with no AWS credentials configured
    tls = f" --ca-bundle {config.tls_cert}" if config.tls_cert else ""
    if server.signed:
        key = sorted(config.credentials)[0]
        lines.append(f"  try:       AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY=<its secret> "
                     f"aws rekognition list-collections --endpoint-url {server.url} "
                     f"--region {config.region}{tls}")
    else:
        lines.append(f"  try:       aws rekognition list-collections --endpoint-url {server.url} "
                     f"--region {config.region} --no-sign-request{tls}")
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)


def _install_signal_handlers(stop: threading.Event) -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}  # embedded in a thread: the caller stops us through stop_event
    previous = {}

    def request_stop(signum, frame):
        stop.set()
        # a second Ctrl-C while draining interrupts for real
        signal.signal(signal.SIGINT, signal.default_int_handler)

    for name in ("SIGINT", "SIGTERM"):
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, request_stop)
    return previous


def _restore_signal_handlers(previous: dict) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _fail(prog: str, message, status: int) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return status


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0..65535; 0 picks a free one)")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of seconds")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value
