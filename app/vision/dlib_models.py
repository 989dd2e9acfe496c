"""Where the dlib model files of the `face_recognition_models` package live on disk.

The package is located without importing it: its __init__ imports pkg_resources, which
recent setuptools no longer ships, and we only need the directory of its data files.
"""

from __future__ import annotations

import importlib.util
import pathlib

PACKAGE = "face_recognition_models"

# Only the CC0 models we use; the 68-point predictor is left out on purpose (its training
# data, iBUG 300-W, is not licensed for commercial use).
KNOWN_MODEL_FILES = frozenset(
    {
        "dlib_face_recognition_resnet_model_v1.dat",
        "shape_predictor_5_face_landmarks.dat",
        "mmod_human_face_detector.dat",
    }
)


class ModelFileMissingError(FileNotFoundError):
    """The model package or one of its files is not installed."""


class UnknownModelFileError(ValueError):
    """A model file name that is not one of KNOWN_MODEL_FILES."""


def _package_dirs() -> list[pathlib.Path]:
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileMissingError(
            f"the Python package {PACKAGE!r} is not installed; install it with "
            f"'pip install {PACKAGE}' to get dlib's face models"
        )
    return [pathlib.Path(p) for p in spec.submodule_search_locations]


def model_path(name: str) -> pathlib.Path:
    """Absolute path of one of dlib's model files shipped by `face_recognition_models`."""
    if name not in KNOWN_MODEL_FILES:
        raise UnknownModelFileError(
            f"unknown dlib model file {name!r}; expected one of {sorted(KNOWN_MODEL_FILES)}"
        )
    dirs = _package_dirs()
    for directory in dirs:
        candidate = directory / "models" / name
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(d / "models") for d in dirs)
    raise ModelFileMissingError(
        f"dlib model file {name!r} not found in {searched}; reinstall {PACKAGE!r}"
    )
