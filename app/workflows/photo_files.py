"""Which files are photos to import, and the ExternalImageId each one gets.

Folders are searched in name order, depth first (a folder's entries, sub-folders included, sorted
by name). Photos are chosen by extension (.jpg .jpeg .jpe .png, any case); hidden files and folders
(names starting with '.') are passed over, every other file is counted as skipped. A file named
directly is taken as it is, whatever its name. Sub-folders are searched unless `recursive` is false;
symbolic links to folders are not followed (no loops). A file reached twice is listed once.

ExternalImageId: the file name (`name`), or its path under the folder it was found in with '/'
written as ':' (`path`), or none; characters the service model does not allow become '_' and
only the last 255 characters are kept. FaceIds derive from the image and its ExternalImageId, so
importing the same files the same way again stores nothing new.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from app.core.errors import InvalidParameterException

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png")
ID_SOURCES = ("name", "path", "none")  # where an ExternalImageId comes from
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_.\-:]")  # ExternalImageId pattern (service model)
_MAX_ID_LENGTH = 255


@dataclass(frozen=True)
class PhotoFile:
    path: Path
    relative: PurePath  # under the folder it was found in; a file named directly: its name


@dataclass
class FoundPhotos:
    photos: list[PhotoFile] = field(default_factory=list)
    skipped: int = 0  # files that are not photos (hidden ones not counted)


def is_photo_name(name: str) -> bool:
    return name.lower().endswith(PHOTO_SUFFIXES)


def find_photos(paths: Iterable[str | os.PathLike[str]], recursive: bool = True) -> FoundPhotos:
    """The photos under `paths` (files and folders), in a stable order, each once.

    InvalidParameterException names a path that is neither a file nor a folder.
    """
    found = FoundPhotos()
    seen: set[Path] = set()

    def add(path: Path, relative: PurePath) -> None:
        if path not in seen:
            seen.add(path)
            found.photos.append(PhotoFile(path, relative))

    def walk(folder: Path, under: PurePath) -> None:
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            return  # a folder that cannot be listed holds nothing to import (as os.walk and glob see it)
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            if entry.is_dir():
                if recursive and not entry.is_symlink():
                    walk(path, under / entry.name)
            elif is_photo_name(entry.name):
                add(path, under / entry.name)  # listed even when unreadable: the import says why
            else:
                found.skipped += 1

    for path in map(Path, paths):
        if path.is_dir():
            walk(path, PurePath())
        elif path.is_file():
            add(path, PurePath(path.name))
        else:
            raise InvalidParameterException(f"No such file or folder: {path}")
    return found


def list_photos(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The photo files under `paths`, sub-folders included (see find_photos)."""
    return [photo.path for photo in find_photos(paths).photos]


def external_image_id(relative: PurePath, source: str = "name") -> str | None:
    """The ExternalImageId of a file found at `relative` (see the module notes), None for `none`."""
    if source not in ID_SOURCES:
        raise ValueError(f"ExternalImageId source must be one of {ID_SOURCES}, not {source!r}")
    if source == "none":
        return None
    text = relative.name if source == "name" else ":".join(relative.parts)
    return _NOT_ALLOWED.sub("_", text)[-_MAX_ID_LENGTH:]
