"""Benchmark: verification accuracy on labelled photos, ours against dlib's own pipeline, same run.

For each labelled set under ../shared/datasets/ (a folder with labels.csv: file, person; a set that
is absent is reported as skipped), every photo goes through
- ours: the default analyzer's `analyze` (decode, YuNet, dlib box, dlib 5-point landmarks in
  numpy, chip, ResNet through onnxruntime, FaceDetail), i.e. what IndexFaces runs before storing;
- dlib's: the face_recognition-style pipeline in dlib-bin (HOG detector upsampled once,
  shape_predictor_5_face_landmarks, face_recognition_model_v1) on the same decoded pixels.
Each photo is represented by its largest detected face, by the box each pipeline reports (the face
SearchFacesByImage would search); a photo without a face rejects every pair it is in. Over all
pairs of photos (same person = genuine, different = impostor):
- TAR / TNR at the decision threshold: similarity >= 80 for ours (app.core.similarity, the
  engine's own curve), distance < 0.6 for dlib's;
- TAR at FAR 1e-3 and 1e-2: ROC points, the threshold set so that at most that fraction of the
  impostor pairs is accepted;
- faces found, photos/s (decode included, FaceDetail included for ours);
- `discordant_genuine`: genuine pairs only one of the two pipelines accepts at its threshold;
- `bootstrap_ours_minus_dlib`: how much of a difference between the two is the photos' sampling
  (2,000 paired resamples of the photos, seed 0): per metric, ours minus dlib's as measured, the
  central 95 % of the resampled differences and the fraction of resamples where ours is at least
  dlib's;
- `parity`: each face both pipelines found (paired by box overlap) compared step by step: IoU of
  the raw YuNet box and of our dlib-style box with dlib's box, landmark error (mean point distance
  / dlib's eye-corner span), descriptor distance to dlib's own, and the same descriptor distance
  when our numpy landmarks, chip and ONNX ResNet start from dlib's own box (0 = these steps are
  exact, so any difference comes from the box).

Needs dlib-bin (a test dependency). Prints JSON lines; progress on stderr.
Run: .venv/bin/python bench/bench_accuracy.py [--datasets DIR] [--sets lfw-dev,web-dev]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.similarity import DLIB_RESNET  # noqa: E402

DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
DEFAULT_SETS = ("lfw-dev", "web-dev")
DLIB_THRESHOLD = 0.6  # face_recognition's tolerance: same person when distance < 0.6
OUR_THRESHOLD = 80.0  # the engine's decision threshold on its similarity scale
FARS = (1e-3, 1e-2)
BOOTSTRAP_RESAMPLES = 2000
PARITY_FIELDS = ("iou_yunet_box", "iou_dlib_style_box", "landmark_error", "descriptor_distance",
                 "descriptor_distance_from_dlib_box")


# ----------------------------------------------------------------------------------------
# metrics (pure functions, tested in tests/vision/test_accuracy_bench.py)


def distance_matrix(descriptors: Sequence[np.ndarray | None]) -> np.ndarray:
    """(n, n) distances between the photos' descriptors; inf where either photo has no face."""
    n = len(descriptors)
    found = [i for i, d in enumerate(descriptors) if d is not None]
    out = np.full((n, n), math.inf)
    if found:
        x = np.stack([np.asarray(descriptors[i], dtype=np.float64) for i in found])
        out[np.ix_(found, found)] = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=2)
    return out


def pair_distances(people: Sequence[str],
                   descriptors: Sequence[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Distances of all photo pairs, split into (genuine, impostor); inf where a photo has no face."""
    if len(people) != len(descriptors):
        raise ValueError(f"{len(people)} labels for {len(descriptors)} descriptors")
    rows, cols = np.triu_indices(len(people), k=1)
    same = np.asarray(people, dtype=object)[rows] == np.asarray(people, dtype=object)[cols]
    d = distance_matrix(descriptors)[rows, cols]
    return d[same], d[~same]


def accept_dlib(distances: np.ndarray) -> np.ndarray:
    """dlib / face_recognition's decision: same person when distance < 0.6."""
    return np.asarray(distances) < DLIB_THRESHOLD


def accept_ours(distances: np.ndarray) -> np.ndarray:
    """The engine's decision: similarity >= 80 on the dlib ResNet's calibrated curve."""
    d = np.asarray(distances, dtype=np.float64)
    finite = np.isfinite(d)
    accepted = np.zeros(d.shape, dtype=bool)
    accepted[finite] = np.atleast_1d(DLIB_RESNET.similarity(d[finite])) >= OUR_THRESHOLD
    return accepted


def rates_at_decision(genuine: np.ndarray, impostor: np.ndarray,
                      accept: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float]:
    """(TAR, TNR): accepted genuine pairs, rejected impostor pairs, as fractions."""
    if genuine.size == 0 or impostor.size == 0:
        raise ValueError("need at least one genuine and one impostor pair")
    return float(np.mean(accept(genuine))), float(1.0 - np.mean(accept(impostor)))


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float:
    """TAR at the distance threshold that accepts at most `far` of the impostor pairs.

    Pairs are accepted when their distance is below the threshold; the threshold is the
    (k+1)-th smallest impostor distance with k = floor(far * impostors), so at most k impostor
    pairs (ties counted against us) are accepted. Infinite distances are never accepted.
    """
    if not 0.0 <= far <= 1.0:
        raise ValueError(f"far must be within 0..1, got {far}")
    if genuine.size == 0 or impostor.size == 0:
        raise ValueError("need at least one genuine and one impostor pair")
    allowed = math.floor(far * impostor.size + 1e-9)
    ordered = np.sort(impostor)
    threshold = ordered[allowed] if allowed < ordered.size else math.inf
    return float(np.mean(genuine < threshold))


def paired_bootstrap(people: Sequence[str], a: Sequence[np.ndarray | None],
                     b: Sequence[np.ndarray | None], accept_a: Callable[[np.ndarray], np.ndarray],
                     accept_b: Callable[[np.ndarray], np.ndarray], resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = 0) -> dict:
    """How far apart two pipelines' metrics are once the photos themselves are a sample.

    `a` and `b` are the two pipelines' descriptors of the same photos (None: no face). Each
    resample draws len(people) photos with replacement and scores both pipelines on the same draw:
    every pair of draws that are two different photos counts (a photo drawn twice is not paired
    with itself). Per metric (TAR and TNR at each pipeline's own decision rule, TAR at each
    of FARS): the measured difference a - b, the central 95 % of the resampled differences, and
    the fraction of resamples in which a is at least b. Resamples with no genuine or no impostor
    pair are skipped (`resamples` says how many counted).
    """
    if not len(people) == len(a) == len(b):
        raise ValueError(f"{len(people)} labels for {len(a)} and {len(b)} descriptors")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    labels = np.unique(np.asarray(people, dtype=object), return_inverse=True)[1]
    matrices = (distance_matrix(a), distance_matrix(b))
    accepts = (accept_a, accept_b)

    def metrics(draw: np.ndarray) -> np.ndarray | None:
        rows, cols = np.triu_indices(draw.size, k=1)
        keep = draw[rows] != draw[cols]
        first, second = draw[rows[keep]], draw[cols[keep]]
        same = labels[first] == labels[second]
        if same.all() or not same.any():
            return None
        out = []
        for matrix, accept in zip(matrices, accepts, strict=True):
            d = matrix[first, second]
            genuine, impostor = d[same], d[~same]
            out.append([*rates_at_decision(genuine, impostor, accept),
                        *(tar_at_far(genuine, impostor, far) for far in FARS)])
        return np.asarray(out[0]) - np.asarray(out[1])

    names = ["tar", "tnr", *(f"tar_at_far_{far:g}" for far in FARS)]
    measured = metrics(np.arange(len(people)))
    if measured is None:
        raise ValueError("need at least one genuine and one impostor pair")
    rng = np.random.default_rng(seed)
    found = [m for m in (metrics(rng.integers(0, len(people), len(people))) for _ in range(resamples))
             if m is not None]
    if not found:
        raise ValueError("no resample held both a genuine and an impostor pair")
    diffs = np.array(found)
    result: dict = {"resamples": len(found)}
    for k, name in enumerate(names):
        lo, hi = np.percentile(diffs[:, k], [2.5, 97.5])
        result[name] = {"a_minus_b": round(float(measured[k]), 4),
                        "interval_95": [round(float(lo), 4), round(float(hi), 4)],
                        "a_at_least_b": round(float(np.mean(diffs[:, k] >= -1e-12)), 3)}
    return result


def largest_face(boxes: Sequence[tuple[float, float, float, float]]) -> int | None:
    """Index of the largest (x, y, w, h) box, None when there is none; ties keep the first."""
    if not boxes:
        return None
    areas = [w * h for _, _, w, h in boxes]
    return int(np.argmax(areas))


def iou_xyxy(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes with exclusive right/bottom."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def inclusive_to_xyxy(box: Sequence[int]) -> tuple[float, float, float, float]:
    """dlib's (left, top, right, bottom) with inclusive right/bottom -> exclusive."""
    return float(box[0]), float(box[1]), float(box[2]) + 1, float(box[3]) + 1


def summary(values: Sequence[float]) -> dict | None:
    if not values:
        return None
    v = np.asarray(values, dtype=np.float64)
    return {"median": round(float(np.median(v)), 4), "p90": round(float(np.percentile(v, 90)), 4),
            "max": round(float(v.max()), 4), "mean": round(float(v.mean()), 4)}


# ----------------------------------------------------------------------------------------
# running the two pipelines


@dataclass
class PhotoResult:
    person: str
    seconds: float
    boxes: list[tuple[float, float, float, float]]  # (x, y, w, h) pixels
    descriptors: list[np.ndarray]

    def representative(self) -> np.ndarray | None:
        i = largest_face(self.boxes)
        return None if i is None else self.descriptors[i]


def read_labels(folder: Path) -> list[tuple[str, str]]:
    with open(folder / "labels.csv", newline="") as f:
        return [(row["file"], row["person"]) for row in csv.DictReader(f)]


def labelled_sets(names=DEFAULT_SETS, datasets: Path = DEFAULT_DATASETS):
    """(name, folder, [(file, person)] or None where the set has no labels.csv), set by set."""
    for name in names:
        folder = datasets / name
        yield name, folder, read_labels(folder) if (folder / "labels.csv").is_file() else None


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


class DlibPipeline:
    """face_recognition.face_encodings(img, model="small") with HOG upsampled once, in dlib-bin."""

    def __init__(self) -> None:
        import dlib

        from app.vision.dlib_models import model_path

        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shapes = dlib.shape_predictor(str(model_path("shape_predictor_5_face_landmarks.dat")))
        resnet = model_path("dlib_face_recognition_resnet_model_v1.dat")
        self.net = dlib.face_recognition_model_v1(str(resnet))

    def faces(self, rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]]:
        """(inclusive box, 5 landmarks, descriptor) per face."""
        out = []
        for rect in self.detector(rgb, 1):
            shape = self.shapes(rgb, rect)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.int64)
            descriptor = np.array(self.net.compute_face_descriptor(rgb, shape), dtype=np.float32)
            out.append(((rect.left(), rect.top(), rect.right(), rect.bottom()), points, descriptor))
        return out


def analyze_ours(analyzer, data: bytes, person: str) -> PhotoResult:
    """Our pipeline on one photo, timed as IndexFaces runs it (decode, analysis, FaceDetail)."""
    start = time.perf_counter()
    analysis = analyzer.analyze(data)
    seconds = time.perf_counter() - start
    w, h = analysis.width, analysis.height
    boxes = [(f.bounding_box["Left"] * w, f.bounding_box["Top"] * h, f.bounding_box["Width"] * w,
              f.bounding_box["Height"] * h) for f in analysis.faces]
    return PhotoResult(person, seconds, boxes, [f.descriptor for f in analysis.faces])


def verification(people: Sequence[str], photos: Sequence[PhotoResult],
                 accept: Callable[[np.ndarray], np.ndarray]) -> dict:
    """Pair counts, TAR/TNR at the decision rule `accept` and TAR at each of FARS."""
    genuine, impostor = pair_distances(people, [p.representative() for p in photos])
    tar, tnr = rates_at_decision(genuine, impostor, accept)
    return {"genuine_pairs": int(genuine.size), "impostor_pairs": int(impostor.size),
            "tar": round(tar, 4), "tnr": round(tnr, 4),
            **{f"tar_at_far_{far:g}": round(tar_at_far(genuine, impostor, far), 4) for far in FARS}}


def run_set(folder: Path, analyzer, dlib_pipeline: DlibPipeline) -> None:
    from app.vision.dlib_box import dlib_box
    from app.vision.face_chip import extract_chip
    from app.vision.image_decode import decode_image

    labels = read_labels(folder)
    ours: list[PhotoResult] = []
    theirs: list[PhotoResult] = []
    parity: dict[str, list[float]] = {k: [] for k in PARITY_FIELDS}
    for n, (name, person) in enumerate(labels, 1):
        data = (folder / name).read_bytes()
        ours.append(analyze_ours(analyzer, data, person))
        # dlib's pipeline on the same decoded pixels
        start = time.perf_counter()
        rgb = decode_image(data).rgb
        ref = dlib_pipeline.faces(rgb)
        seconds = time.perf_counter() - start
        boxes = [(b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1) for b, _, _ in ref]
        theirs.append(PhotoResult(person, seconds, boxes, [d for _, _, d in ref]))
        # parity, untimed: each of our faces against the dlib face its dlib-style box overlaps most
        for det in analyzer.align(rgb, analyzer.detect_rgb(rgb)):
            x, y, bw, bh = det.box
            box = inclusive_to_xyxy(dlib_box(det.box, det.landmarks))
            match = max(ref, key=lambda r: iou_xyxy(box, inclusive_to_xyxy(r[0])), default=None)
            if match is None or iou_xyxy(box, inclusive_to_xyxy(match[0])) < 0.3:
                continue
            ref_box, ref_points, ref_descriptor = match
            points = det.dlib_landmarks
            descriptor = analyzer.descriptor.compute(extract_chip(rgb, points)[None])[0]
            from_ref_box = analyzer.landmarks.predict(rgb, ref_box)
            descriptor_ref_box = analyzer.descriptor.compute(extract_chip(rgb, from_ref_box)[None])[0]
            span = float(np.linalg.norm(ref_points[0] - ref_points[2])) or 1.0
            ref_xyxy = inclusive_to_xyxy(ref_box)
            parity["iou_yunet_box"].append(iou_xyxy((x, y, x + bw, y + bh), ref_xyxy))
            parity["iou_dlib_style_box"].append(iou_xyxy(box, ref_xyxy))
            point_error = float(np.mean(np.linalg.norm(points - ref_points, axis=1)))
            parity["landmark_error"].append(point_error / span)
            parity["descriptor_distance"].append(float(np.linalg.norm(descriptor - ref_descriptor)))
            parity["descriptor_distance_from_dlib_box"].append(
                float(np.linalg.norm(descriptor_ref_box - ref_descriptor)))
        print(f"{folder.name} {n}/{len(labels)}", file=sys.stderr)

    people = [p for _, p in labels]
    for pipeline, photos, accept, rule in (
        ("rekurator default analyzer (YuNet, dlib box, 5-point, chip, ResNet ONNX)", ours, accept_ours,
         f"similarity >= {OUR_THRESHOLD:g}"),
        ("dlib-bin HOG upsampled once + 5-point + ResNet (face_recognition style)", theirs, accept_dlib,
         f"distance < {DLIB_THRESHOLD:g}"),
    ):
        times = [p.seconds for p in photos]
        emit(bench="accuracy", dataset=folder.name, pipeline=pipeline, photos=len(photos),
             photos_with_face=sum(1 for p in photos if p.boxes),
             faces_found=sum(len(p.boxes) for p in photos),
             decision=rule, **verification(people, photos, accept),
             photos_per_s=round(len(photos) / sum(times), 2),
             median_ms_per_photo=round(1000 * float(np.median(times)), 1))
    ours_reps = [p.representative() for p in ours]
    dlib_reps = [p.representative() for p in theirs]
    ours_accept = accept_ours(pair_distances(people, ours_reps)[0])
    dlib_accept = accept_dlib(pair_distances(people, dlib_reps)[0])
    emit(bench="accuracy", dataset=folder.name, compare="ours vs dlib, same run",
         discordant_genuine={"ours_only": int(np.sum(ours_accept & ~dlib_accept)),
                             "dlib_only": int(np.sum(~ours_accept & dlib_accept))},
         bootstrap_ours_minus_dlib=paired_bootstrap(people, ours_reps, dlib_reps, accept_ours, accept_dlib),
         speed_ratio=round(sum(p.seconds for p in theirs) / sum(p.seconds for p in ours), 2),
         parity={"faces": len(parity["iou_yunet_box"]), **{k: summary(v) for k, v in parity.items()}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS,
                        help="folder holding the labelled sets")
    parser.add_argument("--sets", default=",".join(DEFAULT_SETS), help="comma-separated set names")
    args = parser.parse_args()

    from app.vision.default_analyzer import create_default_analyzer

    folders = []
    for name, folder, labels in labelled_sets(args.sets.split(","), args.datasets):
        if labels is not None:
            folders.append(folder)
        else:
            emit(bench="accuracy", dataset=name, skipped=f"no labels.csv under {folder}")
    if not folders:
        return
    analyzer = create_default_analyzer()
    dlib_pipeline = DlibPipeline()
    from app.vision.image_decode import decode_image

    warm_up = (ROOT / "tests" / "data" / "obama.jpg").read_bytes()
    analyzer.analyze(warm_up)  # sessions, caches
    dlib_pipeline.faces(decode_image(warm_up).rgb)
    for folder in folders:
        run_set(folder, analyzer, dlib_pipeline)


if __name__ == "__main__":
    main()
