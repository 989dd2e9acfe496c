"""A crash log: faulthandler writes Python tracebacks of every thread there on a fatal signal.

The file is `crash.log` in the user log folder (app.logs.log_dir()). It stays empty while all is
well; a non-empty one at start-up means the previous run crashed. That report is moved to
`crash-previous.log` (so it is shown once, and the next crash does not append to it) and the
window offers it to the user.
"""

from __future__ import annotations

import faulthandler
import os
from pathlib import Path

from app.core.workspace import make_private_dirs, open_private
from app.logs import log_dir

CRASH_LOG = "crash.log"
PREVIOUS_CRASH_LOG = "crash-previous.log"
# what the message box shows of a report; the whole file stays on disk
SHOWN_CHARS = 20_000

_log_file = None  # kept open for the life of the process: faulthandler writes to its descriptor


def crash_log_path() -> Path:
    return log_dir() / CRASH_LOG


def enable_crash_log(path: str | os.PathLike | None = None) -> Path:
    global _log_file
    path = Path(path) if path else crash_log_path()
    make_private_dirs(path.parent)
    if _log_file is not None:
        _log_file.close()
    _log_file = open_private(path, "a", encoding="utf-8")  # noqa: SIM115 - must outlive this function
    faulthandler.enable(_log_file, all_threads=True)
    return path


def take_previous_crash(path: str | os.PathLike | None = None) -> Path | None:
    """The report a crashed earlier run left behind, moved aside; None when there is none.

    Call before enable_crash_log(). The report is renamed (replacing an older one) rather
    than copied, so each crash is offered once.
    """
    path = Path(path) if path else crash_log_path()
    try:
        if path.stat().st_size == 0:
            return None
        previous = path.with_name(PREVIOUS_CRASH_LOG)
        os.replace(path, previous)
    except OSError:  # no log yet, or a folder we cannot write: nothing to offer
        return None
    return previous


def crash_report_text(path: Path, limit: int = SHOWN_CHARS) -> str:
    """The report's last `limit` characters (the end holds the crashing thread's frames)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(the report cannot be read: {exc.strerror or exc})"
    return text if len(text) <= limit else "…\n" + text[-limit:]


def show_previous_crash(parent, report: Path):
    """A non-blocking message box offering the report: its text, its path, and its folder."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QDesktopServices
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Warning, "Rekurator",
                      "Rekurator stopped unexpectedly the last time it ran.", QMessageBox.StandardButton.Close, parent)
    box.setObjectName("previousCrash")
    box.setInformativeText(f"A crash report was saved as\n{report}\n\nPlease attach it when you report the problem.")
    box.setDetailedText(crash_report_text(report))
    open_folder = box.addButton("Open Log Folder", QMessageBox.ButtonRole.ActionRole)
    # an action button closes the box too; opening the folder is all it needs to do
    open_folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(report.parent))))
    box.open()
    return box
