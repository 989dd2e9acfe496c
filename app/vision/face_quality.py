"""Pose and quality estimates for FaceDetail, from the five detector points and the face crop.

Rekognition does not publish how it computes these; ours are simple and documented:
- Roll: angle of the line from the image-left eye to the image-right eye, in degrees.
- Yaw: how far the nose sits from the vertical midline of eyes and mouth, relative to half the
  eye distance, as asin(offset) in degrees (positive: nose right of the midline in the image).
- Pitch: where the nose sits between the eye line and the mouth line, compared with a frontal
  face (NOSE_RATIO_FRONTAL), scaled to degrees (positive: face tilted up).
- Brightness: mean grey level of the face box, 0..100.
- Sharpness: variance of the Laplacian of the face box resampled to 128x128 grey, v, mapped to
  0..100 as 100 * v / (v + SHARPNESS_HALF) (a value of SHARPNESS_HALF scores 50).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

NOSE_RATIO_FRONTAL = 0.52  # (nose - eyes) / (mouth - eyes), measured on frontal test photos
PITCH_DEGREES_PER_RATIO = 150.0
SHARPNESS_HALF = 100.0


def estimate_pose(points) -> dict:
    """Roll, Yaw, Pitch in degrees from YuNet-ordered points (eyes, nose, mouth corners)."""
    p = np.asarray(points, dtype=np.float64)
    eye_l, eye_r, nose, mouth_l, mouth_r = p
    roll = math.degrees(math.atan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0]))
    # undo the roll around the eye midpoint so yaw and pitch are read in the face's own frame
    c, s = math.cos(math.radians(-roll)), math.sin(math.radians(-roll))
    centre = (eye_l + eye_r) / 2
    rot = (p - centre) @ np.array([[c, s], [-s, c]])
    eye_l, eye_r, nose, mouth_l, mouth_r = rot
    half_eyes = max(np.linalg.norm(eye_r - eye_l) / 2, 1e-6)
    mouth = (mouth_l + mouth_r) / 2
    midline = (0.0 + mouth[0]) / 2
    yaw = math.degrees(math.asin(float(np.clip((nose[0] - midline) / half_eyes, -1.0, 1.0))))
    span = mouth[1]  # eyes are at y = 0 after the shift
    ratio = nose[1] / span if abs(span) > 1e-6 else NOSE_RATIO_FRONTAL
    pitch = float(np.clip((NOSE_RATIO_FRONTAL - ratio) * PITCH_DEGREES_PER_RATIO, -90.0, 90.0))
    return {"Roll": round(roll, 3), "Yaw": round(yaw, 3), "Pitch": round(pitch, 3)}


def estimate_quality(gray_face: np.ndarray) -> dict:
    """Brightness and Sharpness (0..100) of a grey face crop."""
    if gray_face.size == 0:
        return {"Brightness": 0.0, "Sharpness": 0.0}
    brightness = float(gray_face.mean()) / 255.0 * 100.0
    small = cv2.resize(gray_face, (128, 128), interpolation=cv2.INTER_AREA)
    v = float(cv2.Laplacian(small, cv2.CV_64F).var())
    return {"Brightness": round(brightness, 3), "Sharpness": round(100.0 * v / (v + SHARPNESS_HALF), 3)}
