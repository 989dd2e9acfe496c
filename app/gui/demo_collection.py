"""The demo offered on a first run: a collection made from the sample photos in resources/samples."""

from __future__ import annotations

from pathlib import Path

from app.resources import SAMPLES, resource_path
from app.workflows.photo_files import list_photos

SAMPLES_DIR = resource_path(*SAMPLES)
DEMO_COLLECTION = "demo"


def sample_photos(folder: Path | None = None) -> list[Path]:
    """The sample photos shipped with this install ([] where they are not installed)."""
    folder = SAMPLES_DIR if folder is None else folder
    return list_photos([folder]) if folder.is_dir() else []
