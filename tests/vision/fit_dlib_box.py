"""Dev-time script: fit the fixed transform from YuNet boxes to dlib-detector-style boxes.

dlib's 5-point landmark model was trained on boxes from dlib's HOG face detector, so our
pipeline maps each YuNet box to the box dlib would have drawn before running it. This script
detects faces in the test photos (and scaled and mirrored copies) with both detectors, pairs
them by overlap, and least-squares fits

    dlib_centre_x = mean_x(5 points) + ax * w      dlib_side = side * w   (a square, as dlib's are)
    dlib_centre_y = mean_y(5 points) + ay * w

(w: the YuNet box width). The points' mean is steadier than the YuNet box centre: fitted on the
test photos this gives a mean IoU of ~0.81 with dlib's boxes against ~0.69 for raw YuNet boxes. It prints the constants that app/vision/dlib_box.py keeps.
Needs dlib-bin (a test dependency): .venv/bin/python -m tests.vision.fit_dlib_box
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import dlib
import numpy as np

from app.vision.image_decode import decode_image
from app.vision.yunet import YuNetDetector

DATA = Path(__file__).resolve().parents[1] / "data"


def iou(a, b) -> float:
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    return inter / ((ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter)


def variants(rgb):
    for scale in (0.5, 0.75, 1.0, 1.5):
        img = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        yield img
        yield np.ascontiguousarray(img[:, ::-1])


def pairs():
    hog = dlib.get_frontal_face_detector()
    yunet = YuNetDetector(max_side=4096)
    for path in sorted(DATA.glob("*.jpg")) + sorted(DATA.glob("*.png")):
        rgb = decode_image(path.read_bytes()).rgb
        if max(rgb.shape[:2]) > 1400:
            factor = 1400 / max(rgb.shape[:2])
            rgb = cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        for img in variants(rgb):
            dets = [(r.left(), r.top(), r.right() + 1, r.bottom() + 1) for r in hog(img, 1)]
            for d in yunet.detect(img):
                x, y, w, h = d.box
                best = max(dets, key=lambda b: iou((x, y, x + w, y + h), b), default=None)
                if best is not None and iou((x, y, x + w, y + h), best) > 0.4:
                    yield d, best


def fit():
    rows = list(pairs())
    w = np.array([d.box[2] for d, _ in rows])
    mx = np.array([d.landmarks[:, 0].mean() for d, _ in rows])
    my = np.array([d.landmarks[:, 1].mean() for d, _ in rows])
    db = np.array([b for _, b in rows], dtype=np.float64)
    dcx, dcy, dw = (db[:, 0] + db[:, 2]) / 2, (db[:, 1] + db[:, 3]) / 2, db[:, 2] - db[:, 0]
    ax = float(np.sum((dcx - mx) * w) / np.sum(w * w))
    ay = float(np.sum((dcy - my) * w) / np.sum(w * w))
    side = float(np.sum(dw * w) / np.sum(w * w))
    cx, cy, half = mx + ax * w, my + ay * w, side * w / 2
    ious = [iou((cx[i] - half[i], cy[i] - half[i], cx[i] + half[i], cy[i] + half[i]), db[i]) for i in range(len(rows))]
    raw = [iou((d.box[0], d.box[1], d.box[0] + d.box[2], d.box[1] + d.box[3]), b) for d, b in rows]
    return {"pairs": len(rows), "ax": ax, "ay": ay, "side": side, "mean_iou_after_fit": float(np.mean(ious)),
            "min_iou_after_fit": float(np.min(ious)), "mean_iou_raw_yunet": float(np.mean(raw))}


if __name__ == "__main__":
    print(json.dumps(fit(), indent=2))
