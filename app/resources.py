"""Where the read-only resources (models, sample photos, report schema, icons) live in this install.

The files are kept in the repository's top-level `resources/` folder and keep that folder's
layout wherever they end up:
- a PyInstaller bundle carries them in `<sys._MEIPASS>/resources` (packaging/rekurator.spec);
- a source checkout, or an editable install of one, reads them in place;
- a wheel installs them as data files under `<prefix>/share/rekurator` (pyproject.toml's
  [tool.setuptools.data-files]); `<prefix>` is the venv, `/usr/local`, `~/.local`..., so the
  wheel's own file list (RECORD) says where they went.
Qt-free: the engine, the CLI and the server resolve their files here too.
"""

from __future__ import annotations

import importlib.metadata
import site
import sys
from pathlib import Path

DISTRIBUTION = "rekurator"
# A file every complete resources folder has: a folder without it is someone else's "resources".
MARKER = "report.schema.json"
DATA_SUBDIR = ("share", "rekurator")

YUNET_MODEL = ("models", "face_detection_yunet_2023mar.onnx")
SAMPLES = ("samples",)
REPORT_SCHEMA = ("report.schema.json",)
APP_ID = "io.github.rekurator.Rekurator"


def candidate_dirs() -> list[Path]:
    """The places looked at, most specific first."""
    candidates = []
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        candidates.append(Path(bundle) / "resources")
    candidates.append(Path(__file__).resolve().parents[1] / "resources")
    installed = _installed_dir()
    if installed is not None:
        candidates.append(installed)
    for prefix in (sys.prefix, getattr(site, "USER_BASE", None)):
        if prefix:
            candidates.append(Path(prefix).joinpath(*DATA_SUBDIR))
    unique = []
    for path in candidates:
        if path not in unique:
            unique.append(path)
    return unique


def resources_dir() -> Path:
    """The first candidate holding a complete resources folder.

    Never raises (modules compute default paths from it at import time): when no candidate is
    complete it returns the first one, and opening a file there fails naming the full path.
    """
    candidates = candidate_dirs()
    for path in candidates:
        if (path / MARKER).is_file():
            return path
    return candidates[0]


def resource_path(*parts: str) -> Path:
    """A path inside the resources folder, e.g. resource_path("models", "x.onnx")."""
    if not parts or any(not part or Path(part).is_absolute() or ".." in Path(part).parts for part in parts):
        raise ValueError(f"resource_path needs relative path parts inside the resources folder, got {parts!r}")
    return resources_dir().joinpath(*parts)


def icon_files() -> list[Path]:
    """The application icon: the scalable SVG first, then the PNG sizes that are present."""
    hicolor = resources_dir() / "icons" / "hicolor"
    files = [hicolor / "scalable" / "apps" / f"{APP_ID}.svg"]
    files += sorted(hicolor.glob(f"*x*/apps/{APP_ID}.png"), key=lambda p: int(p.parts[-3].split("x")[0]))
    return [path for path in files if path.is_file()]


def _installed_dir() -> Path | None:
    """Where an installed wheel put its data files, read from the distribution's RECORD."""
    try:
        files = importlib.metadata.distribution(DISTRIBUTION).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    tail = (*DATA_SUBDIR, MARKER)
    for entry in files:
        if tuple(entry.parts[-len(tail):]) == tail:
            return Path(entry.locate()).resolve().parent
    return None
