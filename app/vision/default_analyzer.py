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

import numpy as np

from .analyzers import DEFAULT_MODEL_VERSION
from .dlib_box import dlib_box
from .dlib_descriptor import DlibDescriptor
from .face_chip import extract_chip
from .pipeline_analyzer import PipelineAnalyzer
from .shape_predictor import ShapePredictor
from .yunet import YuNetDetector

# Also app.core.engine.DEFAULT_FACE_MODEL_VERSION: collections created by default use it.
MODEL_VERSION = DEFAULT_MODEL_VERSION

# Photos are detected at up to 960 px on the longer side (webcam frames need no downscaling):
# YuNet's points on a photo shrunk to 640 px moved dlib landmarks enough to cost up to 0.14 in
# descriptor distance on the small faces of the group test photo; at 960 all stay under 0.09.
DETECTION_MAX_SIDE = 960


class DlibYuNetAnalyzer(PipelineAnalyzer):
    """Detects with YuNet, aligns with dlib's 5-point model and describes with dlib's ResNet."""

    model_version = MODEL_VERSION

    def __init__(self, detector: YuNetDetector | None = None, landmarks: ShapePredictor | None = None,
                 descriptor: DlibDescriptor | None = None):
        super().__init__()
        self.detector = detector or YuNetDetector(max_side=DETECTION_MAX_SIDE)
        self.landmarks = landmarks or ShapePredictor()
        self.descriptor = descriptor or DlibDescriptor()

    def _describe(self, rgb: np.ndarray, detections: list) -> np.ndarray:
        chips = [extract_chip(rgb, self.landmarks.predict(rgb, dlib_box(d.box, d.landmarks))) for d in detections]
        return self.descriptor.compute(np.stack(chips))


def create_default_analyzer() -> DlibYuNetAnalyzer:
    return DlibYuNetAnalyzer()
