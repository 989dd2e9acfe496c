"""The window on a remote endpoint: a real `rekurator serve` endpoint in a thread, the real MainWindow.

The window's backend is RemoteCurationBackend over boto3; the endpoint's own engine (with the
RegisteredAnalyzer fake) is read directly to check what actually happened over the wire.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import jsonschema
import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QStyleOptionViewItem

from app.core.capabilities import CapabilityUnavailable
from app.gui import association_preview as ap
from app.gui.association_panel import NO_PREVIEW_NOTE
from app.gui.main import main
from app.remote.curation_backend import RemoteCurationBackend
from app.resources import resource_path
from tests.server.endpoint_fixtures import _no_aws_environment, running_endpoint  # noqa: F401  (autouse fixture)

from .conftest import index_people, open_window, owners
from .gui_actions import close_boxes, drop_faces, error_texts, wait_idle, settle, done
from .test_import import write_photos
from .test_main_process import ROOT, env_for


@pytest.fixture
def served(tmp_path, analyzer):
    with running_endpoint(tmp_path / "served-ws", analyzer) as running:
        yield running


@pytest.fixture
def people(served, analyzer, rng):
    """On the endpoint: collection "c", three identities of five faces, users alice and bob."""
    eng = served.engine
    eng.create_collection(CollectionId="c")
    ids = index_people(eng, analyzer, rng)
    eng.create_user(CollectionId="c", UserId="alice")
    eng.create_user(CollectionId="c", UserId="bob")
    return ids


@pytest.fixture
def backend(served, tmp_path):
    b = RemoteCurationBackend.connect(served.url, "us-east-1", marks_path=tmp_path / "marks.json", max_attempts=1)
    yield b
    b.close()


@pytest.fixture
def remote_window(qtbot, backend, people):
    win = open_window(qtbot, backend)
    yield win
    win.close()


def test_the_window_lists_the_endpoints_collections_users_and_faces(qtbot, remote_window, served, people):
    w = remote_window
    assert w.windowTitle() == f"Rekurator — {served.url}"
    assert w.collections_model.rowCount() == 1 and w.current_collection() == "c"
    assert w.collections_model.entry(0).face_count == 15
    assert w.users_model.user_ids() == ["alice", "bob"]
    assert w.face_model.rowCount() == 15
    assert set(w.face_model.face_ids()) == {f for ids in people for f in ids}
    # no crops come over the wire: once asked, every face is known to have none, and says so
    qtbot.waitUntil(lambda: all(w.face_model.thumbnail_missing(r) for r in range(15)), timeout=5000)
    assert w.face_model.thumbnail(0) is None
    assert "No face crop stored" in w.face_model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert "no face crops" in w.findChild(QLabel, "backendLimits").text()


def _tile(window, row: int) -> QImage:
    """The delegate's painting of one grid tile, on a white background."""
    option = QStyleOptionViewItem()
    window.face_grid.initViewItemOption(option)
    size = window.face_grid.itemDelegate().sizeHint(option, window.face_model.index(row))
    option.rect = QRect(0, 0, size.width(), size.height())
    image = QImage(size, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    window.face_grid.itemDelegate().paint(painter, option, window.face_model.index(row))
    painter.end()
    return image


def test_a_face_without_a_crop_gets_its_own_placeholder_tile(qtbot, remote_window, monkeypatch):
    w = remote_window
    qtbot.waitUntil(lambda: w.face_model.thumbnail_missing(0), timeout=5000)
    no_crop = _tile(w, 0)
    monkeypatch.setattr(w.face_model, "thumbnail_missing", lambda row: False)  # as while still loading
    loading = _tile(w, 0)
    assert no_crop != loading  # the "no crop" tile is not the loading one


def test_dropping_faces_associates_over_the_wire_without_a_preview_and_undo_reverts(qtbot, remote_window, served, people):
    w = remote_window
    batch = people[0][:3]
    w.select_faces(batch)
    assert drop_faces(w, "alice", batch).isAccepted()
    dialog = w.curation.preview_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.note.isVisible() and dialog.note.text() == NO_PREVIEW_NOTE
    assert [r.outcome for r in dialog.rows] == [ap.UNCHECKED] * 3
    assert [dialog.table.item(r, 1).text() for r in range(3)] == ["Will be sent (no preview)"] * 3
    assert [dialog.table.item(r, 3).text() for r in range(3)] == [""] * 3  # no confidence is invented
    assert dialog.ok.isEnabled()
    assert "3 will be sent for the endpoint to match" in dialog.summary.text()
    assert owners(served.engine)[batch[0]] is None  # nothing sent before the operator confirms
    wait_idle(qtbot, w)  # the first-batch look-alike check (SearchFaces over the wire)
    dialog.accept()
    wait_idle(qtbot, w)
    assert [owners(served.engine)[f] for f in batch] == ["alice"] * 3
    assert [r["Outcome"] for r in w.results_panel.rows] == ["ASSOCIATED"] * 3
    assert w.face_model.entry(w.face_model.row_of(batch[0])).user_id == "alice"
    assert w.users_model.entry(w.users_model.row_of("alice")).face_count == 3
    assert w.undo_stack.count() == 1
    w.act_undo.trigger()
    settle(w)
    wait_idle(qtbot, w)
    assert [owners(served.engine)[f] for f in batch] == [None] * 3
    assert w.face_model.entry(w.face_model.row_of(batch[0])).user_id is None
    ops = [(e["Operation"], e["Request"].get("Purpose")) for e in w.engine.journal_entries()]
    assert ops == [("MoveFaces", None), ("ApplyChangeSet", "UNDO")]  # one entry per window step
    assert not error_texts(w)


def test_a_low_match_is_reported_by_the_endpoint_and_a_face_of_another_user_can_be_moved(qtbot, remote_window,
                                                                                           served, people):
    w = remote_window
    served.engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    served.engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=[people[0][2]], UserMatchThreshold=0)
    w.workspace.reload_faces()
    settle(w)
    w.users_model.refresh_counts(["alice", "bob"])
    batch = [people[0][2], people[0][3], people[1][0], people[0][0]]
    drop_faces(w, "alice", batch)
    dialog = w.curation.preview_dialog
    by_face = {r.face_id: r for r in dialog.rows}
    # what ListFaces tells: the owner, a face already on alice; the match is the endpoint's to decide
    assert by_face[people[0][2]].outcome == ap.MOVE and by_face[people[0][2]].owner == "bob"
    assert by_face[people[0][3]].outcome == ap.UNCHECKED and by_face[people[1][0]].outcome == ap.UNCHECKED
    assert by_face[people[0][0]].outcome == ap.ALREADY
    assert dialog.move_faces.isVisible()
    dialog.accept()
    wait_idle(qtbot, w)
    state = owners(served.engine)
    assert state[people[0][2]] == "alice" and state[people[0][3]] == "alice"
    assert state[people[1][0]] is None  # someone else: the endpoint said no
    got = {r["FaceId"]: r for r in w.results_panel.rows}
    assert got[people[0][2]]["Outcome"] == "MOVED"
    assert got[people[1][0]]["Outcome"] == "NOT_ASSOCIATED" and "LOW_MATCH_CONFIDENCE" in got[people[1][0]]["Reasons"]
    assert got[people[1][0]]["Confidence"] < 75


def test_a_pinned_number_key_with_the_one_line_confirmation(qtbot, remote_window, served, people):
    from app.gui.settings import KEY_QUICK_CONFIRM, app_settings

    app_settings().setValue(KEY_QUICK_CONFIRM, True)  # the operator opted in once
    w = remote_window
    w.select_user("bob")
    w.users_model.pin("bob", 2)
    w.select_faces(people[1][:2])
    w.face_grid.setFocus()
    QTest.keyClick(w.face_grid, Qt.Key.Key_2)
    wait_idle(qtbot, w)
    assert w.curation.preview_dialog is None  # free faces: one line instead of the preview
    box = w.curation.quick_box
    assert box is not None and "2 faces → bob" in box.text()
    box.defaultButton().click()
    wait_idle(qtbot, w)
    assert [owners(served.engine)[f] for f in people[1][:2]] == ["bob", "bob"]


def test_import_sends_the_photos_to_the_endpoint(qtbot, remote_window, served, analyzer, rng, tmp_path):
    w = remote_window
    write_photos(tmp_path / "photos", analyzer, rng)  # registered with the endpoint's analyzer
    before = analyzer.calls
    w.import_photos([tmp_path / "photos"])
    wait_idle(qtbot, w)
    table = w.import_panel.table
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())}
    assert rows["holiday 0.JPG"][1:3] == ["2", "1 (LOW_CONFIDENCE x1)"]
    assert rows["broken.png"][3] == "Request has invalid image format"  # the API code is in the tooltip
    assert analyzer.calls - before == 4  # the endpoint analysed every file, the broken one included
    stored = served.engine.list_faces(CollectionId="c", MaxResults=4096)["Faces"]
    assert len(stored) == 15 + 6
    assert {f["ExternalImageId"] for f in stored} >= {"holiday_0.JPG", "holiday_1.JPG", "holiday_2.JPG"}
    assert w.face_model.rowCount() == 21
    assert [e["Operation"] for e in w.engine.journal_entries()] == ["IndexFaces"] * 3


def test_session_report_lists_this_windows_operations(qtbot, remote_window, served, people, tmp_path):
    w = remote_window
    assert done(w, w.workspace.create_user("carol"))
    w.select_faces(people[2][:2])
    drop_faces(w, "carol", people[2][:2])
    w.curation.preview_dialog.accept()
    wait_idle(qtbot, w)
    call = w.export_report(tmp_path / "session.json")
    assert done(w, call)
    report = json.loads(call.result[0].read_text())
    jsonschema.validate(report, json.loads(resource_path("report.schema.json").read_text()))
    assert report["Workspace"] == served.url and report["Scope"]["Kind"] == "session"
    assert [op["Operation"] for op in report["Operations"]] == ["CreateUser", "MoveFaces"]
    assert report["Operations"][1]["FaceOutcomes"] == [{"FaceId": f, "UserId": "carol", "Outcome": "ASSOCIATED"}
                                                       for f in people[2][:2]]
    assert report["Summary"]["Users"] == [{"CollectionId": "c", "UserId": "carol", "Outcomes": {"ASSOCIATED": 2},
                                           "Reasons": {}}]


def test_what_a_remote_endpoint_cannot_do_is_disabled_with_its_reason(qtbot, remote_window, tmp_path):
    w = remote_window
    w.select_user("alice")
    w.select_faces(w.face_model.face_ids()[:2])
    assert w.act_associate.isEnabled() and w.act_sort_face.isEnabled()  # what works stays on
    for action, words in ((w.act_export_workspace, "Workspace reports are not available on a remote endpoint"),
                          (w.act_enroll, "Camera enrollment is not available on a remote endpoint"),
                          (w.act_sort_user, "needs match confidences")):
        assert not action.isEnabled()
        assert words in action.toolTip() and words in action.statusTip()
    assert w.act_not_this_person.isEnabled()  # kept on this computer
    assert w.export_report(tmp_path / "ws.json", "workspace") is None
    assert not (tmp_path / "ws.json").exists()
    assert any("Exporting the workspace report failed" in t and "keeps no journal" in t for t in error_texts(w))
    close_boxes(w)
    plan = w.engine.plan_association(CollectionId="c", UserId="alice", FaceIds=w.selected_face_ids())
    assert plan["MatchChecked"] is False and all("Confidence" not in f for f in plan["Faces"])


def test_not_this_person_is_kept_on_this_computer_and_undone(qtbot, remote_window, served, people, tmp_path):
    w = remote_window
    served.engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[people[1][0]], UserMatchThreshold=0)
    w.workspace.reload_faces()
    settle(w)
    w.select_user("alice")
    marked = people[1][:2]
    w.select_faces(marked)
    w.act_not_this_person.trigger()
    wait_idle(qtbot, w)
    assert owners(served.engine)[people[1][0]] is None  # taken off alice over the wire
    assert all(w.face_model.is_rejected(f) for f in marked)
    doc = json.loads((tmp_path / "marks.json").read_text())
    assert sorted(doc["Marks"]["c"]["alice"]) == sorted(marked)
    w.act_undo.trigger()
    settle(w)
    wait_idle(qtbot, w)
    assert owners(served.engine)[people[1][0]] == "alice"
    assert not any(w.face_model.is_rejected(f) for f in marked)
    assert "alice" not in json.loads((tmp_path / "marks.json").read_text())["Marks"].get("c", {})
    assert not error_texts(w)


def test_main_refuses_mixed_options(capsys):
    assert main(["--endpoint-url", "http://127.0.0.1:1", "--workspace", "ws"]) == 2
    assert "--workspace cannot be combined" in capsys.readouterr().err
    assert main(["--no-verify-ssl"]) == 2
    assert "only apply to a remote endpoint" in capsys.readouterr().err


def test_main_comes_up_on_a_running_endpoint_and_exits_cleanly(served, people, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="app.server.access")
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--endpoint-url", served.url, "--region", "us-east-1",
                           "--quit-after-ms", "1500"], cwd=tmp_path, env=env_for(tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "ws").exists()  # no local workspace was opened
    log = "".join(p.read_text() for p in (tmp_path / "state").rglob("gui.log"))
    assert f"remote endpoint {served.url}" in log
    # the window read the endpoint, and every answer was a success
    answered = [r.getMessage().split()[3:5] for r in caplog.records if r.name == "app.server.access"]
    assert {op for op, _status in answered} >= {"ListCollections", "DescribeCollection", "ListUsers", "ListFaces"}
    assert {status for _op, status in answered} == {"200"}


def test_the_people_dock_on_a_remote_endpoint_says_why_and_lists_the_users(qtbot, remote_window):
    w = remote_window
    w.people_dock.show()
    w.people_dock.raise_()
    settle(w, 30)
    assert [w.people_model.index(r).data() for r in range(w.people_model.rowCount())] == ["alice", "bob"]
    assert w.people_panel.note.isVisibleTo(w) and "cannot group faces" in w.people_panel.note.text()
    w.select_user("alice")
    settle(w, 30)
    assert "cannot group faces" in w.people_panel.suggest_title.text()
    assert error_texts(w) == []
    w.people.activate(1)  # a named person still works: selects the user
    settle(w, 30)
    assert w.current_user() == "bob"
