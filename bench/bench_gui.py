"""Benchmark: the curation window on a 100,000-face workspace.

Builds a workspace through the real storage path (Engine.store_analyzed) with synthetic
dlib-scale descriptors and a tiny JPEG crop per face, then measures, in this process:
  build               seconds to store the faces (not the window's cost; for context)
  window_shown        construction -> window shown -> first grid paint (ms)
  first_page_thumbs   ... -> every thumbnail on the first screen decoded and painted (ms)
  scroll              longest event-loop stall while scrolling the whole loaded grid page by page
                      and paging in more faces (fetchMore) at the bottom, from a 5 ms QTimer heartbeat
  associate_100       100 faces dropped on a user: drop -> preview dialog shown, accept -> results
                      shown; and the quick path (a pinned number key) -> results shown (ms)
  rss                 resident memory after the window is up and after scrolling (MiB)

One JSON line per measurement on stdout; progress on stderr. Runs offscreen unless
QT_QPA_PLATFORM is set. The workspace lives in a temporary folder unless --workdir is given.

Run: .venv/bin/python bench/bench_gui.py [--faces 100000] [--scroll-pages 400]

At 1e6 faces, build the workspace once and measure it several times (each run first gives the
faces the previous run associated back, so every run starts from the same collection):
  .venv/bin/python bench/bench_gui.py --faces 1000000 --workdir /tmp/g1m --build-only
  .venv/bin/python bench/bench_gui.py --faces 1000000 --workdir /tmp/g1m
  BENCH_APP_ROOT=/tmp/grid-base .venv/bin/python bench/bench_gui.py --faces 1000000 --workdir /tmp/g1m

With --people N the People view is measured instead, on N named people (see bench_gui_people.py):
  .venv/bin/python bench/bench_gui.py --people 10000 --workdir /tmp/pv --build-only   # build once
  .venv/bin/python bench/bench_gui.py --people 10000 --workdir /tmp/pv                # measure
  BENCH_APP_ROOT=/tmp/pv-base .venv/bin/python bench/bench_gui.py --people 10000 --workdir /tmp/pv
The last one measures another checkout's window (e.g. `git archive main app | tar -x -C /tmp/pv-base`)
on the same workspace: BENCH_APP_ROOT names the folder whose `app` package is imported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import resource
import shutil
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
APP_ROOT = os.environ.get("BENCH_APP_ROOT") or str(pathlib.Path(__file__).resolve().parents[1])
sys.path.insert(0, APP_ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from app.core.analysis import AnalyzedFace, ImageAnalysis  # noqa: E402
from app.core.engine import Engine  # noqa: E402
from app.core.face_ops import AnalyzedImage  # noqa: E402

MODEL = "dlib_resnet_v1+bench"
DIM = 128
FACES_PER_IMAGE = 10
FACES_PER_IDENTITY = 20
IMAGES_PER_BATCH = 200


class BenchAnalyzer:
    model_version = MODEL

    def analyze(self, data):  # never called: the bench stores pre-analysed faces
        raise AssertionError


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def tiny_thumbnails(n: int = 64) -> list[bytes]:
    rng = np.random.default_rng(3)
    out = []
    for _ in range(n):
        img = np.full((48, 48, 3), rng.integers(40, 220, 3), np.uint8)
        cv2.circle(img, (24, 24), 14, tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
        out.append(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    return out


def build(engine: Engine, n_faces: int) -> list[list[str]]:
    """Store n_faces faces; the face ids per identity."""
    rng = np.random.default_rng(11)
    thumbs = tiny_thumbnails()
    n_ids = max(1, n_faces // FACES_PER_IDENTITY)
    centres = rng.normal(0, 1 / np.sqrt(2 * DIM), (n_ids, DIM)).astype(np.float32)
    engine.create_collection(CollectionId="bench")
    by_identity: list[list[str]] = [[] for _ in range(n_ids)]
    n_images = n_faces // FACES_PER_IMAGE
    face_no = 0
    for start in range(0, n_images, IMAGES_PER_BATCH):
        items, owners = [], []
        for i in range(start, min(start + IMAGES_PER_BATCH, n_images)):
            faces = []
            for place in range(FACES_PER_IMAGE):
                ident = face_no % n_ids
                face_no += 1
                d = centres[ident] + rng.normal(0, 0.3 / np.sqrt(2 * DIM), DIM).astype(np.float32)
                faces.append(AnalyzedFace({"Width": 0.08, "Height": 0.08, "Left": 0.09 * place, "Top": 0.2}, 99.0, d,
                                          thumbnail=thumbs[face_no % len(thumbs)]))
                owners.append(ident)
            analysis = ImageAnalysis(1000, 800, faces)
            items.append(AnalyzedImage(hashlib.sha256(f"img{i}".encode()).hexdigest(), f"img{i}.jpg", analysis))
        responses = engine.store_analyzed("bench", items, "NONE")
        ids = [r["Face"]["FaceId"] for resp in responses for r in resp["FaceRecords"]]
        for fid, ident in zip(ids, owners, strict=True):
            by_identity[ident].append(fid)
        if start % (IMAGES_PER_BATCH * 10) == 0:
            progress(f"stored {start * FACES_PER_IMAGE} faces")
    return by_identity


def spin_until(app, done, what: str, timeout_s: float = 60.0) -> None:
    """Run the event loop until done() is true; fail loudly instead of hanging."""
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--scroll-pages", type=int, default=400, help="page-down steps while scrolling")
    parser.add_argument("--workdir")
    parser.add_argument("--people", type=int, default=0, help="measure the People view with this many people")
    parser.add_argument("--build-only", action="store_true", help="build the workspace (in --workdir) and stop")
    parser.add_argument("--profile", help="write a cProfile of the scroll (the GUI thread) to this file")
    args = parser.parse_args()
    if args.people:
        import bench_gui_people

        emit(measure="app", root=APP_ROOT, load_average=[round(x, 2) for x in os.getloadavg()])
        return bench_gui_people.run_people(args, sys.modules[__name__])

    from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QPointF, QSettings, Qt, QTimer
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    tmp = tempfile.TemporaryDirectory(prefix="rekurator-bench-gui-")
    root = pathlib.Path(args.workdir or tmp.name)
    settings = root / "settings-run"
    shutil.rmtree(settings, ignore_errors=True)  # every run starts from the same window layout
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings))
    app = QApplication([])

    built = root / "built.json"  # what a run needs to know of a workspace built before
    engine = Engine(root / "ws", analyzer=BenchAnalyzer())
    if built.exists():
        batch = json.loads(built.read_text())["batch"]
        held = engine.list_users(CollectionId="bench", MaxResults=500)["Users"]
        if any(u["UserId"] == "target" for u in held):  # the previous run's association, given back
            faces = engine.list_faces(CollectionId="bench", UserId="target", MaxResults=4096)["Faces"]
            if faces:
                engine.disassociate_faces(CollectionId="bench", UserId="target", FaceIds=[f["FaceId"] for f in faces])
    else:
        t = time.perf_counter()
        identities = build(engine, args.faces)
        emit(measure="build", faces=args.faces, seconds=round(time.perf_counter() - t, 2),
             faces_per_s=round(args.faces / (time.perf_counter() - t)))
        for k in range(20):  # a few users with faces, so the window has something to list
            engine.create_user(CollectionId="bench", UserId=f"user{k}")
            engine.associate_faces(CollectionId="bench", UserId=f"user{k}", FaceIds=identities[k][:10])
        engine.create_user(CollectionId="bench", UserId="target")
        batch = [f for ident in identities[300:310] for f in ident][:100]  # faces of five or more people
        built.write_text(json.dumps({"faces": args.faces, "batch": batch}))
    if args.build_only:
        engine.close()
        return 0
    rss_before = rss_mib()

    from app.gui.main_window import MainWindow
    from app.gui.mime import encode_faces

    class PaintWatch(QObject):
        def __init__(self):
            super().__init__()
            self.paints = 0
            self.last_paint = 0.0
            self.last_ready = 0.0

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                self.paints += 1
                self.last_paint = time.perf_counter()
            return False

        def on_ready(self, *_args):
            self.last_ready = time.perf_counter()

        def on_rows(self, *_args):
            self.rows_at = time.perf_counter()

        rows_at = 0.0

    clock = QElapsedTimer()
    # Qt's own first-use costs (platform plugin, fonts, style), measured apart from the window's
    from PySide6.QtWidgets import QLabel

    clock.start()
    probe = QLabel("warm-up")
    probe.show()
    spin_until(app, probe.isVisible, "a first widget")
    app.processEvents()
    warmup_ms = clock.elapsed()
    probe.close()

    clock.restart()
    t_shown = time.perf_counter()
    window = MainWindow(engine)
    watch = PaintWatch()
    window.face_grid.viewport().installEventFilter(watch)
    window.thumbnails.ready.connect(watch.on_ready)
    window.face_model.page_added.connect(watch.on_rows)
    window.resize(1280, 800)
    window.show()
    # the first page of faces is read in the background: the first paint that shows rows
    spin_until(app, lambda: watch.rows_at and watch.last_paint > watch.rows_at, "the first grid paint with faces")
    shown_ms = clock.elapsed()
    # every visible thumbnail decoded, and a paint after the last one arrived (a last batch of rows off
    # screen is painted by nobody: after a second without a paint, the time it arrived counts)
    spin_until(app, lambda: not window.thumbnails.busy and watch.last_ready
               and (watch.last_paint > watch.last_ready or time.perf_counter() > watch.last_ready + 1.0),
               "a paint with the first screen of thumbnails")
    thumbs_ms = round((max(watch.last_paint, watch.last_ready) - t_shown) * 1000)
    emit(measure="window_shown", faces=args.faces, qt_warmup_ms=warmup_ms, first_grid_paint_ms=shown_ms,
         first_page_thumbnails_ms=thumbs_ms,
         loaded_rows=window.face_model.rowCount(), rss_mib=round(rss_mib(), 1), rss_before_window_mib=round(rss_before, 1))

    # -- scrolling: a heartbeat measures how long the event loop is away -------------------------
    gaps = []
    last = [time.perf_counter()]

    def beat():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    heart = QTimer()
    heart.setTimerType(Qt.TimerType.PreciseTimer)
    heart.timeout.connect(beat)
    bar = window.face_grid.verticalScrollBar()
    steps = [0]

    def scroll():
        steps[0] += 1
        bar.setValue(min(bar.value() + bar.pageStep(), bar.maximum()))

    scroller = QTimer()
    scroller.timeout.connect(scroll)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    heart.start(5)
    t_heart = last[0] = time.perf_counter()
    scroller.start(16)  # one page per frame: a fast fling
    t = time.perf_counter()
    spin_until(app, lambda: steps[0] >= args.scroll_pages, "the scroll", 600)
    scroller.stop()
    spin_until(app, lambda: not window.thumbnails.busy, "the last thumbnails")
    heart.stop()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    gaps_ms = np.array(gaps[1:]) * 1000
    if args.profile:  # when the long gaps ended, to match them with what ran (perf_counter seconds)
        ends = np.cumsum(gaps[1:]) + t_heart
        long_gaps = [f"{e:.3f} ({g:.0f} ms)" for e, g in zip(ends, gaps_ms, strict=True) if g > 25]
        progress("stalls > 25 ms ending at: " + ", ".join(long_gaps))
    emit(measure="scroll", pages=args.scroll_pages, seconds=round(time.perf_counter() - t, 2),
         rows_loaded=window.face_model.rowCount(), heartbeat_ms=5,
         longest_stall_ms=round(float(gaps_ms.max()), 1), p99_gap_ms=round(float(np.percentile(gaps_ms, 99)), 1),
         median_gap_ms=round(float(np.median(gaps_ms)), 1), rss_mib=round(rss_mib(), 1),
         max_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))

    # -- association of 100 faces ---------------------------------------------------------------------
    window.workspace.reload_faces()
    spin_until(app, lambda: not window.tasks.running(), "the grid reload")
    window.select_user("target")
    index = window.users_model.index(window.users_model.row_of("target"))
    window.users_view.scrollTo(index)
    app.processEvents()
    point = QPointF(window.users_view.visualRect(index).center())
    mime = encode_faces("bench", batch)
    clock.restart()
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    for kind in (QDragEnterEvent, QDragMoveEvent):  # what a real drag sends before the drop
        QApplication.sendEvent(window.users_view.viewport(), kind(point.toPoint(), Qt.DropAction.CopyAction, mime,
                                                                  buttons, mods))
    drop = QDropEvent(point, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(window.users_view.viewport(), drop)
    if not drop.isAccepted():
        raise SystemExit("the drop was refused")
    # the plan runs in the background; the preview opens when it is back
    spin_until(app, lambda: window.curation.preview_dialog is not None and window.curation.preview_dialog.isVisible(),
               "the preview dialog")
    dialog = window.curation.preview_dialog
    preview_ms = clock.elapsed()
    # the first-batch look-alike check runs behind the open dialog (a person reads the table meanwhile)
    spin_until(app, lambda: not window.tasks.running(), "the first-batch check")
    check_ms = clock.elapsed()
    clock.restart()
    dialog.threshold.setValue(0.0)  # a first batch of mixed identities: take them all
    spin_until(app, dialog.ok.isEnabled, "the plan at threshold 0")
    dialog.accept()
    # shown = the results panel has the outcome (the undo command is pushed right after)
    spin_until(app, lambda: window.undo_stack.index() == 1, "the association results")
    assoc_ms = clock.elapsed()
    spin_until(app, lambda: not window.tasks.running(), "the background checks")
    n_assoc = sum(r["Outcome"] == "ASSOCIATED" for r in window.results_panel.rows)

    # quick path: what a pinned number key does (no dialog); undo first: the same first batch again
    window.act_undo.trigger()
    spin_until(app, lambda: not window.tasks.running() and window.undo_stack.index() == 0, "the undo")
    from app.gui.settings import KEY_QUICK_CONFIRM, app_settings

    app_settings().setValue(KEY_QUICK_CONFIRM, "true")  # the operator's opt-in: one line instead of the preview
    clock.restart()
    window.curation.associate("target", batch, quick=True)
    spin_until(app, lambda: window.curation.quick_box is not None and window.curation.quick_box.isVisible(),
               "the one-line confirmation")
    quick_box_ms = clock.elapsed()
    window.curation.quick_box.defaultButton().click()  # Enter
    # done when the command is on the undo stack: that happens right after the results are shown
    spin_until(app, lambda: window.undo_stack.index() == 1, "the quick association results")
    quick_ms = clock.elapsed()
    spin_until(app, lambda: not window.tasks.running(), "the background reads after it")
    quick_all_ms = clock.elapsed()
    emit(measure="associate_100", faces=args.faces, drop_to_preview_ms=preview_ms,
         drop_to_first_batch_check_ms=check_ms, accept_to_results_ms=assoc_ms,
         associated=n_assoc, quick_key_to_confirmation_ms=quick_box_ms, quick_key_to_results_ms=quick_ms,
         quick_key_to_background_reads_done_ms=quick_all_ms,
         quick_associated=sum(r["Outcome"] == "ASSOCIATED" for r in window.results_panel.rows))
    emit(measure="rss", after_all_mib=round(rss_mib(), 1),
         max_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    window.close()
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
