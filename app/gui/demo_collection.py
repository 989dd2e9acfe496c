"""The demo offered on a first run: a collection made from the sample photos in resources/samples."""

from __future__ import annotations

from pathlib import Path

from .photo_import import list_photos

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "samples"
DEMO_COLLECTION = "demo"


def sample_photos(folder: Path | None = None) -> list[Path]:
    """The sample photos shipped with the source tree ([] where they are not installed)."""
    folder = SAMPLES_DIR if folder is None else folder
    return list_photos([folder]) if folder.is_dir() else []
