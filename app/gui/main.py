"""Start the curation window: `python main.py [--workspace DIR]` or the rekurator-gui entry point."""

from __future__ import annotations

import argparse
import signal
import sys

import app
from app.core.workspace import resolve_workspace


def create_default_analyzer():
    """Built on the first import of photos, never at start-up: loading the models takes a while."""
    from app.vision.default_analyzer import create_default_analyzer as create

    return create()


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="rekurator-gui", description="Curate face collections the way Amazon "
                                     "Rekognition models them.")
    parser.add_argument("--workspace", metavar="DIR",
                        help="workspace folder (default: $REKURATOR_WORKSPACE, else the user data folder)")
    parser.add_argument("--version", action="version", version=f"rekurator {app.__version__}")
    # for tests and benchmarks: close the window after this many milliseconds
    parser.add_argument("--quit-after-ms", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --version, --help, or a usage error: argparse has printed it
        return int(exc.code or 0)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.core.engine import Engine
    from app.core.errors import WorkspaceError

    from .crash_log import enable_crash_log
    from .main_window import MainWindow
    from .settings import APPLICATION, ORGANIZATION

    enable_crash_log()
    qt_app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "rekurator-gui"])
    qt_app.setOrganizationName(ORGANIZATION)
    qt_app.setApplicationName(APPLICATION)
    qt_app.setApplicationVersion(app.__version__)

    workspace = resolve_workspace(args.workspace)
    try:
        engine = Engine(workspace, analyzer_factory=create_default_analyzer)
    except (WorkspaceError, OSError) as exc:
        QMessageBox.critical(None, "Rekurator", f"The workspace {workspace} cannot be opened.\n\n{exc}")
        return 1

    # SIGTERM / Ctrl+C close the window cleanly (settings saved, workers stopped)
    window = MainWindow(engine)
    signal.signal(signal.SIGTERM, lambda *_: QTimer.singleShot(0, window.close))
    signal.signal(signal.SIGINT, lambda *_: QTimer.singleShot(0, window.close))
    wake = QTimer()  # Python runs signal handlers only between bytecodes: let it in now and then
    wake.timeout.connect(_idle)
    wake.start(250)
    window.show()
    if args.quit_after_ms is not None:
        window.quit_soon(args.quit_after_ms)
    try:
        return qt_app.exec()
    finally:
        wake.stop()
        engine.close()


def _idle() -> None:
    pass
