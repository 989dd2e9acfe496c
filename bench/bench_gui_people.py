"""bench_gui.py --people: the People view of the curation window with thousands of people.

Builds (once; reuse it with --workdir) a collection of N named people (default 10,000) holding
FACES_PER_PERSON faces each, plus unknown people whose faces no user holds, 100,000 faces in all,
through the engine's fast store path (Engine.store_analyzed), CreateUser + AssociateFaces,
UpdatePerson (display names) and one ClusterFaces (kept in the workspace, as a curator's earlier
session would leave it). Then, in this process, with the People dock open:

  people_window   window shown -> first paint of the People view with cards; -> every visible cover
                  painted (ms)
  people_scroll   the People view scrolled page by page (one page per 16 ms frame): longest event-loop
                  stall, p99 and median gap from a 5 ms QTimer heartbeat
  people_filter   typing a name into the type-ahead filter, key by key (ms from the key to the event
                  loop idle again, and the cards shown after the last key), then erasing it
  people_edits    a rename (UpdatePerson) -> the card shows the new name; one face associated with a
                  person -> the card shows the new count (ms)

The window code comes from the checkout that bench_gui.py imports (BENCH_APP_ROOT): run it against
another checkout to compare, alternating runs on the same workspace.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import time

import numpy as np

FACES_PER_PERSON = 9
FACES_PER_UNKNOWN = 10
FIRST = ["Maria", "Ahmed", "Wei", "Olga", "James", "Fatima", "Luis", "Aiko", "Peter", "Amara", "Ivan", "Sofia"]
LAST = ["Garcia", "Khan", "Chen", "Petrova", "Smith", "Okafor", "Silva", "Tanaka", "Novak", "Dubois"]
TYPED = "maria ch"


def display_name(k: int) -> str:
    return f"{FIRST[k % len(FIRST)]} {LAST[(k // len(FIRST)) % len(LAST)]} {k}"


def build_people(engine, bench, n_people: int, n_faces: int) -> dict:
    """Store the faces and name the people; what the measurements need to know of the collection."""
    from app.core.analysis import AnalyzedFace, ImageAnalysis
    from app.core.face_ops import AnalyzedImage

    rng = np.random.default_rng(17)
    thumbs = bench.tiny_thumbnails()
    assigned = n_people * FACES_PER_PERSON
    if assigned > n_faces:
        raise SystemExit(f"{n_people} people of {FACES_PER_PERSON} faces need {assigned} faces, more than --faces")
    n_unknown = max(0, (n_faces - assigned) // FACES_PER_UNKNOWN)
    n_ids = n_people + n_unknown
    centres = rng.normal(0, 1 / np.sqrt(2 * bench.DIM), (n_ids, bench.DIM)).astype(np.float32)
    # face k: identity k % n_ids among the people until each has its faces, then the unknown ones
    identity = np.concatenate([np.tile(np.arange(n_people), FACES_PER_PERSON),
                               n_people + np.arange(n_faces - assigned) % max(1, n_unknown)])
    engine.create_collection(CollectionId="bench")
    by_identity: list[list[str]] = [[] for _ in range(n_ids)]
    t = time.perf_counter()
    per_image = bench.FACES_PER_IMAGE
    for start in range(0, n_faces, per_image * bench.IMAGES_PER_BATCH):
        items, owners = [], []
        for first in range(start, min(start + per_image * bench.IMAGES_PER_BATCH, n_faces), per_image):
            faces = []
            for place, k in enumerate(range(first, min(first + per_image, n_faces))):
                ident = int(identity[k])
                d = centres[ident] + rng.normal(0, 0.3 / np.sqrt(2 * bench.DIM), bench.DIM).astype(np.float32)
                faces.append(AnalyzedFace({"Width": 0.08, "Height": 0.08, "Left": 0.09 * place, "Top": 0.2}, 99.0, d,
                                          thumbnail=thumbs[k % len(thumbs)]))
                owners.append(ident)
            name = f"p{first // per_image}"
            items.append(AnalyzedImage(hashlib.sha256(name.encode()).hexdigest(), f"{name}.jpg", ImageAnalysis(1000, 800, faces)))
        responses = engine.store_analyzed("bench", items, "NONE")
        ids = [r["Face"]["FaceId"] for resp in responses for r in resp["FaceRecords"]]
        for fid, ident in zip(ids, owners, strict=True):
            by_identity[ident].append(fid)
        if start % 20_000 == 0:
            bench.progress(f"stored {start} faces")
    stored_s = time.perf_counter() - t
    t = time.perf_counter()
    for k in range(n_people):
        uid = f"person-{k:05d}"
        engine.create_user(CollectionId="bench", UserId=uid)
        engine.associate_faces(CollectionId="bench", UserId=uid, FaceIds=by_identity[k])
        engine.update_person(CollectionId="bench", UserId=uid, DisplayName=display_name(k))
        if k % 1000 == 0:
            bench.progress(f"named {k} people")
    people_s = time.perf_counter() - t
    t = time.perf_counter()
    groups = engine.cluster_faces(CollectionId="bench")["Groups"]
    cluster_s = time.perf_counter() - t
    bench.emit(measure="people_build", people=n_people, faces=n_faces, unknown_identities=n_unknown,
               store_s=round(stored_s, 1), people_s=round(people_s, 1), first_cluster_s=round(cluster_s, 1),
               groups=len(groups))
    return {"unknown_faces": [f for ident in range(n_people, n_ids) for f in by_identity[ident]]}


def wait(app, done, timeout_s: float) -> bool:
    """Run the event loop until done() or the timeout; whether done."""
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
    return True


def unknown_face(engine) -> str:
    """A face no user holds (for the association measured below)."""
    page = engine.list_faces(CollectionId="bench", MaxResults=4096)
    while True:
        free = [f["FaceId"] for f in page["Faces"] if not f.get("UserId")]
        if free:
            return free[0]
        page = engine.list_faces(CollectionId="bench", MaxResults=4096, NextToken=page["NextToken"])


def run_people(args, bench) -> int:
    from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QSettings, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QLabel

    from app.core.engine import Engine

    root = pathlib.Path(args.workdir) if args.workdir else pathlib.Path(bench.tempfile.mkdtemp(prefix="rekurator-bench-people-"))
    settings = root / "settings-run"
    shutil.rmtree(settings, ignore_errors=True)  # every run starts from the same window layout
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings))
    app = QApplication([])
    built = (root / "ws").exists()
    engine = Engine(root / "ws", analyzer=bench.BenchAnalyzer())
    if not built:
        build_people(engine, bench, args.people, args.faces)
    if args.build_only:
        engine.close()
        return 0
    free_face = unknown_face(engine)
    target = "person-00003"
    engine.update_person(CollectionId="bench", UserId=target, DisplayName=display_name(3))  # as built

    class PaintWatch(QObject):
        def __init__(self):
            super().__init__()
            self.last_paint = 0.0
            self.rows_at = 0.0
            self.last_ready = 0.0

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                self.last_paint = time.perf_counter()
            return False

    clock = QElapsedTimer()
    clock.start()
    probe = QLabel("warm-up")  # Qt's own first-use costs, apart from the window's
    probe.show()
    bench.spin_until(app, probe.isVisible, "a first widget")
    app.processEvents()
    warmup_ms = clock.elapsed()
    probe.close()

    from app.gui.main_window import MainWindow

    clock.restart()
    window = MainWindow(engine)
    model, cards = window.people_model, window.people_panel.cards
    watch = PaintWatch()
    cards.viewport().installEventFilter(watch)

    def rows_came(*_args):
        if model.rowCount() and not watch.rows_at:
            watch.rows_at = time.perf_counter()

    def covers_ready(*_args):
        watch.last_ready = time.perf_counter()

    if os.environ.get("BENCH_TRACE"):  # which background reads run when, on stderr
        t_start = time.perf_counter()
        window.tasks.changed.connect(lambda n, name: bench.progress(f"{1000 * (time.perf_counter() - t_start):7.0f} ms "
                                                                     f"tasks={n} {name}"))
    model.modelReset.connect(rows_came)
    model.rowsInserted.connect(rows_came)
    window.thumbnails.ready.connect(covers_ready)
    window.resize(1280, 800)
    window.people_dock.show()
    window.show()
    bench.spin_until(app, lambda: watch.rows_at and watch.last_paint > watch.rows_at, "the first People card paint", 300)
    first_ms = clock.elapsed()
    rows_ms = round(first_ms - 1000 * (time.perf_counter() - watch.rows_at))  # when the first cards came in
    # covers: none to wait for where the cards have none (no cover set, and no automatic one)
    def covers_shown():
        if window.thumbnails.busy:
            return False
        return not any(c.cover_face_id for c in model.cards) or watch.last_ready and watch.last_paint > watch.last_ready

    covers_ms = clock.elapsed() if wait(app, covers_shown, 60) else None  # None: not within a minute
    idle_ms = clock.elapsed() if wait(app, lambda: not window.tasks.running(), 60) else None
    bench.emit(measure="people_window", people=args.people, faces=args.faces, qt_warmup_ms=warmup_ms,
               cards_in_model_ms=rows_ms, first_card_paint_ms=first_ms, covers_painted_ms=covers_ms, all_reads_done_ms=idle_ms,
               card_rows=model.rowCount(),
               dock_width=window.people_dock.width(), rss_mib=round(bench.rss_mib(), 1))

    # -- scrolling the cards ------------------------------------------------------------------------
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    heart = QTimer()
    heart.setTimerType(Qt.TimerType.PreciseTimer)
    heart.timeout.connect(beat)
    bar = cards.verticalScrollBar()
    steps = [0]

    def scroll():
        steps[0] += 1
        bar.setValue(min(bar.value() + bar.pageStep(), bar.maximum()))

    scroller = QTimer()
    scroller.timeout.connect(scroll)
    heart.start(5)
    scroller.start(16)
    t = time.perf_counter()
    bench.spin_until(app, lambda: steps[0] >= args.scroll_pages, "the scroll", 600)
    scroller.stop()
    wait(app, lambda: not window.thumbnails.busy, 60)
    heart.stop()
    gaps_ms = np.array(gaps[1:]) * 1000
    bench.emit(measure="people_scroll", pages=args.scroll_pages, seconds=round(time.perf_counter() - t, 2),
               card_rows=model.rowCount(), heartbeat_ms=5, longest_stall_ms=round(float(gaps_ms.max()), 1),
               p99_gap_ms=round(float(np.percentile(gaps_ms, 99)), 1), median_gap_ms=round(float(np.median(gaps_ms)), 1),
               rss_mib=round(bench.rss_mib(), 1))

    # -- typing into the filter ---------------------------------------------------------------------
    edit = window.people_panel.filter_edit
    edit.setFocus()
    typing: list[float] = []
    for ch in TYPED:
        t = time.perf_counter()
        QTest.keyClick(edit, ch)
        app.processEvents()
        typing.append((time.perf_counter() - t) * 1000)
    shown = cards.model().rowCount()  # what the view shows (another window may filter through a proxy)
    erasing: list[float] = []
    for _ in TYPED:
        t = time.perf_counter()
        QTest.keyClick(edit, Qt.Key.Key_Backspace)
        app.processEvents()
        erasing.append((time.perf_counter() - t) * 1000)
    bench.emit(measure="people_filter", typed=TYPED, cards_shown=shown, key_median_ms=round(float(np.median(typing)), 1),
               key_max_ms=round(max(typing), 1), erase_median_ms=round(float(np.median(erasing)), 1),
               erase_max_ms=round(max(erasing), 1))

    # -- edits: only the touched cards change ---------------------------------------------------------
    def card(uid):
        return next((c for c in model.cards if c.kind == "person" and c.key == uid), None)

    wait(app, lambda: not window.tasks.running(), 30)  # (a window still counting faces goes on meanwhile)
    renamed = "Renamed Person"
    clock.restart()
    window.people_actions.update_person("bench", target, {"DisplayName": renamed}, f"Rename {target}")
    bench.spin_until(app, lambda: card(target) is not None and card(target).name == renamed, "the renamed card", 300)
    rename_ms = clock.elapsed()
    wait(app, lambda: not window.tasks.running(), 30)
    from app.gui.association_preview import AssociationRequest

    before = card(target).face_count
    clock.restart()
    window.curation.run(AssociationRequest("bench", target, (free_face,), 0.0, True))
    bench.spin_until(app, lambda: card(target) is not None and card(target).face_count == before + 1,
                     "the card's new count", 300)
    associate_ms = clock.elapsed()
    settled_ms = clock.elapsed() if wait(app, lambda: not window.tasks.running(), 60) else None
    bench.emit(measure="people_edits", rename_to_card_ms=rename_ms, associate_to_card_ms=associate_ms,
               associate_all_done_ms=settled_ms)
    # put the workspace back as built, for the next run
    engine.update_person(CollectionId="bench", UserId=target, DisplayName=display_name(3))
    engine.disassociate_faces(CollectionId="bench", UserId=target, FaceIds=[free_face])
    window.close()
    engine.close()
    return 0
