"""The webcam enrollment panel end to end: footage made from the test photos, read through
OpenCV in the capture worker's thread, analysed by the real default analyzer, enrolled by the
real engine, shown in the results panel, undone and redone on the window's undo stack."""

from __future__ import annotations

import re
import sqlite3

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QPushButton

from app.core.engine import Engine
from app.core.workspace import database_path
from app.gui.capture_worker import FrameMailbox
from app.gui.enrollment_panel import PAUSED_HINT, PanelState
from app.gui.settings import KEY_THRESHOLD, app_settings
from app.workflows.journal_report import journal_report
from tests.capture.video_frames import DATA, FrameMaker, Shot, enrollment_shots, held, stranger_shots, write_video

from .conftest import open_window
from .gui_actions import error_texts, message_boxes, settle, wait_idle

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
            "short": make("short", held(Shot("obama.jpg"), 3) + held(Shot("obama2.jpg"), 2)),
            "stranger": make("stranger", stranger_shots())}  # another person: four good frames


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


def stored_images(engine) -> list[str]:
    """The photos the workspace database holds, by ExternalImageId (read from the file itself)."""
    conn = sqlite3.connect(database_path(engine.workspace))
    try:
        return sorted(r[0] for r in conn.execute("SELECT external_image_id FROM images"))
    finally:
        conn.close()


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


def press_in_panel(qtbot, panel, key, modifiers):
    """A key pressed with the panel the active window and its User field focused, as an operator does."""
    panel.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is panel, timeout=5_000)
    panel.user_combo.setFocus()
    qtbot.keyClick(panel.user_combo.lineEdit(), key, modifiers)


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
    assert "Enrolled barack (new user): 5 frames stored, 5 associated" in p.status.text()
    # the queue: the User field is cleared and focused for the next person, and the sitting counted
    assert p.user_id() == "" and p.user_combo.hasFocus()
    assert p.sitting_label.text() == "Enrolled in this sitting: 1 person"
    # the window shows the new user and faces; the threshold used is remembered for the preview
    settle(win)  # the new user is read back in the background
    assert "barack" in win.users_model.user_ids()
    assert "barack" in [p.user_combo.itemText(i) for i in range(p.user_combo.count())]  # the panel's list too
    qtbot.waitUntil(lambda: set(win.face_model.face_ids()) == set(owned))  # read in the background
    assert app_settings().value(KEY_THRESHOLD, type=float) == 70.0
    # one undoable step, and the JSON report has every engine call it made
    assert win.undo_stack.text(0) == "Enroll 5 faces as barack (new user)"
    ops = [o for o in journal_report(real_engine, since_seq=win.session_start_seq, kind="session")["Operations"]]
    assert [o["Operation"] for o in ops] == ["CreateUser"] + ["IndexFaces"] * 5 + ["AssociateFaces"]
    assert all(o["Request"]["Enrollment"]["UserId"] == "barack" for o in ops if o["Operation"] == "IndexFaces")
    assert ops[-1]["UserMatchThreshold"] == 70.0
    assert journal(real_engine)[: len(before)] == before

    # Ctrl+Z where the operator is: in the panel, the cleared User field focused
    press_in_panel(qtbot, p, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(win)
    assert "barack" not in users(real_engine) and faces_of(real_engine) == {}
    assert "barack" not in win.users_model.user_ids() and win.face_model.rowCount() == 0
    assert journal(real_engine)[-3:] == ["DisassociateFaces", "DeleteFaces", "DeleteUser"]
    # the panel and the Results panel follow the undo
    assert p.status.text().startswith("Undone: Enroll 5 faces as barack (new user)")
    assert p.sitting_label.text() == "No one enrolled yet in this sitting"
    assert win.results_panel.title.text().startswith("5 faces deleted")
    assert "barack" not in [p.user_combo.itemText(i) for i in range(p.user_combo.count())]

    press_in_panel(qtbot, p, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    settle(win)
    assert p.status.text().startswith("Redone: Enroll 5 faces as barack")
    assert p.sitting_label.text() == "Enrolled in this sitting: 1 person"
    assert "barack</b>: 5 associated, 0 not associated (threshold 70)" in win.results_panel.title.text()
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
    # an existing user this time, whose face is someone else's: the frames would not be associated
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
    frames = f"{kept} captured frame{'s' if kept > 1 else ''}"
    assert 1 <= kept < 5 and f"Enroll the {frames} of joe, or Start again." in text
    assert p.enroll_captured_button.text() == f"&Enroll {kept} frame{'s' if kept > 1 else ''} of joe"
    assert set(faces_of(real_engine)) == {joe} and win.undo_stack.count() == 0  # nothing written by the capture
    qtbot.waitUntil(lambda: ctl.session is None, timeout=10_000)  # the file ended: its thread is done
    assert p.state is PanelState.IDLE and "The video ended" in p.hint_label.text()
    assert "Reading" not in p.status.text()  # nothing is being read any more

    before = journal(real_engine)
    qtbot.mouseClick(p.enroll_captured_button, Qt.MouseButton.LeftButton)
    # the engine's plan says joe would not take them: asked before anything is written
    qtbot.waitUntil(lambda: ctl.match_box is not None, timeout=20_000)
    assert ctl.match_box.text().startswith("These frames do not look like joe: ")
    assert journal(real_engine) == before and "Enrolled" not in p.status.text()
    ctl.match_store_button.click()  # the operator's explicit yes
    qtbot.waitUntil(lambda: win.undo_stack.count() == 1 and not ctl.busy, timeout=20_000)
    assert not p.enroll_captured_button.isVisible()
    # stored, but not associated: the results say which, why, and how close they came
    stored = set(faces_of(real_engine)) - {joe}
    assert len(stored) == kept and set(faces_of(real_engine, "joe")) == {joe}
    assert p.status.text().startswith(f"Nothing associated with joe: {kept} frame")
    assert "Enrolled" not in p.status.text() and p.sitting_label.text() == "No one enrolled yet in this sitting"
    assert p.user_id() == "joe"  # not cleared: nobody was enrolled
    rows = win.results_panel.rows
    assert {r["FaceId"] for r in rows} == stored
    assert all(r["Outcome"] == "NOT_ASSOCIATED" and r["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
               and 0 <= r["Confidence"] < 75 for r in rows)
    assert win.undo_stack.text(0) == f"Enroll {kept} face{'s' if kept > 1 else ''} as joe"
    # undo deletes the faces it indexed (and their photos) and leaves the user it did not create as it was
    win.act_undo.trigger()
    settle(win)
    assert users(real_engine) == {"joe"} and set(faces_of(real_engine)) == {joe}
    assert set(faces_of(real_engine, "joe")) == {joe} and not error_texts(win)
    assert stored_images(real_engine) == ["biden.jpg"]


def test_missing_or_malformed_sources_give_a_clear_message(qtbot, win, real_engine, tmp_path):
    ctl, p = open_panel(qtbot, win)
    before = journal(real_engine)
    cases = [(str(tmp_path / "nowhere.avi"), "Opening the video file failed. ", "no such file"),
             ("7", "Opening the camera failed. ", "camera 7 not found"),
             ("-1", "Opening the camera failed. ", "camera index must be a whole number")]
    for spec, title, expected in cases:
        start(qtbot, p, spec, "barack")
        qtbot.waitUntil(lambda expected=expected: any(expected in t for t in error_texts(p)), timeout=10_000)
        assert any(t.startswith(title) for t in error_texts(p))  # a video file is not called a camera
        qtbot.waitUntil(lambda: ctl.session is None and not ctl._stopping, timeout=10_000)
        assert p.state is PanelState.IDLE and p.start_button.isEnabled()
        for box in message_boxes(p):
            box.close()
    # controls that cannot act are disabled: no source, or no user, to start with
    p.set_source_text("")
    p.user_combo.setEditText("barack")
    assert not p.start_button.isEnabled() and not p.open_button.isEnabled()
    p.set_source_text(str(tmp_path / "nowhere.avi"))
    p.user_combo.setEditText("")
    assert not p.start_button.isEnabled() and p.open_button.isEnabled()
    assert not p.stop_button.isEnabled() and not p.pause_button.isEnabled() and not p.close_source_button.isEnabled()
    ctl.start()  # reached without the button (a test, a future shortcut): still refused in words
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


def enroll_person(qtbot, win, ctl, p, video, user_id, frames=3):
    """One person of the queue, enrolled from `video` with the panel (unpaced: deterministic)."""
    count = win.undo_stack.count()
    p.frames.setValue(frames)
    start(qtbot, p, video, user_id)
    qtbot.waitUntil(lambda: win.undo_stack.count() == count + 1 and not ctl.busy, timeout=CAPTURE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: ctl.session is None, timeout=10_000)


def test_frames_stay_bound_to_the_user_they_were_captured_for(qtbot, win, real_engine, videos):
    ctl, p = open_panel(qtbot, win)
    start(qtbot, p, videos["short"], "ghost")
    qtbot.waitUntil(lambda: p.enroll_captured_button.isVisible(), timeout=CAPTURE_TIMEOUT_MS)
    kept = len(ctl.pending.frames)
    frames = f"{kept} frame{'s' if kept > 1 else ''}"
    # the panel shows whom the frames are of
    assert p.enroll_captured_button.text() == f"&Enroll {frames} of ghost"
    assert p.progress.text() == f"{kept} / 5 good frames of ghost"
    before = journal(real_engine)

    # the operator types the next person's name: enrolling the waiting frames asks whom they show
    p.user_combo.setEditText("walker")
    qtbot.mouseClick(p.enroll_captured_button, Qt.MouseButton.LeftButton)
    box = ctl.user_box
    assert box is not None and box.objectName() == "userChangedQuestion"
    assert box.text() == f"These {frames} were captured for ghost, but the User field says walker."
    assert journal(real_engine) == before  # nothing written while the operator decides
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert ctl.user_box is None and journal(real_engine) == before and ctl.pending is not None
    assert p.enroll_captured_button.isVisible()

    # they show walker: enrolled as walker, and no "ghost" is created
    qtbot.mouseClick(p.enroll_captured_button, Qt.MouseButton.LeftButton)
    ctl.user_field_button.click()
    qtbot.waitUntil(lambda: win.undo_stack.count() == 1 and not ctl.busy, timeout=20_000)
    assert users(real_engine) == {"walker"} and len(faces_of(real_engine, "walker")) == kept
    assert win.undo_stack.text(0) == f"Enroll {kept} face{'s' if kept > 1 else ''} as walker (new user)"
    assert p.status.text().startswith("Enrolled walker (new user)")


def test_a_stranger_is_not_stored_under_the_previous_person(qtbot, win, real_engine, videos):
    ctl, p = open_panel(qtbot, win)
    enroll_person(qtbot, win, ctl, p, videos["enrollment"], "katy")
    assert p.user_id() == "" and p.sitting_label.text() == "Enrolled in this sitting: 1 person"
    settle(win)
    katy = set(faces_of(real_engine, "katy"))
    before, images = journal(real_engine), stored_images(real_engine)

    # the next person is someone else, but the operator picks katy again
    p.frames.setValue(4)
    start(qtbot, p, videos["stranger"], "katy")
    qtbot.waitUntil(lambda: ctl.match_box is not None, timeout=CAPTURE_TIMEOUT_MS)
    box = ctl.match_box
    assert box.objectName() == "matchWarning"
    assert re.fullmatch(r"These frames do not look like katy: \d+ < 75\.", box.text()), box.text()
    assert "Nothing has been stored" in box.informativeText()
    # nothing stored, nothing journaled, and the panel does not say "Enrolled"
    assert journal(real_engine) == before and stored_images(real_engine) == images
    assert p.status.text().startswith("Not enrolled yet: These frames do not look like katy")
    assert p.sitting_label.text() == "Enrolled in this sitting: 1 person"

    # a new user instead
    ctl.match_new_user_button.click()
    dialog = ctl.new_user_dialog
    assert dialog is not None and dialog.objectName() == "newUserDialog"
    dialog.setTextValue("joe")
    dialog.accept()
    qtbot.waitUntil(lambda: win.undo_stack.count() == 2 and not ctl.busy, timeout=20_000)
    assert set(faces_of(real_engine, "katy")) == katy and len(faces_of(real_engine, "joe")) == 4
    assert p.status.text().startswith("Enrolled joe (new user): 4 frames stored, 4 associated")
    assert p.sitting_label.text() == "Enrolled in this sitting: 2 people" and p.user_id() == ""
    assert p.sitting_label.toolTip() == "katy, joe"
    assert {f["FaceId"] for f in real_engine.list_faces(CollectionId="c")["Faces"]} == katy | set(faces_of(real_engine, "joe"))


def test_stopping_or_switching_mid_capture_offers_the_frames_and_nothing_stale_stays(qtbot, win, real_engine, videos):
    ctl, p = open_panel(qtbot, win, paced=True)  # read at the file's 10 fps, like a camera
    assert p.progress.text() == "0 / 5 good frames"  # the chosen count, before anything is captured
    p.frames.setValue(4)
    assert p.progress.text() == "0 / 4 good frames"

    # a paused capture says so, and Start while paused resumes it
    start(qtbot, p, videos["enrollment"], "barack")
    session = ctl.session
    qtbot.waitUntil(lambda: session.worker.frames_read >= 2, timeout=10_000)
    qtbot.mouseClick(p.pause_button, Qt.MouseButton.LeftButton)
    assert session.worker.paused and p.hint_label.text() == PAUSED_HINT and p.fps_label.text() == "paused"
    qtbot.wait(300)
    assert p.hint_label.text() == PAUSED_HINT  # no late verdict paints over it
    assert p.start_button.isEnabled()
    qtbot.mouseClick(p.start_button, Qt.MouseButton.LeftButton)
    assert not session.worker.paused and not p.pause_button.isChecked() and p.state is PanelState.COLLECTING
    assert p.preview.fps == 0.0  # the reading starts afresh: the paused time is not the camera's rate
    qtbot.waitUntil(lambda: p.preview.fps > 0, timeout=5_000)
    assert p.preview.fps > 5  # about the file's 10 fps, not the rate over the pause

    # Stop camera mid-capture: the frames kept so far are offered, as Stop does
    qtbot.waitUntil(lambda: p.progress.value() >= 1, timeout=CAPTURE_TIMEOUT_MS)
    qtbot.mouseClick(p.close_source_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not ctl._stopping, timeout=10_000)
    kept = len(ctl.pending.frames)
    assert kept >= 1 and p.enroll_captured_button.isVisible()
    assert p.status.text().startswith(f"The camera was stopped during the capture: {kept} of 4 good frame(s) of "
                                      f"barack captured. Enroll the {kept} captured frame")
    assert p.state is PanelState.IDLE and p.preview.image is None
    assert "Capturing" not in p.status.text() and "captured" not in p.hint_label.text()

    # switching source mid-capture offers them too; Start again says the waiting ones are dropped
    start(qtbot, p, videos["enrollment"], "barack")
    assert f"({kept} captured frame" in p.status.text() and "of barack dropped.)" in p.status.text()
    session = ctl.session
    qtbot.waitUntil(lambda: p.progress.value() >= 1, timeout=CAPTURE_TIMEOUT_MS)
    ctl.open_source(str(videos["short"]))
    qtbot.waitUntil(lambda: ctl.pending is not None and not ctl._stopping, timeout=10_000)
    assert p.status.text().startswith("The source was switched during the capture: ")
    assert journal(real_engine)[-1] == "CreateCollection"  # nothing written by any of it

    # a video that ends leaves no "Reading…" and no old hint or progress over "No picture"
    p.enroll_captured_button.setVisible(False)
    ctl._drop_pending()
    qtbot.waitUntil(lambda: ctl.session is None, timeout=10_000)
    assert p.preview.image is None and "Reading" not in p.status.text()
    assert p.hint_label.text().startswith("The video ended") and p.progress.value() == 0


def test_labels_and_mnemonics(qtbot, win, tmp_path):
    ctl, p = open_panel(qtbot, win)
    labels = [w for w in p.findChildren(QLabel) if w.isVisible() and "&" in w.text()]
    assert labels and all(w.buddy() is not None for w in labels), [w.text() for w in labels if not w.buddy()]
    texts = [w.text() for w in labels] + [b.text() for b in p.findChildren(QPushButton) if b.isVisible()]
    keys = [t[t.index("&") + 1].lower() for t in texts if "&" in t]
    assert len(keys) == len(set(keys)), texts  # every mnemonic reaches one control
    assert "&Camera or video:" in [w.text() for w in labels] and p.findChild(QLabel, "sourceLabel").buddy() is p.source_combo
    # Browse starts where the typed path is
    video = tmp_path / "clips" / "a.avi"
    video.parent.mkdir()
    p.set_source_text(str(video))
    assert p.browse_folder() == str(video.parent)
    p.set_source_text("0")
    assert p.browse_folder() == ""


def test_the_enrollment_flow_never_calls_the_backend_on_the_gui_thread(qtbot, real_engine, videos):
    from .test_slow_backend import SlowBackend

    slow = SlowBackend(real_engine)
    w = open_window(qtbot, slow)
    try:
        ctl, p = open_panel(qtbot, w)
        enroll_person(qtbot, w, ctl, p, videos["enrollment"], "barack")
        press_in_panel(qtbot, p, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: w.undo_stack.index() == 0 and not w.curation.history_busy, timeout=20_000)
        assert users(real_engine) == set()
        assert slow.calls > 5 and slow.gui_thread_calls == []
    finally:
        w.close()


def test_the_mailbox_keeps_only_the_latest_frame():
    box = FrameMailbox()
    a, b = QImage(2, 2, QImage.Format.Format_RGB888), QImage(3, 3, QImage.Format.Format_RGB888)
    assert box.put(a) is True  # empty: the GUI is told
    assert box.put(b) is False  # replaced unread: the signal already on its way brings b
    assert box.take().width() == 3 and box.take() is None
    assert box.put(a) is True
