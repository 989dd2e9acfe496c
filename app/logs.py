"""Log files: one rotating file per program (gui.log, cli.log, server.log) in the user log folder.

The folder is $REKURATOR_LOG_DIR, else platformdirs' user log dir for "rekurator"
(~/.local/state/rekurator/log on Linux, ~/Library/Logs/rekurator on macOS,
%LOCALAPPDATA%\\rekurator\\Logs on Windows). The GUI's crash log (app/gui/crash_log.py) lives
there too. Qt-free: the GUI, the CLI and the server all set up their logging here.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from pathlib import Path

import platformdirs

import app
from app.core.workspace import make_private_dirs, open_private

LOG_DIR_ENV = "REKURATOR_LOG_DIR"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 5
FILE_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_COMPONENT_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class _RekuratorFileHandler(logging.handlers.RotatingFileHandler):
    """Marks the handlers set up here, so a second setup replaces them instead of adding more.

    Log lines name workspaces, collections and users: the files are owner-only (0600).
    """

    def _open(self):
        return open_private(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors)


class _RekuratorConsoleHandler(logging.StreamHandler):
    pass


def is_own_handler(handler: logging.Handler) -> bool:
    """Whether setup_logging put this handler there."""
    return isinstance(handler, (_RekuratorFileHandler, _RekuratorConsoleHandler))


def log_dir() -> Path:
    override = os.environ.get(LOG_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_log_dir("rekurator", appauthor=False))


def log_file(component: str) -> Path:
    if not isinstance(component, str) or not _COMPONENT_RE.match(component):
        raise ValueError(f"log component must be a short lowercase name like 'gui' or 'cli', got {component!r}")
    return log_dir() / f"{component}.log"


def setup_logging(
    component: str, level: int | str = logging.INFO, console: bool = False, announce: bool = True
) -> Path | None:
    """Send the process's log records to `<log dir>/<component>.log` (rotated at 1 MB, 5 kept).

    Idempotent, and the last call wins: a process logs to one file, so a CLI that turns into
    the server (`rekurator serve`) moves from cli.log to server.log. With `console`, records also
    go to stderr, unless something else (an embedding program, a test runner) already put its
    own handlers on the root logger. Returns the file's path, or None when the folder cannot be
    written: a read-only home must not stop the program (nor make the CLI print noise).
    """
    path = log_file(component)
    level = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {level!r}")
    root = logging.getLogger()
    foreign = [h for h in root.handlers if not is_own_handler(h)]
    stop_logging()
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)

    written: Path | None  # the log file, or None when it cannot be written
    try:
        make_private_dirs(path.parent)
        file_handler = _RekuratorFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8")
    except OSError:
        written = None
    else:
        written = path
        file_handler.setLevel(level)
        file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
        root.addHandler(file_handler)
    if console and not foreign:
        console_handler = _RekuratorConsoleHandler(sys.stderr)
        console_handler.setLevel(level)
        console_handler.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        root.addHandler(console_handler)
    if written is not None and announce:  # the server says "started" itself, once it has bound
        logging.getLogger("app").info("rekurator %s %s started (pid %d)", app.__version__, component, os.getpid())
    return written


def stop_logging() -> None:
    """Remove and close the handlers set up here (tests; embedders that want their logging back)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if is_own_handler(h)]:
        root.removeHandler(handler)
        handler.close()
