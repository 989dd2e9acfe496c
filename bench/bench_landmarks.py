"""Median ms per face: our ShapePredictor.predict and extract_chip vs dlib's own, same faces.

Faces: dlib's HOG detections in tests/data (obama*.jpg, biden.jpg) plus obama.jpg upscaled
2.5x (a large face, so the chip goes through dlib's pyramid_down<2> path). Also checks that
every result is identical to dlib's. Prints one JSON line per measurement.
Run: .venv/bin/python bench/bench_landmarks.py [--repeats N]   (needs dlib-bin)
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dlib  # noqa: E402

from app.vision.dlib_models import model_path  # noqa: E402
from app.vision.face_chip import chip_transform, extract_chip, plan_chip  # noqa: E402
from app.vision.shape_predictor import MODEL_FILE, ShapePredictor  # noqa: E402


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def median_ms(call, repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(times), 3)


def load_faces(detector):
    images = {}
    for name in ("obama", "obama2", "obama3", "biden"):
        images[name] = cv2.cvtColor(cv2.imread(str(ROOT / "tests" / "data" / f"{name}.jpg")), cv2.COLOR_BGR2RGB)
    images["obama_x2.5"] = cv2.resize(images["obama"], None, fx=2.5, fy=2.5, interpolation=cv2.INTER_LINEAR)
    faces = []
    for name, img in images.items():
        img = np.ascontiguousarray(img)
        for rect in detector(img, 0):
            faces.append((name, img, rect))
    return faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    t0 = time.perf_counter()
    ours = ShapePredictor()
    emit(measure="parse_shape_predictor", seconds=round(time.perf_counter() - t0, 3))
    reference = dlib.shape_predictor(str(model_path(MODEL_FILE)))
    faces = load_faces(dlib.get_frontal_face_detector())

    rows = []
    for name, img, rect in faces:
        box = (rect.left(), rect.top(), rect.right(), rect.bottom())
        detection = reference(img, rect)
        landmarks = ours.predict(img, box)
        same_landmarks = bool(np.array_equal(landmarks, [[p.x, p.y] for p in detection.parts()]))
        same_chip = bool(np.array_equal(extract_chip(img, landmarks), dlib.get_face_chip(img, detection, 150, 0.25)))
        row = {
            "face": name,
            "box_width": rect.width(),
            "pyramid_level": plan_chip(img.shape, chip_transform(landmarks)).level,
            "predict_ms": median_ms(lambda: ours.predict(img, box), args.repeats),
            "dlib_predict_ms": median_ms(lambda: reference(img, rect), args.repeats),
            "chip_ms": median_ms(lambda: extract_chip(img, landmarks), args.repeats),
            "dlib_chip_ms": median_ms(lambda: dlib.get_face_chip(img, detection, 150, 0.25), args.repeats),
            "same_landmarks": same_landmarks,
            "same_chip": same_chip,
        }
        row["predict_ratio"] = round(row["predict_ms"] / row["dlib_predict_ms"], 2)
        row["chip_ratio"] = round(row["chip_ms"] / row["dlib_chip_ms"], 2)
        rows.append(row)
        emit(measure="face", **row)

    emit(
        measure="summary",
        faces=len(rows),
        all_identical=all(r["same_landmarks"] and r["same_chip"] for r in rows),
        predict_ms=statistics.median(r["predict_ms"] for r in rows),
        dlib_predict_ms=statistics.median(r["dlib_predict_ms"] for r in rows),
        chip_ms=statistics.median(r["chip_ms"] for r in rows),
        dlib_chip_ms=statistics.median(r["dlib_chip_ms"] for r in rows),
    )


if __name__ == "__main__":
    main()
