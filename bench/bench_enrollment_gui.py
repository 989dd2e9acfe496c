"""Benchmark: the enrollment panel's live preview, as the GUI thread feels it.

Footage: the synthetic 640x480 video of tests/capture/video_frames.py written at 30 fps and
read paced (at its frame rate, like a camera) by the panel's capture worker, with the real
default analyzer. Measured in this process, offscreen unless QT_QPA_PLATFORM is set, while a
5 ms QTimer heartbeat on the GUI thread records how long the event loop is away:

- `enrollment_gui_preview`: the preview alone (the worker's hint analysis a few times a second).
- `enrollment_gui_collecting`: the preview while an EnrollmentCollector analyses frames
  (a target no footage reaches keeps it busy for the whole run).
- `enrollment_gui_enroll`: Start -> 5 frames captured -> owner check -> enroll -> undo command
  pushed and results shown (ms), and the stall during it.
Each line: `preview_fps` (frames painted per second), `source_fps`, `frames_read`,
`longest_stall_ms`, `p99_gap_ms`, `median_gap_ms` of the heartbeat. Target: preview >= 25 fps,
longest stall <= 50 ms.

Run: .venv/bin/python bench/bench_enrollment_gui.py [--seconds 6]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each preview measurement")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 2:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.engine import Engine
    from app.gui.main_window import MainWindow
    from app.vision.default_analyzer import DlibYuNetAnalyzer
    from tests.capture.video_frames import FrameMaker, enrollment_shots, write_video

    app = QApplication.instance() or QApplication([])
    common = {"width": 640, "height": 480, "cores": cores, "loadavg": round(os.getloadavg()[0], 2),
              "platform": app.platformName()}
    analyzer = DlibYuNetAnalyzer()

    def spin_until(condition, what: str, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.001)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
        maker = FrameMaker(analyzer.detect_rgb)
        # each pose held for 9 frames at 30 fps (0.3 s, like the 10 fps test footage), the whole
        # sequence six times (58 s): long enough for every measurement
        frames = [maker.render(s) for s in enrollment_shots(hold=9)] * 6
        video = write_video(tmp / "enrollment30.avi", frames, fps=30.0)
        print(f"footage: {video} ({len(frames)} frames at 30 fps)", file=sys.stderr)

        engine = Engine(tmp / "ws", analyzer=analyzer)
        engine.create_collection(CollectionId="c")
        window = MainWindow(engine)
        window.show()
        window.act_enroll.trigger()
        ctl = window.enrollment
        panel = ctl.panel
        spin_until(lambda: not window.tasks.running(), "the camera probe")

        gaps: list[float] = []
        last = [time.perf_counter()]

        def beat():
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        heart = QTimer()
        heart.setTimerType(Qt.TimerType.PreciseTimer)
        heart.timeout.connect(beat)

        def measure(name: str, seconds: float, **extra) -> None:
            session = ctl.session
            shown0, read0 = panel.preview.frames_shown, session.worker.frames_read
            gaps.clear()
            last[0] = time.perf_counter()
            heart.start(5)
            started = time.perf_counter()
            spin_until(lambda: time.perf_counter() - started >= seconds, name, seconds + 10)
            heart.stop()
            elapsed = time.perf_counter() - started
            gaps_ms = np.array(gaps[1:]) * 1000
            emit(bench=name, seconds=round(elapsed, 2), preview_fps=round((panel.preview.frames_shown - shown0) / elapsed, 1),
                 source_fps=round((session.worker.frames_read - read0) / elapsed, 1),
                 frames_read=session.worker.frames_read - read0, heartbeat_ms=5,
                 longest_stall_ms=round(float(gaps_ms.max()), 1), p99_gap_ms=round(float(np.percentile(gaps_ms, 99)), 1),
                 median_gap_ms=round(float(np.median(gaps_ms)), 2), target_fps=25.0, target_stall_ms=50.0, **extra,
                 **common)

        # preview only (the first frame also loads the models: wait for that first)
        ctl.open_source(str(video))
        spin_until(lambda: ctl.session.worker.frames_read > 15 and panel.preview.frames_shown > 5, "the preview")
        measure("enrollment_gui_preview", args.seconds)

        # preview while the collector analyses
        panel.user_combo.setEditText("bench")
        panel.frames.setValue(100)
        panel.threshold.setValue(100.0)
        ctl.start()
        measure("enrollment_gui_collecting", args.seconds)
        ctl.stop()
        spin_until(lambda: panel.start_button.isEnabled(), "the end of the collection")

        # a whole enrollment of 5 frames, from the start of the footage
        panel.frames.setValue(5)
        panel.threshold.setValue(75.0)
        ctl.close_source()
        spin_until(lambda: not ctl._stopping, "the old session")
        gaps.clear()
        last[0] = time.perf_counter()
        heart.start(5)
        started = time.perf_counter()
        ctl.start()
        try:
            spin_until(lambda: window.undo_stack.count() == 1 and not ctl.busy, "the enrollment", 60)
        except SystemExit:
            print(f"status: {panel.status.text()!r}, hint: {panel.hint_label.text()!r}", file=sys.stderr)
            raise
        enroll_ms = (time.perf_counter() - started) * 1000
        heart.stop()
        gaps_ms = np.array(gaps[1:]) * 1000
        emit(bench="enrollment_gui_enroll", frames=5, start_to_result_ms=round(enroll_ms, 1),
             associated=len(window.results_panel.rows), heartbeat_ms=5,
             longest_stall_ms=round(float(gaps_ms.max()), 1), p99_gap_ms=round(float(np.percentile(gaps_ms, 99)), 1),
             **common)
        window.close()
        engine.close()


if __name__ == "__main__":
    main()
