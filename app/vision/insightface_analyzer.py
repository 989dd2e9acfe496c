"""A FaceAnalyzer over an insightface model pack: SCRFD detection + ArcFace descriptors.

Used when the user points Rekurator at a pack folder (see analyzers.py). Its model version names both weight files by
their sha256 prefixes ("arcface_1a2b3c4d+scrfd_5e6f7a8b"), so collections created with one
pack are never compared with another pack's faces.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from app.core.analysis import AnalyzedFace, ImageAnalysis

from .arcface import ArcFaceEmbedder, arcface_align
from .face_detail import PREVIEW_SIDE, analyzed_face, jpeg
from .image_decode import decode_image
from .insightface_pack import ModelPackError, file_sha256, find_pack_models
from .scrfd import ScrfdDetector


def pack_model_version(pack_dir: str | os.PathLike) -> str:
    """The model version an analyzer over this pack reports, without loading the models."""
    models = find_pack_models(pack_dir)
    return f"arcface_{file_sha256(models.recognizer_path)[:8]}+scrfd_{file_sha256(models.detector_path)[:8]}"


class InsightfaceAnalyzer:
    def __init__(self, pack_dir: str | os.PathLike):
        models = find_pack_models(pack_dir)
        if not models.detector_has_landmarks:
            raise ModelPackError(f"{models.detector_path}: this detector gives no facial points, so faces cannot be aligned")
        self.detector = ScrfdDetector(models.detector_path)
        self.embedder = ArcFaceEmbedder(models.recognizer_path)
        self.model_version = f"{self.embedder.version}+{self.detector.version}"
        self.pack_dir = Path(pack_dir)
        self._lock = threading.Lock()

    def analyze(self, image_bytes: bytes) -> ImageAnalysis:
        decoded = decode_image(image_bytes)
        return ImageAnalysis(width=decoded.width, height=decoded.height, faces=self.analyze_rgb(decoded.rgb),
                             preview=jpeg(decoded.rgb, PREVIEW_SIDE))

    def detect_rgb(self, rgb: np.ndarray) -> list:
        with self._lock:
            return self.detector.detect(rgb)

    def analyze_rgb(self, rgb: np.ndarray, describe: bool = True, thumbnails: bool = True) -> list[AnalyzedFace]:
        with self._lock:
            # a detection whose five points (nearly) coincide cannot be aligned: not a usable face
            detections = [d for d in self.detector.detect(rgb) if np.ptp(d.landmarks, axis=0).max() >= 1.0]
            descriptors = [None] * len(detections)
            if describe and detections:
                descriptors = self.embedder.compute(np.stack([arcface_align(rgb, d.landmarks) for d in detections]))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return [analyzed_face(rgb, gray, d.box, d.score, d.landmarks, vector, thumbnails)
                for d, vector in zip(detections, descriptors)]
