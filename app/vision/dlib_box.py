"""Map a YuNet detection to the box dlib's detector would have drawn.

dlib's 5-point landmark model was trained on boxes from dlib's own HOG detector, so it is fed a
box of that shape: a square centred on the mean of YuNet's five points (shifted by a fraction
of the face width) with a side proportional to the YuNet box width.

The constants were fitted by tests/vision/fit_dlib_box.py (least squares over 96 face pairs
from the test photos at four scales and mirrored): mean IoU with dlib's boxes 0.81, against
0.69 for raw YuNet boxes. Rerun that script if the detector changes. Refitted on the boxes of the
default analyzer's detector (small photos at twice their size, large ones downscaled), the mean
IoU moved from 0.808 to 0.811 and the dev-photo accuracy did not improve, so these stayed (README,
"Accuracy against dlib's own pipeline").
"""

from __future__ import annotations

import numpy as np

CENTRE_SHIFT_X = 0.00055  # times the YuNet box width
CENTRE_SHIFT_Y = -0.00386
SIDE = 1.0970


def dlib_box(box_xywh, landmarks5) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) with dlib's inclusive right/bottom, in integer pixels."""
    w = float(box_xywh[2])
    points = np.asarray(landmarks5, dtype=np.float64)
    cx = points[:, 0].mean() + CENTRE_SHIFT_X * w
    cy = points[:, 1].mean() + CENTRE_SHIFT_Y * w
    side = max(1, int(round(SIDE * w)))
    left = int(round(cx - side / 2))
    top = int(round(cy - side / 2))
    return left, top, left + side - 1, top + side - 1
