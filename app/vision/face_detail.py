"""Turn one detection (box, score, five points) into the FaceDetail parts every analyzer reports.

Shared by the default (YuNet + dlib) and insightface (SCRFD + ArcFace) analyzers, whose
detectors give the five points in the same physical order: image-left eye, image-right eye,
nose, image-left mouth corner, image-right mouth corner.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.core.analysis import AnalyzedFace

from .face_quality import estimate_pose, estimate_quality

THUMBNAIL_SIDE = 160  # pixels, the longer side of a stored face crop
PREVIEW_SIDE = 1024  # pixels, the longer side of a stored photo preview
LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")
_JPEG_QUALITY = [int(cv2.IMWRITE_JPEG_QUALITY), 85]


def jpeg(rgb: np.ndarray, longest: int) -> bytes:
    """A JPEG of `rgb` shrunk so its longer side is at most `longest` pixels."""
    h, w = rgb.shape[:2]
    scale = min(1.0, longest / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), _JPEG_QUALITY)
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def crop(image: np.ndarray, box_xywh, margin: float = 0.2) -> np.ndarray:
    """The box (grown by `margin` of its size on each side), clipped to the image."""
    x, y, w, h = box_xywh
    h_img, w_img = image.shape[:2]
    left = int(max(0, np.floor(x - margin * w)))
    top = int(max(0, np.floor(y - margin * h)))
    right = int(min(w_img, np.ceil(x + w * (1 + margin))))
    bottom = int(min(h_img, np.ceil(y + h * (1 + margin))))
    if right <= left or bottom <= top:
        return image[:1, :1]
    return image[top:bottom, left:right]


def analyzed_face(rgb: np.ndarray, gray: np.ndarray, box_xywh, score: float, points, descriptor,
                  thumbnail: bool = True) -> AnalyzedFace:
    """An AnalyzedFace with ratio box, 0..100 confidence, named landmarks, pose and quality."""
    h, w = rgb.shape[:2]
    x, y, bw, bh = box_xywh
    left, top = max(0.0, x), max(0.0, y)
    right, bottom = min(float(w), x + bw), min(float(h), y + bh)
    points = np.asarray(points, dtype=np.float64)
    return AnalyzedFace(
        bounding_box={"Width": (right - left) / w, "Height": (bottom - top) / h, "Left": left / w, "Top": top / h},
        confidence=float(min(100.0, score * 100.0)),
        descriptor=np.zeros(0, np.float32) if descriptor is None else np.asarray(descriptor, np.float32),
        landmarks=[{"Type": t, "X": float(px / w), "Y": float(py / h)}
                   for t, (px, py) in zip(LANDMARK_TYPES, points, strict=True)],
        pose=estimate_pose(points),
        quality=estimate_quality(crop(gray, box_xywh, margin=0.0)),
        thumbnail=jpeg(crop(rgb, box_xywh), THUMBNAIL_SIDE) if thumbnail else None,
    )
