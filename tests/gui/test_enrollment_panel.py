"""The webcam enrollment panel end to end: footage made from the test photos, read through
OpenCV in the capture worker's thread, analysed by the real default analyzer, enrolled by the
real engine, shown in the results panel, undone and redone on the window's undo stack."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from app.core.engine import Engine
from app.gui.capture_worker import FrameMailbox
from app.gui.enrollment_panel import PanelState
from app.gui.settings import KEY_THRESHOLD, app_settings
from app.workflows.journal_report import journal_report
from tests.capture.video_frames import DATA, FrameMaker, Shot, enrollment_shots, held, write_video

from .conftest import open_window
from .gui_actions import error_texts, message_boxes, wait_idle, settle

CAPTURE_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def analyzer(session_cache_dir):
    # the real models, once for this module; the converted ResNet goes to the session's cache dir
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REKURATOR_CACHE_DIR", str(session_cache_dir))
        from app.vision.default_analyzer import DlibYuNetAnalyzer

        return DlibYuNetAnalyzer()


@pytest.fixture(scope="module")
def videos(tmp_path_factory, analyzer):
    maker = FrameMaker(analyzer.detect_rgb)
    folder = tmp_path_factory.mktemp("enrollment-videos")

    def make(name, shots):
        return write_video(folder / f"{name}.avi", [maker.render(s) for s in shots])

    # problems first (several faces, too dark, too small, blurry), then many views of one person
    return {"enrollment": make("enrollment", enrollment_shots()),
            "short": make("short", held(Shot("obama.jpg"), 3) + held(Shot("obama2.jpg"), 2))}


@pytest.fixture
def real_engine(tmp_path, analyzer):
    eng = Engine(tmp_path / "ws", analyzer=analyzer)
    eng.create_collection(CollectionId="c")
    yield eng
    eng.close()


@pytest.fixture
def win(qtbot, real_engine):
    w = open_window(qtbot, real_engine)
    yield w
    w.close()


def open_panel(qtbot, w, paced: bool = False):
    w.act_enroll.trigger()
    ctl = w.enrollment
    ctl.pace_files = paced  # unpaced: every frame of the file is analysed, so the outcome is deterministic
    wait_idle(qtbot, w)  # the camera probe
    assert ctl.panel.isVisible()
    return ctl, ctl.panel


def journal(engine):
    return [e["Operation"] for e in engine.journal_entries()]


def users(engine):
    return {u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]}


def faces_of(engine, user_id=None):
    params = {"UserId": user_id} if user_id else {}
    return {f["FaceId"]: f for f in engine.list_faces(CollectionId="c", MaxResults=1000, **params)["Faces"]}


def start(qtbot, panel, source, user_id):
    panel.set_source_text(str(source))
    panel.user_combo.setEditText(user_id)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)


def test_enroll_from_a_video_then_undo_and_redo(qtbot, win, real_engine, videos):
    app_settings().setValue(KEY_THRESHOLD, 72.0)
    ctl, p = open_panel(qtbot, win)
    assert p.threshold.value() == 72.0 and p.frames.value() == 5  # shared with the association preview
    p.threshold.setValue(70.0)
    assert "c" in p.title.text()
    hints = []
    p.hint_changed.connect(hints.append)
    before = journal(real_engine)
    start(qtbot, p, videos["enrollment"], "barack")
    assert p.state is PanelState.COLLECTING
    qtbot.waitUntil(lambda: win.undo_stack.count() == 1 and not ctl.busy, timeout=CAPTURE_TIMEOUT_MS)

    # the operator saw the picture and was told what was wrong before the good frames came
    assert p.preview.frames_shown > 0
    for text in ("several faces — only one person please", "too dark", "too small — come closer"):
        assert text in hints
    assert "captured 5 of 5" in hints
    # the engine: a new user with the five frames as its faces
    assert "barack" in users(real_engine)
    owned = faces_of(real_engine, "barack")
    assert len(owned) == 5 and set(owned) == set(faces_of(real_engine))
    assert all(f["ExternalImageId"].startswith("enroll-barack-") for f in owned.values())
    # the results panel shows the association as for a drop
    rows = win.results_panel.rows
    assert {r["FaceId"] for r in rows} == set(owned) and {r["Outcome"] for r in rows} == {"ASSOCIATED"}
    assert "barack</b>: 5 associated, 0 not associated (threshold 70)" in win.results_panel.title.text()
    assert win.results_dock.isVisible()
    assert "Enrolled barack (new user): 5 frame(s) stored, 5 associated" in p.status.text()
    # the window shows the new user and faces; the threshold used is remembered for the preview
    settle(win)  # the new user is read back in the background
    assert "barack" in win.users_model.user_ids()
    qtbot.waitUntil(lambda: set(win.face_model.face_ids()) == set(owned))  # read in the background
    assert app_settings().value(KEY_THRESHOLD, type=float) == 70.0
    # one undoable step, and the JSON report has every engine call it made
    assert win.undo_stack.text(0) == "Enroll 5 faces as barack (new user)"
    ops = [o for o in journal_report(real_engine, since_seq=win.session_start_seq, kind="session")["Operations"]]
    assert [o["Operation"] for o in ops] == ["CreateUser"] + ["IndexFaces"] * 5 + ["AssociateFaces"]
    assert all(o["Request"]["Enrollment"]["UserId"] == "barack" for o in ops if o["Operation"] == "IndexFaces")
    assert ops[-1]["UserMatchThreshold"] == 70.0
    assert journal(real_engine)[: len(before)] == before

    win.act_undo.trigger()
    settle(win)
    assert "barack" not in users(real_engine) and faces_of(real_engine) == {}
    assert "barack" not in win.users_model.user_ids() and win.face_model.rowCount() == 0
    assert journal(real_engine)[-3:] == ["DisassociateFaces", "DeleteFaces", "DeleteUser"]

    win.act_redo.trigger()
    settle(win)
    assert set(faces_of(real_engine, "barack")) == set(owned)  # the same FaceIds again
    assert "barack" in win.users_model.user_ids() and set(win.face_model.face_ids()) == set(owned)
    win.act_undo.trigger()
    settle(win)
    assert faces_of(real_engine) == {} and "barack" not in users(real_engine)
    assert not message_boxes(win) and not message_boxes(p)


def test_a_face_of_another_user_is_reported_before_anything_is_written(qtbot, win, real_engine, videos):
    photo = (DATA / "obama.jpg").read_bytes()
    face = real_engine.index_faces(CollectionId="c", Image={"Bytes": photo}, ExternalImageId="obama.jpg")
    real_engine.create_user(CollectionId="c", UserId="obama")
    real_engine.associate_faces(CollectionId="c", UserId="obama", FaceIds=[face["FaceRecords"][0]["Face"]["FaceId"]])
    win.workspace.reload_collections("c")
    settle(win)
    ctl, p = open_panel(qtbot, win)
    before = journal(real_engine)

    start(qtbot, p, videos["enrollment"], "someone")
    qtbot.waitUntil(lambda: ctl.owner_box is not None, timeout=CAPTURE_TIMEOUT_MS)
    box = ctl.owner_box
    assert box.objectName() == "ownerWarning" and "already belongs to user obama" in box.text()
    assert "someone" in box.informativeText()
    # nothing was written while the operator decides (the check only searches)
    assert journal(real_engine) == before and p.state is PanelState.ENROLLING
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert ctl.owner_box is None and not ctl.busy
    assert journal(real_engine) == before and users(real_engine) == {"obama"}
    assert "Not enrolled" in p.status.text() and win.undo_stack.count() == 0

    # again, read in real time as from a camera (frames dropped while the analysis is busy),
    # and this time go on: the operator's choice
    qtbot.waitUntil(lambda: p.start_button.isEnabled(), timeout=10_000)
    ctl.close_source()
    ctl.pace_files = True
    p.frames.setValue(3)
    start(qtbot, p, videos["enrollment"], "someone")
    qtbot.waitUntil(lambda: ctl.owner_box is not None, timeout=CAPTURE_TIMEOUT_MS)
    assert ctl.pending.outcome.frames_read < 37  # complete before the footage ended
    ctl.owner_enroll_button.click()
    qtbot.waitUntil(lambda: win.undo_stack.count() == 1 and not ctl.busy, timeout=20_000)
    enrolled = set(faces_of(real_engine, "someone"))
    assert len(enrolled) == 3 and len(faces_of(real_engine, "obama")) == 1
    assert win.undo_stack.text(0) == "Enroll 3 faces as someone (new user)"

    # the user it created gained another face since: undo takes back the enrollment's faces
    # but keeps the user, and says so
    other = real_engine.index_faces(CollectionId="c", Image={"Bytes": (DATA / "biden.jpg").read_bytes()},
                                    ExternalImageId="biden.jpg")["FaceRecords"][0]["Face"]["FaceId"]
    real_engine.associate_faces(CollectionId="c", UserId="someone", FaceIds=[other], UserMatchThreshold=0.0)
    win.act_undo.trigger()
    settle(win)
    assert set(faces_of(real_engine, "someone")) == {other} and not enrolled & set(faces_of(real_engine))
    assert any("User someone was kept: it has faces this enrollment did not add" in t for t in error_texts(win))
    assert "someone" in win.users_model.user_ids()


def test_a_video_that_ends_early_says_so_and_its_frames_can_be_enrolled(qtbot, win, real_engine, videos):
    # an existing user this time, whose face is someone else's: nothing will be associated
    joe = real_engine.index_faces(CollectionId="c", Image={"Bytes": (DATA / "biden.jpg").read_bytes()},
                                  ExternalImageId="biden.jpg")["FaceRecords"][0]["Face"]["FaceId"]
    real_engine.create_user(CollectionId="c", UserId="joe")
    real_engine.associate_faces(CollectionId="c", UserId="joe", FaceIds=[joe])
    win.workspace.reload_collections("c")
    settle(win)
    ctl, p = open_panel(qtbot, win)
    start(qtbot, p, videos["short"], "joe")
    qtbot.waitUntil(lambda: p.enroll_captured_button.isVisible(), timeout=CAPTURE_TIMEOUT_MS)
    text = p.status.text()
    assert text.startswith("The video ended after 5 frame(s): ") and "of 5 good frame(s) captured" in text
    kept = len(ctl.pending.frames)
    assert 1 <= kept < 5 and f"Enroll the {kept} captured frame(s)" in text
    assert set(faces_of(real_engine)) == {joe} and win.undo_stack.count() == 0  # nothing written by the capture
    qtbot.waitUntil(lambda: ctl.session is None, timeout=10_000)  # the file ended: its thread is done
    assert p.state is PanelState.IDLE and "The video ended" in p.hint_label.text()

    qtbot.mouseClick(p.enroll_captured_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.undo_stack.count() == 1 and not ctl.busy, timeout=20_000)
    assert not p.enroll_captured_button.isVisible()
    # stored, but not associated: the results say which, why, and how close they came
    stored = set(faces_of(real_engine)) - {joe}
    assert len(stored) == kept and set(faces_of(real_engine, "joe")) == {joe}
    assert p.status.text().startswith(f"Enrolled joe: {kept} frame(s) stored, 0 associated, {kept} not associated")
    rows = win.results_panel.rows
    assert {r["FaceId"] for r in rows} == stored
    assert all(r["Outcome"] == "NOT_ASSOCIATED" and r["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
               and 0 <= r["Confidence"] < 75 for r in rows)
    assert win.undo_stack.text(0) == f"Enroll {kept} face{'s' if kept > 1 else ''} as joe"
    # undo deletes the faces it indexed and leaves the user it did not create as it was
    win.act_undo.trigger()
    settle(win)
    assert users(real_engine) == {"joe"} and set(faces_of(real_engine)) == {joe}
    assert set(faces_of(real_engine, "joe")) == {joe} and not error_texts(win)


def test_missing_or_malformed_sources_give_a_clear_message(qtbot, win, real_engine, tmp_path):
    ctl, p = open_panel(qtbot, win)
    before = journal(real_engine)
    cases = [(str(tmp_path / "nowhere.avi"), "no such file"), ("7", "camera 7 not found"),
             ("-1", "camera index must be a whole number"), ("", "no camera or video source given")]
    for spec, expected in cases:
        start(qtbot, p, spec, "barack")
        qtbot.waitUntil(lambda: any(expected in t for t in error_texts(p)), timeout=10_000)
        qtbot.waitUntil(lambda: ctl.session is None and not ctl._stopping, timeout=10_000)
        assert p.state is PanelState.IDLE and p.start_button.isEnabled()
        for box in message_boxes(p):
            box.close()
    start(qtbot, p, tmp_path / "nowhere.avi", "")
    assert any("Pick a user or type a new UserId" in t for t in error_texts(p))
    for box in message_boxes(p):
        box.close()
    start(qtbot, p, tmp_path / "nowhere.avi", "not a/valid id")
    assert any("UserId" in t for t in error_texts(p))
    # the workspace is as before
    assert journal(real_engine) == before and users(real_engine) == set() and win.undo_stack.count() == 0


def test_pause_stop_switch_and_close_mid_capture(qtbot, win, real_engine, videos):
    ctl, p = open_panel(qtbot, win, paced=True)  # read at the file's 10 fps, like a camera
    before = journal(real_engine)
    ended = []

    def watch(session):
        thread, source = session.capture_thread, session.source
        session.ended.connect(lambda ending, _message: ended.append((session, thread.isFinished(), source.is_open)))
        return session

    # preview, then pause: a paused file is not read on
    first = watch(ctl.open_source(str(videos["enrollment"])))
    qtbot.waitUntil(lambda: p.preview.frames_shown >= 2, timeout=10_000)
    qtbot.mouseClick(p.pause_button, Qt.MouseButton.LeftButton)
    assert p.pause_button.isChecked() and first.worker.paused
    qtbot.wait(500)  # the frame being read and analysed when Pause came is finished first
    read = first.worker.frames_read
    qtbot.wait(400)  # four frame times of the 10 fps footage
    assert first.worker.frames_read == read
    qtbot.mouseClick(p.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: first.worker.frames_read > read, timeout=5_000)

    # switch to another source: the first one's thread ends and its file is closed
    second = watch(ctl.open_source(str(videos["short"])))
    qtbot.waitUntil(lambda: len(ended) == 1, timeout=5_000)
    assert ended[0] == (first, True, False)
    qtbot.waitUntil(lambda: second.worker.frames_shown >= 1, timeout=10_000)
    qtbot.waitUntil(lambda: ctl.session is None, timeout=10_000)  # the short video ends by itself
    assert ended[1] == (second, True, False)

    # Stop during a collection keeps what was kept and says how it ended
    start(qtbot, p, videos["enrollment"], "barack")
    third = watch(ctl.session)
    qtbot.waitUntil(lambda: third.worker.frames_read >= 3, timeout=10_000)
    qtbot.mouseClick(p.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p.state is PanelState.PREVIEW, timeout=5_000)
    assert p.status.text().startswith("Capture was stopped after ")
    assert third.running  # the preview goes on

    # closing the panel mid-capture: the thread ends, the file is closed, nothing is written
    start(qtbot, p, videos["enrollment"], "barack")
    assert p.state is PanelState.COLLECTING
    p.close()
    qtbot.waitUntil(lambda: len(ended) == 3, timeout=5_000)
    assert ended[2] == (third, True, False)
    assert ctl.session is None and ctl.pending is None

    # and closing the window mid-capture waits for the thread
    p = ctl.open_panel("c")
    start(qtbot, p, videos["enrollment"], "barack")
    fourth = ctl.session
    thread, source = fourth.capture_thread, fourth.source
    qtbot.waitUntil(lambda: fourth.worker.frames_read >= 2, timeout=10_000)
    win.close()
    assert thread.isFinished() and not source.is_open
    assert journal(real_engine) == before and win.undo_stack.count() == 0


def test_the_mailbox_keeps_only_the_latest_frame():
    box = FrameMailbox()
    a, b = QImage(2, 2, QImage.Format.Format_RGB888), QImage(3, 3, QImage.Format.Format_RGB888)
    assert box.put(a) is True  # empty: the GUI is told
    assert box.put(b) is False  # replaced unread: the signal already on its way brings b
    assert box.take().width() == 3 and box.take() is None
    assert box.put(a) is True
