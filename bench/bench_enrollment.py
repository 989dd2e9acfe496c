"""Webcam enrollment at 640x480 on (at most) 2 cores: live preview rate and end-to-end enrollment.

Footage: the synthetic 640x480 MJPG video of tests/capture/video_frames.py (the test photos'
faces placed like a person at a webcam), written to a temporary folder and read back through
OpenCV's capture API, as a camera would be.

Lines (`bench` field):
- `enrollment_preview`: read a frame + YuNet detection on every displayed frame
  (analyzer.detect_rgb), nothing else running. Target >= 25 fps.
- `enrollment_preview_while_collecting`: the same loop while an EnrollmentCollector analyses
  the frames it is handed (submit(), dropped when busy), as the GUI's capture worker does.
  `preview_source` says where the preview's boxes come from: `detect_rgb` (the analyzer's
  detector, which waits while analysis holds the analyzer) or `own_detector` (a second YuNet
  session with 1 thread for the preview).
- `enrollment_end_to_end`: 5 frames: open the file, capture (analysis, every frame), store
  (IndexFaces in one transaction) and associate, into a fresh workspace; the owner check
  (SearchUsersByImage on the captured frames) is timed apart. Target <= 3 s (model loading
  excluded; `analyzer_load` reports it).

Run: .venv/bin/python bench/bench_enrollment.py [--rounds N] [--preview-frames N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.capture.enrollment import capture_frames, enroll, owner_check  # noqa: E402
from app.capture.frame_collector import EnrollmentCollector  # noqa: E402
from app.capture.sources import FileSource  # noqa: E402
from app.core.engine import Engine  # noqa: E402
from app.vision.default_analyzer import DlibYuNetAnalyzer  # noqa: E402
from app.vision.yunet import YuNetDetector  # noqa: E402
from tests.capture.video_frames import FrameMaker, enrollment_shots, write_video  # noqa: E402


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def frames_forever(path: Path):
    """Frames of the video, from the start again at its end (a camera never ends)."""
    while True:
        with FileSource(path) as source:
            while (rgb := source.read()) is not None:
                yield rgb


def preview_rate(path: Path, detect, count: int, collector: EnrollmentCollector | None = None) -> dict:
    frames = frames_forever(path)
    read_ms, detect_ms = [], []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        rgb = next(frames)
        t1 = time.perf_counter()
        detect(rgb)
        t2 = time.perf_counter()
        if collector is not None:
            collector.submit(rgb)
        read_ms.append((t1 - t0) * 1000)
        detect_ms.append((t2 - t1) * 1000)
    elapsed = time.perf_counter() - started
    return {"fps": round(count / elapsed, 1), "read_ms_median": round(statistics.median(read_ms), 2),
            "detect_ms_median": round(statistics.median(detect_ms), 2),
            "detect_ms_p90": round(sorted(detect_ms)[int(0.9 * (len(detect_ms) - 1))], 2), "frames": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--preview-frames", type=int, default=300)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 2:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    common = {"width": 640, "height": 480, "cores": cores, "loadavg": round(os.getloadavg()[0], 2)}

    started = time.perf_counter()
    analyzer = DlibYuNetAnalyzer()
    emit(bench="analyzer_load", s=round(time.perf_counter() - started, 3), **common)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        maker = FrameMaker(analyzer.detect_rgb)
        video = write_video(tmp / "enrollment.avi", [maker.render(s) for s in enrollment_shots()])
        print(f"footage: {video} ({os.path.getsize(video)} bytes)", file=sys.stderr)

        emit(bench="enrollment_preview", preview_source="detect_rgb", target_fps=25.0,
             **preview_rate(video, analyzer.detect_rgb, args.preview_frames), **common)

        for name, detect in (("detect_rgb", analyzer.detect_rgb),
                             ("own_detector", YuNetDetector(max_side=640, num_threads=1).detect)):
            # a target no footage reaches keeps the collector analysing for the whole run
            collector = EnrollmentCollector(analyzer, frames=100, same_person_threshold=100.0)
            try:
                result = preview_rate(video, detect, args.preview_frames, collector)
                collector.wait_idle()
            finally:
                collector.close()
            emit(bench="enrollment_preview_while_collecting", preview_source=name, target_fps=25.0,
                 analysed=collector.analysed, dropped=collector.dropped,
                 analysed_per_s=round(collector.analysed * result["fps"] / result["frames"], 1), **result, **common)

        totals, captures, stores, checks = [], [], [], []
        for round_ in range(args.rounds):
            with Engine(tmp / f"ws{round_}", analyzer=analyzer) as engine:
                engine.create_collection(CollectionId="c")
                t0 = time.perf_counter()
                with FileSource(video) as source:
                    outcome = capture_frames(source, analyzer, 5)
                t1 = time.perf_counter()
                result = enroll(engine, "c", "person", outcome.captured)
                t2 = time.perf_counter()
                owner_check(engine, "c", "someone-else", outcome.captured)
                t3 = time.perf_counter()
                assert len(result.associated_face_ids) == 5, result.response()
            totals.append(t2 - t0)
            captures.append(t1 - t0)
            stores.append(t2 - t1)
            checks.append(t3 - t2)
        emit(bench="enrollment_end_to_end", frames=5, frames_read=outcome.frames_read, rounds=args.rounds,
             median_s=round(statistics.median(totals), 3), max_s=round(max(totals), 3),
             capture_s=round(statistics.median(captures), 3), store_associate_s=round(statistics.median(stores), 3),
             owner_check_s=round(statistics.median(checks), 3), target_s=3.0, threads=threading.active_count(),
             **common)


if __name__ == "__main__":
    main()
