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
- A detection is kept only when dlib's landmark model, started from it, finds the eyes where YuNet
  put them (see MAX_EYE_DISAGREEMENT).
"""

from __future__ import annotations

from dataclasses import dataclass

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
# Photos of up to 480 px (twice their size fits DETECTION_MAX_SIDE) are detected at twice their
# size, as dlib's face_recognition pipeline upsamples every photo once before its HOG detector. On
# the 250 px LFW dev photos, moved by a pixel or mirrored, this is what keeps TNR at similarity 80
# and TAR at FAR 1e-3 at or above dlib's pipeline in every version, and it finds faces down to
# about 10 px wide (14 px without). YuNet then runs on four times the pixels: IndexFaces on photos
# shrunk to 400 px runs at 0.76x the photos/s (README, "Accuracy against dlib's own pipeline").
# Larger photos and webcam frames are detected as they are.
UPSAMPLE_SMALL_PHOTOS = True

# YuNet's eye centres and the eye corners dlib's 5-point model finds from the same detection name
# the same two eyes on a real face: within 0.33 eye spans on every face YuNet finds in the test
# photos and the labelled dev photos, up to 0.77 on faces rolled by 45 degrees. A YuNet false
# detection on a chin and neck puts its "eyes" where dlib finds none (1.65 spans on one dev photo).
# The descriptor of such a detection describes no face: indexed, it is a stray face, and when its
# box is the largest, SearchFacesByImage searches with it (measured by bench/bench_accuracy.py).
MAX_EYE_DISAGREEMENT = 1.0


@dataclass(frozen=True, eq=False)
class AlignedDetection:
    """A YuNet detection (fields as yunet.Detection) with dlib's five landmarks for it."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray  # YuNet's five points, float64 (5, 2), read-only
    dlib_landmarks: np.ndarray  # dlib's 5-point model from the dlib-style box, int64 (5, 2), read-only


def eye_disagreement(yunet_points: np.ndarray, dlib_points: np.ndarray) -> float:
    """Mean distance from YuNet's eye centres to the midpoints of dlib's eye corners, in eye spans.

    YuNet's points start with the subject's right eye, then left; dlib's 5 points are the subject's
    left eye corners, then right eye corners, then the bottom of the nose.
    """
    yunet = np.asarray(yunet_points, dtype=np.float64)
    dlib = np.asarray(dlib_points, dtype=np.float64)
    left_eye = (dlib[0] + dlib[1]) / 2
    right_eye = (dlib[2] + dlib[3]) / 2
    span = max(float(np.linalg.norm(left_eye - right_eye)), 1.0)
    return float(np.linalg.norm(yunet[1] - left_eye) + np.linalg.norm(yunet[0] - right_eye)) / (2.0 * span)


class DlibYuNetAnalyzer(PipelineAnalyzer):
    """Detects with YuNet, aligns with dlib's 5-point model and describes with dlib's ResNet."""

    model_version = MODEL_VERSION

    def __init__(self, detector: YuNetDetector | None = None, landmarks: ShapePredictor | None = None,
                 descriptor: DlibDescriptor | None = None):
        super().__init__()
        self.detector = detector or YuNetDetector(max_side=DETECTION_MAX_SIDE,
                                                  upsample_small=UPSAMPLE_SMALL_PHOTOS)
        self.landmarks = landmarks or ShapePredictor()
        self.descriptor = descriptor or DlibDescriptor()

    def align(self, rgb: np.ndarray, detections: list) -> list[AlignedDetection]:
        """The detections whose eyes dlib's 5-point model finds too, with its landmarks."""
        aligned = []
        for d in detections:
            points = self.landmarks.predict(rgb, dlib_box(d.box, d.landmarks))
            if eye_disagreement(d.landmarks, points) <= MAX_EYE_DISAGREEMENT:
                points.flags.writeable = False
                aligned.append(AlignedDetection(d.box, d.score, d.landmarks, points))
        return aligned

    def _alignable(self, rgb: np.ndarray, detections: list) -> list:
        # analyses only: live previews (detect_rgb) skip the landmark model and show every detection
        return self.align(rgb, detections)

    def _describe(self, rgb: np.ndarray, detections: list) -> np.ndarray:
        return self.descriptor.compute(np.stack([extract_chip(rgb, d.dlib_landmarks) for d in detections]))


def create_default_analyzer() -> DlibYuNetAnalyzer:
    return DlibYuNetAnalyzer()
