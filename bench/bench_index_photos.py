"""Benchmark: end-to-end IndexFaces on the test photos vs the face_recognition-style dlib pipeline.

Ours: Engine.index_faces with the default analyzer (decode, YuNet, dlib 5-point landmarks in
numpy, chip, ResNet through onnxruntime, SQLite write). Baseline, on the same photo bytes in the
same run: decode with OpenCV, dlib's HOG detector (upsampled once, as face_recognition does),
dlib.shape_predictor (5-point) and dlib.face_recognition_model_v1, i.e. what
face_recognition.face_encodings(model="small") runs. Prints JSON lines: photos/s (median over
rounds) for both and the speed-up. Needs dlib-bin (a test dependency).

Run: .venv/bin/python bench/bench_index_photos.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.engine import Engine  # noqa: E402
from app.vision.default_analyzer import create_default_analyzer  # noqa: E402
from app.vision.dlib_models import model_path  # noqa: E402

PHOTOS = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "astronaut.jpg", "t1.jpg", "32bit.png"]


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    photos = [(ROOT / "tests" / "data" / name).read_bytes() for name in PHOTOS]

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

    with tempfile.TemporaryDirectory() as tmp:
        analyzer = create_default_analyzer()
        with Engine(Path(tmp) / "ws", analyzer=analyzer) as engine:
            engine.create_collection(CollectionId="bench")
            engine.index_faces(CollectionId="bench", Image={"Bytes": photos[0]}, ExternalImageId="warm-up")
            ours, theirs, our_faces, their_faces = [], [], 0, 0
            for r in range(args.rounds):
                start = time.perf_counter()
                for i, data in enumerate(photos):
                    # a fresh ExternalImageId each round, so every call stores its faces for real
                    out = engine.index_faces(CollectionId="bench", Image={"Bytes": data}, ExternalImageId=f"r{r}-{i}")
                    our_faces += len(out["FaceRecords"])
                ours.append(len(photos) / (time.perf_counter() - start))
                start = time.perf_counter()
                for data in photos:
                    their_faces += dlib_pipeline(data)
                theirs.append(len(photos) / (time.perf_counter() - start))
                print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
    emit(bench="index_photos", pipeline="rekurator IndexFaces (default analyzer, SQLite write)",
         photos=len(photos), faces_per_round=our_faces // args.rounds, photos_per_s_median=round(statistics.median(ours), 3))
    emit(bench="index_photos", pipeline="dlib-bin HOG + 5-point + ResNet (face_recognition style)",
         photos=len(photos), faces_per_round=their_faces // args.rounds, photos_per_s_median=round(statistics.median(theirs), 3))
    emit(bench="index_photos", speedup_median=round(statistics.median(ours) / statistics.median(theirs), 2), target=">= 10x")


if __name__ == "__main__":
    main()
