"""What every detector + descriptor analyzer shares: decode, detect, describe, FaceDetail.

A subclass sets `detector` and implements `_describe(rgb, detections)`; it may drop detections
it cannot use in `_usable` (cheap: live previews run it too), and drop or annotate detections in
`_alignable(rgb, detections)`, which only analyses run, handing `_describe` what it learnt on the
way. The lock serialises the onnxruntime sessions (each uses at most 2 threads), so one analyzer
can be shared by the threads of a process.
"""

from __future__ import annotations

import threading
from typing import Protocol

import cv2
import numpy as np

from app.core.analysis import AnalyzedFace, ImageAnalysis

from . import image_memory
from .face_detail import PREVIEW_SIDE, analyzed_face, jpeg
from .image_decode import decode_image


class FaceDetector(Protocol):
    def detect(self, rgb: np.ndarray) -> list: ...


class PipelineAnalyzer:
    model_version: str
    detector: FaceDetector  # set by the subclass

    def __init__(self):
        self._lock = threading.Lock()

    def _usable(self, detections: list) -> list:
        return detections

    def _alignable(self, rgb: np.ndarray, detections: list) -> list:
        return detections

    def _describe(self, rgb: np.ndarray, detections: list) -> np.ndarray:
        raise NotImplementedError

    def analyze(self, image_bytes: bytes) -> ImageAnalysis:
        """Decode (raising InvalidImageFormatException / ImageTooLargeException) and analyse."""
        # a large image holds its share of the process's image memory until its analysis is done
        with image_memory.reserve(image_bytes):
            decoded = decode_image(image_bytes)
            faces = self.analyze_rgb(decoded.rgb)
            return ImageAnalysis(width=decoded.width, height=decoded.height, faces=faces,
                                 preview=jpeg(decoded.rgb, PREVIEW_SIDE))

    def detect_rgb(self, rgb: np.ndarray) -> list:
        """Detections only (boxes, scores, points), for live previews."""
        with self._lock:
            return self._usable(self.detector.detect(rgb))

    def analyze_rgb(self, rgb: np.ndarray, describe: bool = True, thumbnails: bool = True) -> list[AnalyzedFace]:
        """Faces of an upright RGB uint8 image, in the detector's deterministic order."""
        with self._lock:
            detections = self._alignable(rgb, self._usable(self.detector.detect(rgb)))
            descriptors = (self._describe(rgb, detections) if describe and detections
                           else [None] * len(detections))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return [analyzed_face(rgb, gray, d.box, d.score, d.landmarks, vector, thumbnails)
                for d, vector in zip(detections, descriptors, strict=False)]
