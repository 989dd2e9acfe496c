"""Start the curation window: `python main.py [--workspace DIR]` or the rekurator-gui entry point.

`--endpoint-url URL` (or `--profile` / `--region`, as in the CLI) opens it on a remote
Rekognition-compatible endpoint instead of a local workspace (app.remote.curation_backend).

`--self-test` checks the install instead (models, a sample photo, the window offscreen) and
prints a JSON summary; packaging/smoke_test.sh runs it on a built bundle.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from functools import partial
from pathlib import Path

import app
from app.core.workspace import resolve_workspace
from app.vision.analyzers import analyzer_choice

log = logging.getLogger(__name__)


def create_default_analyzer():
    """Built on the first import of photos, never at start-up: loading the models takes a while."""
    from app.vision.default_analyzer import create_default_analyzer as create

    return create()


def local_engine(workspace, model_pack=None):
    """The engine on a workspace, with the analyzer the user chose (loaded on first import).

    ValueError for a model pack that cannot be used; WorkspaceError / OSError for the workspace.
    """
    from app.core.engine import Engine

    factory, model_version = analyzer_choice(model_pack)
    return Engine(workspace, analyzer_factory=factory, face_model_version=model_version)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="rekurator-gui", description="Curate face collections the way Amazon "
                                     "Rekognition models them.")
    parser.add_argument("--workspace", metavar="DIR",
                        help="workspace folder (default: $REKURATOR_WORKSPACE, else the user data folder)")
    remote = parser.add_argument_group("remote endpoint", "With any of --endpoint-url, --profile or --region the window "
                                       "works on a Rekognition-compatible endpoint (AWS, or `rekurator serve`) "
                                       "instead of a local workspace.")
    remote.add_argument("--endpoint-url", metavar="URL", help="the endpoint, e.g. http://127.0.0.1:8085")
    remote.add_argument("--profile", help="AWS profile for credentials and region")
    remote.add_argument("--region", help="AWS region (default: the profile's, else us-east-1)")
    remote.add_argument("--no-verify-ssl", dest="verify_ssl", action="store_false",
                        help="do not verify the endpoint's TLS certificate")
    remote.add_argument("--ca-bundle", metavar="FILE", help="CA bundle for verifying the endpoint's TLS certificate")
    parser.add_argument("--model-pack", metavar="DIR",
                        help="use the insightface model pack in this folder (SCRFD + ArcFace) for new collections "
                             "and imports (default: $REKURATOR_MODEL_PACK, else the bundled dlib models)")
    parser.add_argument("--version", action="version", version=f"rekurator {app.__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this install (face models, a sample photo, the window offscreen), print a JSON "
                             "summary and exit: 0 when all is well")
    # for tests and benchmarks: close the window after this many milliseconds
    parser.add_argument("--quit-after-ms", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if uses_remote(args):
        if args.workspace:
            parser.error("--workspace cannot be combined with --endpoint-url/--profile/--region: the window works "
                         "either on a local workspace or on a remote endpoint")
        if args.ca_bundle and not args.verify_ssl:
            parser.error("--ca-bundle and --no-verify-ssl contradict each other: give one")
    elif args.ca_bundle or not args.verify_ssl:
        parser.error("--no-verify-ssl and --ca-bundle only apply to a remote endpoint: add --endpoint-url "
                     "(or --profile/--region)")
    return args


def uses_remote(args) -> bool:
    return any(v is not None for v in (args.endpoint_url, args.profile, args.region))


def main(argv=None) -> int:
    # a windowed bundle (Windows .exe, macOS .app) has no console: printing must not fail there
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - for the process's life
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --version, --help, or a usage error: argparse has printed it
        return int(exc.code or 0)
    if args.self_test:
        # before the QApplication exists: the check must run without a display
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

    from app.logs import setup_logging

    setup_logging("gui")
    restore_hooks = _log_uncaught_exceptions()
    try:
        if args.self_test:
            faulthandler.enable(sys.stderr, all_threads=True)  # a hard crash shows where, right there
            return _self_test_main(args.model_pack)
        return _window_main(args)
    finally:
        restore_hooks()


def _qt_application():
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from app.resources import APP_ID

    from .settings import APPLICATION, ORGANIZATION

    qt_app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "rekurator-gui"])
    qt_app.setOrganizationName(ORGANIZATION)
    qt_app.setApplicationName(APPLICATION)
    qt_app.setApplicationVersion(app.__version__)
    # ties the windows to the desktop entry (its icon on Wayland, grouping in docks)
    QGuiApplication.setDesktopFileName(APP_ID)
    qt_app.setWindowIcon(application_icon())
    return qt_app


def _show_previous_crash(window, report, show) -> None:
    window.previous_crash_box = show(window, report)
    window.previous_crash_box.raise_()
    window.previous_crash_box.activateWindow()


def application_icon():
    """The icon at every PNG size (PNG needs no image-format plugin, unlike the SVG)."""
    from PySide6.QtGui import QIcon

    from app.resources import icon_files

    icon = QIcon()
    for path in icon_files():
        if path.suffix == ".png":
            icon.addFile(str(path))
    return icon


def _window_main(args) -> int:
    from . import platform_check

    if platform_check.uses_xcb():
        # before any Qt object: a missing library would abort inside Qt with a core dump
        missing = platform_check.missing_libraries()
        if missing:
            print(platform_check.missing_message(missing, platform_check.distro_family()), file=sys.stderr)
            return 1

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    from app.core.errors import WorkspaceError

    from .crash_log import enable_crash_log, show_previous_crash, take_previous_crash
    from .main_window import MainWindow

    previous_crash = take_previous_crash()
    try:
        enable_crash_log()
    except OSError as exc:  # a read-only log folder must not keep the window from opening
        log.warning("no crash log: %s", exc)
    qt_app = _qt_application()

    if uses_remote(args):
        engine = _remote_backend(args)
        if engine is None:
            return 1
    else:
        workspace = resolve_workspace(args.workspace)
        try:
            engine = local_engine(workspace, args.model_pack)
        except ValueError as exc:  # ModelPackError: a folder that holds no usable pack
            QMessageBox.critical(None, "Rekurator", f"The model pack cannot be used.\n\n{exc}")
            return 1
        except (WorkspaceError, OSError) as exc:
            QMessageBox.critical(
                None, "Rekurator",
                f"The workspace {workspace} cannot be opened.\n\n{exc}\n\nChoose another folder with "
                f"--workspace DIR (or the REKURATOR_WORKSPACE environment variable).",
            )
            return 1
        log.info("workspace %s%s", engine.workspace, " (read-only)" if engine.read_only else "")

    # SIGTERM / Ctrl+C close the window cleanly (settings saved, workers stopped)
    window = MainWindow(engine)
    signal.signal(signal.SIGTERM, lambda *_: QTimer.singleShot(0, window.close))
    signal.signal(signal.SIGINT, lambda *_: QTimer.singleShot(0, window.close))
    wake = QTimer()  # Python runs signal handlers only between bytecodes: let it in now and then
    wake.timeout.connect(_idle)
    wake.start(250)
    window.show()
    read_only_box = None  # kept alive while the window runs
    if getattr(getattr(engine, "store", None), "read_only", False):
        read_only_box = read_only_notice(window, engine.workspace)
    if previous_crash is not None:
        log.warning("the previous run crashed; its report is %s", previous_crash)
        # once the window is up (the event loop runs), in front of it; other notices wait for it
        QTimer.singleShot(0, partial(_show_previous_crash, window, previous_crash, show_previous_crash))
    if args.quit_after_ms is not None:
        window.quit_soon(args.quit_after_ms)
    try:
        return qt_app.exec()
    finally:
        wake.stop()
        if read_only_box is not None:
            read_only_box.close()
        engine.close()


def _idle() -> None:
    pass


def read_only_notice(parent, workspace):
    """Say, without blocking the window, that the workspace can be browsed but not changed."""
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(
        QMessageBox.Icon.Information, "Rekurator",
        f"The workspace {workspace} is read-only: its folder cannot be written.\n\nYou can browse, search "
        "and export reports; changes (new collections, users, imports, associations) will be refused.",
        QMessageBox.StandardButton.Ok, parent,
    )
    box.open()
    return box


def _remote_backend(args):
    """The remote endpoint behind the window's interface, or None after telling the user why not."""
    from PySide6.QtWidgets import QMessageBox

    from app.remote.curation_backend import RemoteCurationBackend

    verify = False if not args.verify_ssl else args.ca_bundle
    try:
        backend = RemoteCurationBackend.connect(args.endpoint_url, args.region, args.profile, verify=verify)
    except (ValueError, OSError) as exc:  # RemoteConfigurationError, a damaged marks file
        where = args.endpoint_url or f"AWS ({args.profile or 'default profile'}, {args.region or 'default region'})"
        QMessageBox.critical(None, "Rekurator", f"The endpoint {where} cannot be used.\n\n{exc}")
        return None
    log.info("remote endpoint %s (region %s, %s)", backend.endpoint_url, backend.remote.region_name,
             "signed" if backend.remote.signed else "unsigned")
    return backend


# -- self-test -------------------------------------------------------------------------------------
def _self_test_main(model_pack: str | None = None) -> int:
    from app.self_test import default_checks, run_checks

    summary = run_checks([*default_checks(model_pack), ("window", check_window)])
    text = json.dumps(summary, indent=2)
    print(text)
    log.info("self-test summary:\n%s", text)  # where a windowed bundle (no console) shows it
    if not summary["ok"]:
        print(f"rekurator self-test FAILED at {summary['failed']}: {summary['error']}", file=sys.stderr)
        log.error("self-test failed at %s: %s", summary["failed"], summary["error"])
        return 1
    log.info("self-test passed")
    return 0


def check_window() -> dict:
    """Open the main window on a throwaway workspace and settings, let it settle, close it."""
    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QSettings

    from app.core.engine import Engine

    from .main_window import MainWindow

    qt_app = _qt_application()
    with tempfile.TemporaryDirectory(prefix="rekurator-self-test-") as tmp:
        # the real settings must not remember this window (size, "demo offered")
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(Path(tmp) / "settings"))
        engine = Engine(Path(tmp) / "workspace", analyzer_factory=create_default_analyzer)
        try:
            window = MainWindow(engine)
            window.show()
            timer = QElapsedTimer()
            timer.start()
            while timer.elapsed() < 300:  # queued start-up work (first paint, the demo offer) runs
                qt_app.processEvents()
            result = {"platform": qt_app.platformName(), "visible": window.isVisible(),
                      "icon": not qt_app.windowIcon().isNull(), "title": window.windowTitle()}
            window.close()
            window.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            qt_app.processEvents()
        finally:
            engine.close()
    if not result["visible"]:
        raise RuntimeError("the main window did not show")
    if not result["icon"]:
        raise RuntimeError("the application icon did not load")
    return result


# -- uncaught exceptions into the log --------------------------------------------------------------
def _log_uncaught_exceptions():
    """Route uncaught exceptions and Qt's messages into gui.log as well; returns the undo."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    previous_hook, previous_thread_hook = sys.excepthook, threading.excepthook
    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}
    qt_log = logging.getLogger("qt")

    def excepthook(kind, value, tb):
        log.critical("uncaught exception", exc_info=(kind, value, tb))
        previous_hook(kind, value, tb)

    def thread_excepthook(hook_args):
        log.critical("uncaught exception in thread %s", getattr(hook_args.thread, "name", "?"),
                     exc_info=(hook_args.exc_type, hook_args.exc_value, hook_args.exc_traceback))
        previous_thread_hook(hook_args)

    def qt_message(mode, context, message):
        qt_log.log(levels.get(mode, logging.WARNING), "%s", message)
        if previous_qt is not None:
            previous_qt(mode, context, message)
        else:  # what Qt's own handler would have done
            print(message, file=sys.stderr)

    sys.excepthook, threading.excepthook = excepthook, thread_excepthook
    previous_qt = qInstallMessageHandler(qt_message)

    def restore():
        sys.excepthook, threading.excepthook = previous_hook, previous_thread_hook
        qInstallMessageHandler(previous_qt)

    return restore
