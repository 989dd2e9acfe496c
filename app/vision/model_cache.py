"""Models we generate ourselves (e.g. dlib's ResNet converted to ONNX), cached on disk.

Layout in the cache's `models/` folder, for a model called NAME (e.g. "dlib_resnet_v1.onnx"):
  NAME.sha256          pointer: the hex sha256 of the current content
  NAME.<sha256>        the content itself, named by its own hash
Both are written to a temp file and moved into place with os.replace, data file first. So a
reader sees either no pointer or a pointer to a complete file, whatever two processes building
the same model at once interleave; a damaged or missing file fails its hash check and is rebuilt.
Callers put a format version into NAME so that a new converter does not reuse old output.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pathlib
import re
import tempfile
import time
from collections.abc import Callable

import platformdirs

from app.core.workspace import make_private_dirs

CACHE_DIR_ENV = "REKURATOR_CACHE_DIR"
STALE_AFTER_S = 3600.0
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class InvalidModelNameError(ValueError):
    """A cache entry name that is not a plain file name."""


class ModelBuildError(RuntimeError):
    """The build callable did not return bytes."""


def cache_dir() -> pathlib.Path:
    """Rekurator's cache folder: $REKURATOR_CACHE_DIR, else the platform's user cache dir."""
    override = os.environ.get(CACHE_DIR_ENV)
    return pathlib.Path(override) if override else pathlib.Path(platformdirs.user_cache_dir("rekurator"))


def models_dir() -> pathlib.Path:
    return cache_dir() / "models"


def cached_model(name: str, build: Callable[[], bytes]) -> pathlib.Path:
    """Path of the verified cached file NAME, calling `build()` to (re)create it when needed."""
    if not _NAME_RE.match(name) or name.endswith(".sha256"):
        raise InvalidModelNameError(f"model cache name {name!r} must be a plain file name")
    folder = models_dir()
    existing = _verified_entry(folder, name)
    if existing is not None:
        return existing

    data = build()
    if not isinstance(data, (bytes, bytearray)):
        raise ModelBuildError(f"building cached model {name!r} returned {type(data).__name__}, not bytes")
    digest = hashlib.sha256(data).hexdigest()
    make_private_dirs(folder)
    target = folder / f"{name}.{digest}"
    if _file_sha256(target) != digest:
        _write_atomically(target, bytes(data))
    _write_atomically(folder / f"{name}.sha256", (digest + "\n").encode("ascii"))
    _remove_stale_versions(folder, name, keep=target)
    return target


def _verified_entry(folder: pathlib.Path, name: str) -> pathlib.Path | None:
    try:
        digest = (folder / f"{name}.sha256").read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        return None
    target = folder / f"{name}.{digest}"
    return target if _file_sha256(target) == digest else None


def _file_sha256(path: pathlib.Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def _write_atomically(path: pathlib.Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the rename must not land before the bytes do
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _remove_stale_versions(folder: pathlib.Path, name: str, keep: pathlib.Path) -> None:
    """Drop old content files of NAME under other hashes, and temp files of crashed writers.

    Only files untouched for an hour go: a younger one may belong to a concurrent build whose
    caller is about to open it.
    """
    cutoff = time.time() - STALE_AFTER_S
    candidates = [*folder.glob(f"{glob.escape(name)}.*"), *folder.glob(f".{glob.escape(name)}.*.tmp")]
    for path in candidates:
        suffix = path.name[len(name) + 1 :]
        is_content = re.fullmatch(r"[0-9a-f]{64}", suffix) is not None
        if path == keep or not (is_content or path.name.endswith(".tmp")):
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass  # gone already, or in use (Windows): only disk space is at stake
