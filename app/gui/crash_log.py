"""A crash log: faulthandler writes Python tracebacks of every thread there on a fatal signal."""

from __future__ import annotations

import faulthandler
import os
from pathlib import Path

import platformdirs

_log_file = None  # kept open for the life of the process: faulthandler writes to its descriptor


def crash_log_path() -> Path:
    return Path(platformdirs.user_log_dir("rekurator", appauthor=False)) / "crash.log"


def enable_crash_log(path: str | os.PathLike | None = None) -> Path:
    global _log_file
    path = Path(path) if path else crash_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if _log_file is not None:
        _log_file.close()
    _log_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - must outlive this function
    faulthandler.enable(_log_file, all_threads=True)
    return path
