"""A face analyzer for engine tests: it hands back descriptors registered for given bytes.

It satisfies app.core.analysis.FaceAnalyzer, so the engine runs its real IndexFaces and
search paths; only the detection and embedding are replaced (tests only).
"""

from __future__ import annotations

import numpy as np

from app.core.analysis import AnalyzedFace, ImageAnalysis
from app.core.errors import InvalidImageFormatException

MODEL = "dlib_resnet_v1+test"
DIM = 128


def identity_centres(n: int, seed: int = 0) -> np.ndarray:
    """Centres about 1.0 apart, like different people's dlib descriptors."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0 / np.sqrt(2 * DIM), size=(n, DIM)).astype(np.float32)


def face_of(centre: np.ndarray, rng, spread: float = 0.35) -> np.ndarray:
    """A face of the identity at `centre`: same-person pairs land about `spread` apart."""
    return (centre + rng.normal(0.0, spread / np.sqrt(2 * DIM), size=DIM)).astype(np.float32)


def analyzed_face(descriptor, left=0.1, top=0.1, size=0.3, confidence=99.0, **extra) -> AnalyzedFace:
    return AnalyzedFace(
        bounding_box={"Width": size, "Height": size, "Left": left, "Top": top},
        confidence=confidence,
        descriptor=np.asarray(descriptor, dtype=np.float32),
        pose=extra.get("pose", {"Roll": 0.0, "Yaw": 0.0, "Pitch": 0.0}),
        quality=extra.get("quality", {"Brightness": 60.0, "Sharpness": 60.0}),
    )


class RegisteredAnalyzer:
    model_version = MODEL

    def __init__(self):
        self._images: dict[bytes, ImageAnalysis] = {}
        self.calls = 0

    def register(self, data: bytes, faces: list[AnalyzedFace], width: int = 640, height: int = 480,
                 preview: bytes | None = None) -> bytes:
        self._images[data] = ImageAnalysis(width=width, height=height, faces=list(faces), preview=preview)
        return data

    def analyze(self, image_bytes: bytes) -> ImageAnalysis:
        self.calls += 1
        try:
            return self._images[bytes(image_bytes)]
        except KeyError:
            raise InvalidImageFormatException("Request has invalid image format") from None
