"""Dev-time script: how far do the accuracy bench's numbers move when the photos move by a pixel?

Both pipelines of bench/bench_accuracy.py (ours: the default analyzer, and the same without its
upsampling of photos up to 480 px, as it was before; dlib's: HOG upsampled once + 5-point +
ResNet) on the labelled dev photos of ../shared/datasets/{lfw-dev,web-dev} as they are, with
the first column, the first row or both cropped off, and mirrored. Same metrics as the bench (largest face per photo, all photo pairs):
TAR and TNR at each pipeline's decision, TAR at FAR 1e-3 and 1e-2. A difference between
pipelines that changes sign under these shifts is within the noise of the dev sets.
Needs dlib-bin and the photos; about six minutes on two cores:
.venv/bin/python -m tests.vision.compare_under_perturbations
"""

from __future__ import annotations

import json
import sys

import numpy as np

from app.vision.default_analyzer import DETECTION_MAX_SIDE, DlibYuNetAnalyzer
from app.vision.image_decode import decode_image
from app.vision.yunet import YuNetDetector
from tests.vision.compare_alignment_variants import bench_module as bench

PERTURBATIONS = {
    "none": lambda rgb: rgb,
    "crop_left_1px": lambda rgb: rgb[:, 1:],
    "crop_top_1px": lambda rgb: rgb[1:, :],
    "crop_both_1px": lambda rgb: rgb[1:, 1:],
    "mirrored": lambda rgb: rgb[:, ::-1],
}


def ours_largest(analyzer: DlibYuNetAnalyzer, rgb: np.ndarray) -> np.ndarray | None:
    faces = analyzer.analyze_rgb(rgb, thumbnails=False)
    h, w = rgb.shape[:2]
    boxes = [(f.bounding_box["Left"] * w, f.bounding_box["Top"] * h, f.bounding_box["Width"] * w,
              f.bounding_box["Height"] * h) for f in faces]
    i = bench.largest_face(boxes)
    return None if i is None else faces[i].descriptor


def dlib_largest(pipeline, rgb: np.ndarray) -> np.ndarray | None:
    found = pipeline.faces(rgb)
    i = bench.largest_face([(b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1) for b, _, _ in found])
    return None if i is None else found[i][2]


def main() -> None:
    today = DlibYuNetAnalyzer()
    as_they_are = DlibYuNetAnalyzer(detector=YuNetDetector(max_side=DETECTION_MAX_SIDE, upsample_small=False),
                                    landmarks=today.landmarks, descriptor=today.descriptor)
    dlib_pipeline = bench.DlibPipeline()
    pipelines = {
        "ours": (lambda rgb: ours_largest(today, rgb), bench.accept_ours),
        "ours_without_upsampling": (lambda rgb: ours_largest(as_they_are, rgb), bench.accept_ours),
        "dlib": (lambda rgb: dlib_largest(dlib_pipeline, rgb), bench.accept_dlib),
    }
    for name, folder, labels in bench.labelled_sets():
        if labels is None:
            print(json.dumps({"dataset": name, "skipped": f"no labels.csv under {folder}"}))
            continue
        people = [person for _, person in labels]
        photos = [decode_image((folder / file).read_bytes()).rgb for file, _ in labels]
        for shift, move in PERTURBATIONS.items():
            moved = [np.ascontiguousarray(move(rgb)) for rgb in photos]
            for pipeline, (describe, accept) in pipelines.items():
                genuine, impostor = bench.pair_distances(people, [describe(rgb) for rgb in moved])
                tar, tnr = bench.rates_at_decision(genuine, impostor, accept)
                at_far = {f"tar_at_far_{far:g}": round(bench.tar_at_far(genuine, impostor, far), 4)
                          for far in bench.FARS}
                print(json.dumps({"dataset": name, "perturbation": shift, "pipeline": pipeline,
                                  "tar": round(tar, 4), "tnr": round(tnr, 4), **at_far}), flush=True)
            print(f"{name} {shift}", file=sys.stderr)


if __name__ == "__main__":
    main()
