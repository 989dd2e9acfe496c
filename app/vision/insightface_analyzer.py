"""A FaceAnalyzer over an insightface model pack: SCRFD detection + ArcFace descriptors.

Used when the user points Rekurator at a pack folder (see analyzers.py). Its model version names both weight files by
their sha256 prefixes ("arcface_1a2b3c4d+scrfd_5e6f7a8b"), so collections created with one
pack are never compared with another pack's faces.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .arcface import ArcFaceEmbedder, arcface_align
from .insightface_pack import ModelPackError, file_sha256, find_pack_models
from .pipeline_analyzer import PipelineAnalyzer
from .scrfd import ScrfdDetector


def pack_model_version(pack_dir: str | os.PathLike) -> str:
    """The model version an analyzer over this pack reports, without loading the models."""
    models = find_pack_models(pack_dir)
    return f"arcface_{file_sha256(models.recognizer_path)[:8]}+scrfd_{file_sha256(models.detector_path)[:8]}"


class InsightfaceAnalyzer(PipelineAnalyzer):
    def __init__(self, pack_dir: str | os.PathLike):
        super().__init__()
        models = find_pack_models(pack_dir)
        if not models.detector_has_landmarks:
            raise ModelPackError(f"{models.detector_path}: this detector gives no facial points, so faces cannot be aligned")
        detector = ScrfdDetector(models.detector_path)
        self.detector = detector
        self.embedder = ArcFaceEmbedder(models.recognizer_path)
        self.model_version = f"{self.embedder.version}+{detector.version}"
        self.pack_dir = Path(pack_dir)

    def _usable(self, detections: list) -> list:
        # a detection whose five points (nearly) coincide cannot be aligned: not a usable face
        return [d for d in detections if np.ptp(d.landmarks, axis=0).max() >= 1.0]

    def _describe(self, rgb: np.ndarray, detections: list) -> np.ndarray:
        return self.embedder.compute(np.stack([arcface_align(rgb, d.landmarks) for d in detections]))
