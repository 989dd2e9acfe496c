"""Per-model calibrated similarity: Euclidean descriptor distance -> 0..100.

One curve per descriptor family, chosen so a threshold means the same thing whatever model a
collection uses: 80 (the search default) sits at the model's published same-person distance.
The curve is a logistic in distance, rescaled so distance 0 scores exactly 100:

    s(d) = 100 * (1 + exp(-a*c)) / (1 + exp(a*(d - c)))

with steepness `a` per family and `c` solved in closed form so that s(d80) = 80.
It is smooth and strictly decreasing; `max_distance` is its exact inverse.

Users are represented by the mean of their face descriptors. A mean of k faces sits closer to
a new face of the same person than any single face does (for isotropic spread, expected squared
distance shrinks from 2*sigma^2 to (1 + 1/k)*sigma^2), so distances between two means of k1 and
k2 faces are scaled by sqrt(2 / (1/k1 + 1/k2)) before the curve; a single face (k = 1) against a
one-face user is then scored exactly like two faces. (Ours: documented in the README.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InvalidParameterException


@dataclass(frozen=True)
class SimilarityScale:
    family: str
    d80: float  # the model's published same-person distance threshold -> similarity 80
    steepness: float

    @property
    def _c(self) -> float:
        a = self.steepness
        u = 0.2 / (0.8 * math.exp(a * self.d80) - 1.0)
        return -math.log(u) / a

    def similarity(self, distance):
        """0..100 for a distance (scalar or numpy array)."""
        a, c = self.steepness, self._c
        d = np.maximum(np.asarray(distance, dtype=np.float64), 0.0)
        s = 100.0 * (1.0 + math.exp(-a * c)) / (1.0 + np.exp(np.minimum(a * (d - c), 700.0)))
        s = np.clip(s, 0.0, 100.0)
        return float(s) if np.ndim(s) == 0 else s

    def max_distance(self, similarity: float) -> float:
        """The largest distance whose similarity is still >= `similarity`."""
        if similarity <= 0:
            return math.inf
        if similarity >= 100:
            return 0.0
        a, c = self.steepness, self._c
        return max(0.0, c + math.log(100.0 * (1.0 + math.exp(-a * c)) / similarity - 1.0) / a)


# dlib's ResNet: Euclidean distance 0.6 is the published same-person threshold.
DLIB_RESNET = SimilarityScale("dlib_resnet", d80=0.6, steepness=10.0)
# ArcFace (L2-normalised 512-d): cosine ~0.35 as same-person threshold -> distance sqrt(2 - 2*0.35).
ARCFACE = SimilarityScale("arcface", d80=math.sqrt(2 - 2 * 0.35), steepness=6.0)

_SCALES = {"dlib_resnet": DLIB_RESNET, "arcface": ARCFACE}


def scale_for(model_version: str) -> SimilarityScale:
    """The curve for a collection's FaceModelVersion ("<descriptor>+<detector>")."""
    descriptor = model_version.split("+", 1)[0]
    for prefix, scale in _SCALES.items():
        if descriptor.startswith(prefix):
            return scale
    raise InvalidParameterException(f"No similarity calibration is known for face model '{model_version}'")


def mean_distance_factor(k1, k2):
    """Scale for a distance between means of k1 and k2 descriptors (1 for two single faces)."""
    return np.sqrt(2.0 / (1.0 / np.asarray(k1, dtype=np.float64) + 1.0 / np.asarray(k2, dtype=np.float64)))
