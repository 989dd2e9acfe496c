"""Dev-time script: do other alignment choices verify better on the labelled dev photos?

For each photo of ../shared/datasets/{lfw-dev,web-dev}, the default analyzer's faces (after its
eye-agreement check) are aligned and described in several ways; each way is scored with the
metrics of bench/bench_accuracy.py (largest face per photo, all photo pairs): TAR and TNR at
similarity >= 80, TAR at FAR 1e-3 and 1e-2. The variants:
- default: dlib's 5-point model from the dlib-style box (dlib_box.py), as the analyzer does;
- dlib_box: from the box of dlib's own HOG detector where it found the face (its pipeline exactly);
- box_refit: the box with a side of 1.12 YuNet widths and its centre 3 px to the left, the
  relation measured between YuNet and dlib boxes on the dev photos themselves;
- landmarks_mirrored: landmarks averaged with those found on the mirrored image (rounded);
- landmarks_three_scales: landmarks averaged over boxes 0.95, 1 and 1.05 times as large (rounded);
- descriptor_mirrored: the descriptor averaged with the mirrored chip's (like dlib's jitter).
Needs dlib-bin and the photos; about five minutes on two cores:
.venv/bin/python -m tests.vision.compare_alignment_variants
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

import dlib
import numpy as np

from app.vision.default_analyzer import DlibYuNetAnalyzer
from app.vision.dlib_box import SIDE, dlib_box
from app.vision.face_chip import extract_chip
from app.vision.image_decode import decode_image

BENCH_PATH = Path(__file__).resolve().parents[2] / "bench" / "bench_accuracy.py"
# the dlib points that swap places in a mirror image: left eye corners <-> right eye corners
MIRRORED_ORDER = [2, 3, 0, 1, 4]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_accuracy", BENCH_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_accuracy"] = module
    spec.loader.exec_module(module)
    return module


bench_module = load_bench()


class Photo:
    """One decoded photo with our detections and dlib's HOG boxes."""

    def __init__(self, rgb: np.ndarray, detections: list, hog_boxes: list[tuple[int, int, int, int]]):
        self.rgb = rgb
        self.detections = detections
        self.hog_boxes = hog_boxes
        self._mirrored: np.ndarray | None = None

    @property
    def mirrored(self) -> np.ndarray:
        if self._mirrored is None:
            self._mirrored = np.ascontiguousarray(self.rgb[:, ::-1])
        return self._mirrored


def variants(analyzer: DlibYuNetAnalyzer, bench) -> dict[str, Callable[[Photo, object], np.ndarray]]:
    """name -> describe(photo, detection) giving a 128-d descriptor."""
    predict, net = analyzer.landmarks.predict, analyzer.descriptor

    def describe(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        return net.compute(extract_chip(rgb, points)[None])[0]

    def default(photo: Photo, d) -> np.ndarray:
        return describe(photo.rgb, d.dlib_landmarks)

    def from_dlib_box(photo: Photo, d) -> np.ndarray:
        box = bench.inclusive_to_xyxy(dlib_box(d.box, d.landmarks))
        def overlap(b: tuple[int, int, int, int]) -> float:
            return bench.iou_xyxy(box, bench.inclusive_to_xyxy(b))

        best = max(photo.hog_boxes, key=overlap, default=None)
        if best is None or overlap(best) < 0.3:
            return default(photo, d)
        return describe(photo.rgb, predict(photo.rgb, best))

    def box_refit(photo: Photo, d) -> np.ndarray:
        x, y, w, h = d.box
        scale = 1.12 / SIDE  # dlib_box makes the side SIDE * w
        box = dlib_box((x - 3.0, y, w * scale, h), np.asarray(d.landmarks) - [3.0, 0.0])
        return describe(photo.rgb, predict(photo.rgb, box))

    def landmarks_mirrored(photo: Photo, d) -> np.ndarray:
        left, top, right, bottom = dlib_box(d.box, d.landmarks)
        last = photo.rgb.shape[1] - 1
        seen = predict(photo.mirrored, (last - right, top, last - left, bottom))
        seen = seen[MIRRORED_ORDER].astype(np.float64)
        seen[:, 0] = last - seen[:, 0]
        return describe(photo.rgb, np.floor((d.dlib_landmarks + seen) / 2 + 0.5).astype(np.int64))

    def landmarks_three_scales(photo: Photo, d) -> np.ndarray:
        x, y, w, h = d.box
        found = [predict(photo.rgb, dlib_box((x, y, w * s, h), d.landmarks)) for s in (0.95, 1.0, 1.05)]
        return describe(photo.rgb, np.floor(np.mean(found, axis=0) + 0.5).astype(np.int64))

    def descriptor_mirrored(photo: Photo, d) -> np.ndarray:
        chip = extract_chip(photo.rgb, d.dlib_landmarks)
        return net.compute(np.stack([chip, np.ascontiguousarray(chip[:, ::-1])])).mean(axis=0)

    return {"default": default, "dlib_box": from_dlib_box, "box_refit": box_refit,
            "landmarks_mirrored": landmarks_mirrored, "landmarks_three_scales": landmarks_three_scales,
            "descriptor_mirrored": descriptor_mirrored}


def largest(detections: list, width: int, height: int) -> int | None:
    """Index of the largest face by its box clipped to the image, as FaceDetail reports it."""
    boxes = []
    for d in detections:
        x, y, w, h = d.box
        clipped_w = max(0.0, min(x + w, width) - max(x, 0.0))
        clipped_h = max(0.0, min(y + h, height) - max(y, 0.0))
        boxes.append((0.0, 0.0, clipped_w, clipped_h))
    return bench_module.largest_face(boxes)


def main() -> None:
    analyzer = DlibYuNetAnalyzer()
    hog = dlib.get_frontal_face_detector()
    ways = variants(analyzer, bench_module)
    for name, folder, labels in bench_module.labelled_sets():
        if labels is None:
            print(json.dumps({"dataset": name, "skipped": f"no labels.csv under {folder}"}))
            continue
        descriptors: dict[str, list[np.ndarray | None]] = {way: [] for way in ways}
        for file, _ in labels:
            rgb = decode_image((folder / file).read_bytes()).rgb
            hog_boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in hog(rgb, 1)]
            photo = Photo(rgb, analyzer.align(rgb, analyzer.detect_rgb(rgb)), hog_boxes)
            pick = largest(photo.detections, rgb.shape[1], rgb.shape[0])
            for way, describe in ways.items():
                descriptors[way].append(None if pick is None else describe(photo, photo.detections[pick]))
            print(f"{name} {file}", file=sys.stderr)
        people = [person for _, person in labels]
        for way, found in descriptors.items():
            genuine, impostor = bench_module.pair_distances(people, found)
            tar, tnr = bench_module.rates_at_decision(genuine, impostor, bench_module.accept_ours)
            at_far = {f"tar_at_far_{far:g}": round(bench_module.tar_at_far(genuine, impostor, far), 4)
                      for far in bench_module.FARS}
            print(json.dumps({"dataset": name, "variant": way, "tar": round(tar, 4), "tnr": round(tnr, 4),
                              **at_far}), flush=True)


if __name__ == "__main__":
    main()
