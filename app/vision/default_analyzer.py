"""The default face analyzer: YuNet detection -> dlib 5-point landmarks -> dlib face chip ->
dlib ResNet descriptor through ONNX. Fully offline; every model ships with the install.

It implements app.core.analysis.FaceAnalyzer. Face details follow Rekognition's FaceDetail:
- BoundingBox: YuNet's box clipped to the image, as ratios of the (EXIF-upright) image size.
- Confidence: YuNet's score x 100.
- Landmarks: YuNet's five points as eyeLeft/eyeRight/nose/mouthLeft/mouthRight, where "left" is
  the point nearer the image's left edge (as Rekognition reports them for a frontal face).
- Pose and Quality: see face_quality.py.
- OrientationCorrection is not reported: like Rekognition for EXIF-tagged JPEGs, the image is
  turned upright first and every coordinate refers to the upright image.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from app.core.analysis import AnalyzedFace, ImageAnalysis

from .dlib_box import dlib_box
from .dlib_descriptor import DlibDescriptor
from .face_chip import extract_chip
from .face_quality import estimate_pose, estimate_quality
from .image_decode import decode_image
from .shape_predictor import ShapePredictor
from .yunet import YuNetDetector

# Must equal app.core.engine.DEFAULT_FACE_MODEL_VERSION: collections created by default use it.
MODEL_VERSION = "dlib_resnet_v1+yunet_2023mar"

# Photos are detected at up to 960 px on the longer side (webcam frames need no downscaling):
# YuNet's points on a photo shrunk to 640 px moved dlib landmarks enough to cost up to 0.14 in
# descriptor distance on the small faces of the group test photo; at 960 all stay under 0.09.
DETECTION_MAX_SIDE = 960
THUMBNAIL_SIDE = 160  # pixels, the longer side of a stored face crop
PREVIEW_SIDE = 1024  # pixels, the longer side of a stored photo preview
_JPEG_QUALITY = [int(cv2.IMWRITE_JPEG_QUALITY), 85]

# YuNet's point order is: subject's right eye (image-left), left eye, nose, right mouth, left mouth.
_LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")


def _jpeg(rgb: np.ndarray, longest: int) -> bytes:
    h, w = rgb.shape[:2]
    scale = min(1.0, longest / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), _JPEG_QUALITY)
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _crop(rgb: np.ndarray, box_xywh, margin: float = 0.2) -> np.ndarray:
    x, y, w, h = box_xywh
    h_img, w_img = rgb.shape[:2]
    left = int(max(0, np.floor(x - margin * w)))
    top = int(max(0, np.floor(y - margin * h)))
    right = int(min(w_img, np.ceil(x + w * (1 + margin))))
    bottom = int(min(h_img, np.ceil(y + h * (1 + margin))))
    if right <= left or bottom <= top:
        return rgb[:1, :1]
    return rgb[top:bottom, left:right]


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
                             preview=_jpeg(decoded.rgb, PREVIEW_SIDE))

    def detect_rgb(self, rgb: np.ndarray) -> list:
        """YuNet detections only (boxes, scores, points) for live previews."""
        with self._lock:
            return self.detector.detect(rgb)

    def analyze_rgb(self, rgb: np.ndarray, describe: bool = True, thumbnails: bool = True) -> list[AnalyzedFace]:
        """Faces of an upright RGB uint8 image, in YuNet's deterministic order."""
        h, w = rgb.shape[:2]
        with self._lock:
            detections = self.detector.detect(rgb)
            chips = [extract_chip(rgb, self.landmarks.predict(rgb, dlib_box(d.box, d.landmarks))) for d in detections]
            descriptors = self.descriptor.compute(np.stack(chips)) if describe and chips else [None] * len(chips)
        faces = []
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        for det, vector in zip(detections, descriptors):
            x, y, bw, bh = det.box
            left, top = max(0.0, x), max(0.0, y)
            right, bottom = min(float(w), x + bw), min(float(h), y + bh)
            box = {"Width": (right - left) / w, "Height": (bottom - top) / h, "Left": left / w, "Top": top / h}
            points = det.landmarks
            landmarks = [{"Type": t, "X": float(px / w), "Y": float(py / h)} for t, (px, py) in zip(_LANDMARK_TYPES, points)]
            faces.append(AnalyzedFace(
                bounding_box=box,
                confidence=float(min(100.0, det.score * 100.0)),
                descriptor=np.zeros(0, np.float32) if vector is None else np.asarray(vector, np.float32),
                landmarks=landmarks,
                pose=estimate_pose(points),
                quality=estimate_quality(_crop(gray, det.box, margin=0.0)),
                thumbnail=_jpeg(_crop(rgb, det.box), THUMBNAIL_SIDE) if thumbnails else None,
            ))
        return faces


def create_default_analyzer() -> DlibYuNetAnalyzer:
    return DlibYuNetAnalyzer()
