"""Benchmark: dlib ResNet descriptor through DlibDescriptor.compute vs raw session.run.

Prints one JSON line per measurement. Uses the normal model cache (REKURATOR_CACHE_DIR to
override). Run: .venv/bin/python bench/bench_descriptor.py [--iterations N]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from app.vision.dlib_descriptor import DlibDescriptor, build_onnx_model, session_options  # noqa: E402
from app.vision.dlib_resnet_onnx import INPUT_NAME, OUTPUT_NAME  # noqa: E402


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--batch", type=int, nargs="*", default=[1, 8])
    args = parser.parse_args()

    t0 = time.perf_counter()
    model = build_onnx_model()
    emit(measure="conversion", seconds=round(time.perf_counter() - t0, 3), onnx_bytes=len(model))

    t0 = time.perf_counter()
    descriptor = DlibDescriptor()
    emit(measure="load_descriptor", seconds=round(time.perf_counter() - t0, 3), onnx_path=str(descriptor.onnx_path))

    threads = session_options().intra_op_num_threads
    rng = np.random.default_rng(0)
    for batch in args.batch:
        chips = rng.integers(0, 256, size=(batch, 150, 150, 3), dtype=np.uint8)
        feed = {INPUT_NAME: chips}  # already in the graph's input format: nothing to prepare
        for _ in range(10):  # warm-up
            descriptor.compute(chips)
            descriptor.session.run([OUTPUT_NAME], feed)
        wrapped, raw = [], []
        for _ in range(args.iterations):  # interleaved so drift hits both alike
            t0 = time.perf_counter()
            descriptor.compute(chips)
            t1 = time.perf_counter()
            descriptor.session.run([OUTPUT_NAME], feed)
            t2 = time.perf_counter()
            wrapped.append(t1 - t0)
            raw.append(t2 - t1)
        ms_wrapped = statistics.median(wrapped) * 1000 / batch
        ms_raw = statistics.median(raw) * 1000 / batch
        emit(
            measure="descriptor_throughput",
            batch=batch,
            threads=threads,
            iterations=args.iterations,
            compute_ms_per_face=round(ms_wrapped, 3),
            raw_session_ms_per_face=round(ms_raw, 3),
            overhead_ratio=round(ms_wrapped / ms_raw - 1.0, 4),
        )


if __name__ == "__main__":
    main()
