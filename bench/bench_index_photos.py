"""Benchmark: end-to-end IndexFaces on the test photos vs the face_recognition-style dlib pipeline.

Ours: Engine.index_faces with the default analyzer (decode, YuNet, dlib 5-point landmarks in
numpy, chip, ResNet through onnxruntime, SQLite write). Baselines, on the same photo bytes in the
same run, rounds interleaved (each pipeline leads a round in turn):
- dlib's: decode with OpenCV, dlib's HOG detector (upsampled once, as face_recognition does),
  dlib.shape_predictor (5-point) and dlib.face_recognition_model_v1, i.e. what
  face_recognition.face_encodings(model="small") runs;
- ours without the small-photo upsampling: the default analyzer as it was before it detected
  photos of up to 480 px at twice their size.
Two photo sets: the test photos as they are (all larger than 480 px, so the upsampling never
applies) and the same photos shrunk to 400 px on the longer side and re-encoded as JPEG (where it
always applies). Prints JSON lines: photos/s (median over rounds) per pipeline and set, the
speed-up over dlib's and the ratio to ours without upsampling. Needs dlib-bin (a test dependency).

Run: .venv/bin/python bench/bench_index_photos.py [--rounds N] [--sets full,small]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.engine import Engine  # noqa: E402
from app.vision.default_analyzer import DETECTION_MAX_SIDE, DlibYuNetAnalyzer, create_default_analyzer  # noqa: E402
from app.vision.dlib_models import model_path  # noqa: E402
from app.vision.yunet import YuNetDetector  # noqa: E402

PHOTOS = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "astronaut.jpg", "t1.jpg", "32bit.png"]


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


SMALL_SIDE = 400  # the small set's longer side: under the 480 px below which photos are upsampled


def shrink(data: bytes, side: int = SMALL_SIDE) -> bytes:
    """The photo shrunk to `side` px on its longer side (INTER_AREA), as JPEG quality 95."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    h, w = bgr.shape[:2]
    scale = side / max(h, w)
    small = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise RuntimeError("OpenCV could not encode the shrunk photo as JPEG")
    return encoded.tobytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sets", default="full,small", help="comma-separated: full, small")
    args = parser.parse_args()
    full = [(ROOT / "tests" / "data" / name).read_bytes() for name in PHOTOS]
    sets = {"full": full, "small": [shrink(data) for data in full]}
    chosen = [name for name in args.sets.split(",") if name]
    unknown = sorted(set(chosen) - set(sets))
    if unknown:
        parser.error(f"unknown photo set(s) {unknown}; choose from {sorted(sets)}")

    import dlib

    detector = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(str(model_path("shape_predictor_5_face_landmarks.dat")))
    net = dlib.face_recognition_model_v1(str(model_path("dlib_face_recognition_resnet_model_v1.dat")))

    def dlib_pipeline(data: bytes) -> int:
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        faces = 0
        for rect in detector(rgb, 1):
            net.compute_face_descriptor(rgb, shapes(rgb, rect))
            faces += 1
        return faces

    today = create_default_analyzer()
    before = DlibYuNetAnalyzer(detector=YuNetDetector(max_side=DETECTION_MAX_SIDE, upsample_small=False),
                               landmarks=today.landmarks, descriptor=today.descriptor)
    with tempfile.TemporaryDirectory() as tmp, \
            Engine(Path(tmp) / "today", analyzer=today) as ours, Engine(Path(tmp) / "before", analyzer=before) as old:
        for engine in (ours, old):
            engine.create_collection(CollectionId="bench")
            engine.index_faces(CollectionId="bench", Image={"Bytes": full[0]}, ExternalImageId="warm-up")
        calls = 0

        def index(engine: Engine) -> Callable[[bytes], int]:
            def run(data: bytes) -> int:
                nonlocal calls
                calls += 1  # a fresh ExternalImageId each call, so every call stores its faces for real
                out = engine.index_faces(CollectionId="bench", Image={"Bytes": data}, ExternalImageId=f"p{calls}")
                return len(out["FaceRecords"])
            return run

        pipelines = {
            "rekurator IndexFaces (default analyzer, SQLite write)": index(ours),
            "rekurator IndexFaces without small-photo upsampling": index(old),
            "dlib-bin HOG + 5-point + ResNet (face_recognition style)": dlib_pipeline,
        }
        for set_name in chosen:
            photos = sets[set_name]
            rates: dict[str, list[float]] = {name: [] for name in pipelines}
            faces = dict.fromkeys(pipelines, 0)
            for r in range(args.rounds):
                # the order rotates each round, so no pipeline always runs right after another's caches
                order = list(pipelines.items())
                for name, run in order[r % len(order):] + order[:r % len(order)]:
                    start = time.perf_counter()
                    for data in photos:
                        faces[name] += run(data)
                    rates[name].append(len(photos) / (time.perf_counter() - start))
                print(f"{set_name}: round {r + 1}/{args.rounds}", file=sys.stderr)
            medians = {name: statistics.median(v) for name, v in rates.items()}
            for name in pipelines:
                emit(bench="index_photos", photo_set=set_name, pipeline=name, photos=len(photos),
                     faces_per_round=faces[name] // args.rounds, photos_per_s_median=round(medians[name], 3))
            ours_name, old_name, dlib_name = pipelines
            emit(bench="index_photos", photo_set=set_name,
                 speedup_median=round(medians[ours_name] / medians[dlib_name], 2), target=">= 10x",
                 vs_without_upsampling=round(medians[ours_name] / medians[old_name], 3))


if __name__ == "__main__":
    main()
