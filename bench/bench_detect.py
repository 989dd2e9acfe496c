"""Median latency of YuNetDetector.detect at 640x480, with cv2.FaceDetectorYN for reference.

Run: .venv/bin/python bench/bench_detect.py [--repeats N] [--threads 1|2]
Prints one JSON line per measurement. Target: ours <= 10 ms median on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.vision.image_decode import decode_image  # noqa: E402
from app.vision.yunet import DEFAULT_MODEL_PATH, YuNetDetector  # noqa: E402

WIDTH, HEIGHT = 640, 480


def _test_frame() -> np.ndarray:
    """A real 640x480 frame (people in it), so decoding and NMS do realistic work."""
    rgb = decode_image((ROOT / "tests" / "data" / "t1.jpg").read_bytes()).rgb
    return np.ascontiguousarray(cv2.resize(rgb, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA))


def _median_ms(fn, repeats: int, warmup: int = 5) -> tuple[float, float, int]:
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000.0)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], len(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2, choices=(1, 2))
    args = parser.parse_args()

    rgb = _test_frame()
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    common = {"width": WIDTH, "height": HEIGHT, "threads": args.threads, "repeats": args.repeats,
              "machine": platform.machine()}

    detector = YuNetDetector(num_threads=args.threads)
    median, p90, faces = _median_ms(lambda: detector.detect(rgb), args.repeats)
    print(json.dumps({"bench": "yunet_detect_onnxruntime", "median_ms": round(median, 3),
                      "p90_ms": round(p90, 3), "faces": faces, "target_ms": 10.0, **common}), flush=True)

    cv2.setNumThreads(args.threads)
    reference = cv2.FaceDetectorYN.create(str(DEFAULT_MODEL_PATH), "", (WIDTH, HEIGHT), 0.6, 0.3, 5000)

    def run_reference():
        _, found = reference.detect(bgr)
        return [] if found is None else found

    median, p90, faces = _median_ms(run_reference, args.repeats)
    print(json.dumps({"bench": "yunet_detect_cv2_FaceDetectorYN", "median_ms": round(median, 3),
                      "p90_ms": round(p90, 3), "faces": faces, "opencv": cv2.__version__, **common}), flush=True)


if __name__ == "__main__":
    main()
