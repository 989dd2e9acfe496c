"""The face-analysis interface the engine calls for image-taking operations.

The engine never imports a vision backend: it is handed an object that satisfies
`FaceAnalyzer` (the real one lives in app.vision; tests may pass their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class AnalyzedFace:
    """One detected face, described the way Rekognition's FaceDetail shapes it.

    `bounding_box` and landmark coordinates are ratios of the image size (after any EXIF
    rotation). `descriptor` is the raw embedding of the model named by the analyzer's
    `model_version` (float32, 1-D).
    """

    bounding_box: dict  # {"Width", "Height", "Left", "Top"} as ratios
    confidence: float  # detector confidence, 0..100
    descriptor: np.ndarray
    landmarks: list = field(default_factory=list)  # [{"Type": "eyeLeft", "X": .., "Y": ..}, ...]
    pose: dict = field(default_factory=dict)  # {"Roll", "Yaw", "Pitch"} in degrees
    quality: dict = field(default_factory=dict)  # {"Brightness", "Sharpness"} 0..100
    thumbnail: bytes | None = None  # JPEG of the face crop, for the curation window

    def face_detail(self) -> dict:
        """The FaceDetail dict for responses (DEFAULT attributes)."""
        detail = {"BoundingBox": dict(self.bounding_box), "Confidence": float(self.confidence)}
        if self.landmarks:
            detail["Landmarks"] = [dict(lm) for lm in self.landmarks]
        if self.pose:
            detail["Pose"] = dict(self.pose)
        if self.quality:
            detail["Quality"] = dict(self.quality)
        return detail


@dataclass(frozen=True)
class ImageAnalysis:
    """Everything the analyzer found in one image."""

    width: int  # pixels, after EXIF rotation
    height: int
    faces: list  # list[AnalyzedFace], in a deterministic order (the face's "place")
    orientation_correction: str | None = None  # ROTATE_0/90/180/270 when EXIF rotated it
    preview: bytes | None = None  # downscaled JPEG of the whole (upright) photo


@runtime_checkable
class FaceAnalyzer(Protocol):
    """Detects and describes faces.

    `analyze` raises app.core.errors.InvalidImageFormatException or ImageTooLargeException
    for bytes it cannot read; an image with no face gives an ImageAnalysis with no faces.
    """

    model_version: str  # e.g. "dlib_resnet_v1+yunet_2023mar"; names descriptor and detector

    def analyze(self, image_bytes: bytes) -> ImageAnalysis: ...
