"""The default face analyzer: YuNet detection -> dlib 5-point landmarks -> dlib face chip ->
dlib ResNet descriptor through ONNX. Fully offline; every model ships with the install.

It implements app.core.analysis.FaceAnalyzer. Face details follow Rekognition's FaceDetail:
- BoundingBox: YuNet's box clipped to the image, as ratios of the (EXIF-upright) image size.
- Confidence: YuNet's score x 100.
- Landmarks: YuNet's five points as eyeLeft/eyeRight/nose/mouthLeft/mouthRight, where "left" is
  the point nearer the image's left edge (as Rekognition reports them for a frontal face).
- Pose and Quality: see face_quality.py; the shared FaceDetail building is in face_detail.py.
- OrientationCorrection is not reported: like Rekognition for EXIF-tagged JPEGs, the image is
  turned upright first and every coordinate refers to the upright image.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from app.core.analysis import AnalyzedFace, ImageAnalysis

from .analyzers import DEFAULT_MODEL_VERSION
from .dlib_box import dlib_box
from .dlib_descriptor import DlibDescriptor
from .face_chip import extract_chip
from .face_detail import PREVIEW_SIDE, analyzed_face, jpeg
from .image_decode import decode_image
from .shape_predictor import ShapePredictor
from .yunet import YuNetDetector

# Also app.core.engine.DEFAULT_FACE_MODEL_VERSION: collections created by default use it.
MODEL_VERSION = DEFAULT_MODEL_VERSION

# Photos are detected at up to 960 px on the longer side (webcam frames need no downscaling):
# YuNet's points on a photo shrunk to 640 px moved dlib landmarks enough to cost up to 0.14 in
# descriptor distance on the small faces of the group test photo; at 960 all stay under 0.09.
DETECTION_MAX_SIDE = 960


class DlibYuNetAnalyzer:
    """Detects, aligns and describes faces. One instance per thread of use is not required:
    a lock serialises the onnxruntime sessions, which each use at most 2 threads."""

    model_version = MODEL_VERSION

    def __init__(self, detector: YuNetDetector | None = None, landmarks: ShapePredictor | None = None,
                 descriptor: DlibDescriptor | None = None):
        self.detector = detector or YuNetDetector(max_side=DETECTION_MAX_SIDE)
        self.landmarks = landmarks or ShapePredictor()
        self.descriptor = descriptor or DlibDescriptor()
        self._lock = threading.Lock()

    def analyze(self, image_bytes: bytes) -> ImageAnalysis:
        """Decode (raising InvalidImageFormatException / ImageTooLargeException) and analyse."""
        decoded = decode_image(image_bytes)
        faces = self.analyze_rgb(decoded.rgb)
        return ImageAnalysis(width=decoded.width, height=decoded.height, faces=faces,
                             preview=jpeg(decoded.rgb, PREVIEW_SIDE))

    def detect_rgb(self, rgb: np.ndarray) -> list:
        """YuNet detections only (boxes, scores, points) for live previews."""
        with self._lock:
            return self.detector.detect(rgb)

    def analyze_rgb(self, rgb: np.ndarray, describe: bool = True, thumbnails: bool = True) -> list[AnalyzedFace]:
        """Faces of an upright RGB uint8 image, in YuNet's deterministic order."""
        with self._lock:
            detections = self.detector.detect(rgb)
            descriptors = [None] * len(detections)
            if describe and detections:
                chips = [extract_chip(rgb, self.landmarks.predict(rgb, dlib_box(d.box, d.landmarks))) for d in detections]
                descriptors = self.descriptor.compute(np.stack(chips))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return [analyzed_face(rgb, gray, d.box, d.score, d.landmarks, vector, thumbnails)
                for d, vector in zip(detections, descriptors)]


def create_default_analyzer() -> DlibYuNetAnalyzer:
    return DlibYuNetAnalyzer()
