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


# -- privacy and plain-words checks (issue 13) ---------------------------------------------------
# A workspace holds face descriptors, crops and previews: personal data. Folders Rekurator
# creates are owner-only (0700) and so are the files it creates in them (0600): the database,
# and with it SQLite's -wal and -shm files (SQLite gives them the database file's mode), the
# sidecar indexes, caches and logs. Existing folders and files keep the mode their owner chose.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dirs(path: str | os.PathLike) -> Path:
    """Create `path` and its missing parents owner-only (0700); an existing folder is left as it is."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process made it meanwhile
        os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is filtered through the umask
    return path


def create_private_file(path: str | os.PathLike) -> bool:
    """Create an empty owner-only (0600) file unless it exists; True when it was created here."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def open_private(path: str | os.PathLike, mode: str = "wb", **kwargs):
    """open() that creates a missing file owner-only (0600)."""
    def opener(name, flags):
        return os.open(name, flags, PRIVATE_FILE_MODE)

    return open(path, mode, opener=opener, **kwargs)


def describe_os_error(exc: OSError) -> str:
    """An OSError about a workspace path in plain words (no "[Errno 17]")."""
    import errno

    where = exc.filename or "the workspace"
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "the operation is not permitted",
        errno.EROFS: "it is on a read-only file system",
        errno.EEXIST: "a file of that name is in the way",
        errno.ENOTDIR: "part of the path is a file, not a folder",
        errno.ENOSPC: "the disk is full",
        errno.ENAMETOOLONG: "the name is too long",
        errno.ENOENT: "a folder on the way does not exist",
    }
    return f"{where}: {reasons.get(exc.errno or 0, exc.strerror or str(exc))}"
