"""Where a workspace lives: every path the application uses goes through here.

A workspace is a folder holding one SQLite database. The default is under the user's data
dir; `--workspace DIR` (every entry point) and the REKURATOR_WORKSPACE environment variable
override it, in that order of precedence.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

WORKSPACE_ENV = "REKURATOR_WORKSPACE"
DATABASE_NAME = "rekurator.sqlite3"


def default_workspace_dir() -> Path:
    return Path(platformdirs.user_data_dir("rekurator", appauthor=False)) / "workspace"


def resolve_workspace(explicit: str | os.PathLike | None = None) -> Path:
    """The workspace folder: the explicit one, else $REKURATOR_WORKSPACE, else the default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env).expanduser()
    return default_workspace_dir()


def database_path(workspace: str | os.PathLike) -> Path:
    return Path(workspace) / DATABASE_NAME
