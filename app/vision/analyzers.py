"""Which face analyzer the applications use, chosen without loading any model.

The default is dlib's ResNet on YuNet detections. Naming an insightface model pack folder
(`--model-pack DIR`, or the REKURATOR_MODEL_PACK environment variable) switches to SCRFD +
ArcFace from that pack. The engine gets a factory (models load on the first image operation)
and the model version new collections are bound to.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.analysis import FaceAnalyzer

MODEL_PACK_ENV = "REKURATOR_MODEL_PACK"
# The default analyzer's model version (app.vision.default_analyzer reports the same); kept here
# so choosing it does not import onnxruntime.
DEFAULT_MODEL_VERSION = "dlib_resnet_v1+yunet_2023mar"


def _default_analyzer() -> FaceAnalyzer:
    from .default_analyzer import create_default_analyzer

    return create_default_analyzer()


def analyzer_choice(model_pack: str | os.PathLike | None = None) -> tuple[Callable[[], FaceAnalyzer], str]:
    """(analyzer factory, face model version) for the named pack, else the default models."""
    pack = model_pack or os.environ.get(MODEL_PACK_ENV)
    if pack:
        from .insightface_analyzer import InsightfaceAnalyzer, pack_model_version

        return (lambda: InsightfaceAnalyzer(pack)), pack_model_version(pack)
    return _default_analyzer, DEFAULT_MODEL_VERSION
