"""The window's other commands: collections, users, filters, deletion, search, sort, reports, settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from app.core.engine import Engine
from app.gui import message_boxes
from app.gui.face_model import FaceFilter, FaceRole
from app.gui.main_window import MainWindow
from app.gui.settings import KEY_THEME, app_settings

from .conftest import owners
from .gui_actions import close_boxes, error_texts, wait_idle, done, settle

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "resources" / "report.schema.json").read_text())


@pytest.fixture
def yes(monkeypatch):
    asked = []
    monkeypatch.setattr(message_boxes, "confirm", lambda parent, title, text, *_action: asked.append(text) or True)
    return asked


def test_empty_workspace_then_collections_and_users(qtbot, window, engine, yes):
    w = window
    assert w.windowTitle().startswith("Rekurator") and str(engine.workspace) in w.windowTitle()
    assert w.empty_hint.isVisible() and "no collection yet" in w.empty_hint.text()
    assert not w.act_new_user.isEnabled()
    assert not done(w, w.workspace.create_collection("bad name!"))
    assert any("CollectionId" in t for t in error_texts(w))
    close_boxes(w)
    assert done(w, w.workspace.create_collection("family"))
    assert w.current_collection() == "family" and w.collections_model.rowCount() == 1
    assert "no faces yet" in w.empty_hint.text()
    assert done(w, w.workspace.create_user("ann")) and done(w, w.workspace.create_user("ben"))
    assert w.users_model.user_ids() == ["ann", "ben"] and w.current_user() == "ben"
    assert not done(w, w.workspace.create_user("ann"))
    assert any("already exists" in t for t in error_texts(w))
    close_boxes(w)
    assert w.collections_model.entry(0).user_count == 2
    w.select_user("ann")
    w.act_delete_user.trigger()
    settle(w)
    assert yes and "ann" in yes[-1]
    assert w.users_model.user_ids() == ["ben"]
    w.act_delete_collection.trigger()
    settle(w)
    assert w.collections_model.rowCount() == 0 and w.current_collection() is None
    assert engine.list_collections()["CollectionIds"] == []


def test_filters(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    w.set_filter(FaceFilter.UNASSIGNED)
    settle(w)
    assert w.face_model.rowCount() == 13 and people[0][0] not in w.face_model.face_ids()
    w.select_user("alice")
    w.act_filters[2].trigger()  # Ctrl+3: faces of the selected user
    settle(w)
    assert w.face_model.face_ids() == people[0][:2]
    w.select_user("bob")
    settle(w)
    assert w.face_model.face_ids() == []
    w.set_filter(FaceFilter.ALL)
    settle(w)
    assert w.face_model.rowCount() == 15


def test_delete_user_frees_its_faces_in_the_grid(qtbot, seeded_window, engine, people, yes):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    w.workspace.reload_faces()
    settle(w)
    assert done(w, w.workspace.delete_user("alice"))
    assert w.face_model.entry(w.face_model.row_of(people[0][0])).user_id is None


def test_delete_faces_keeps_faces_of_users(qtbot, seeded_window, engine, people, yes):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:1])
    w.workspace.reload_faces()
    settle(w)
    w.select_faces(people[0][:2])
    w.act_delete_faces.trigger()
    wait_idle(qtbot, w)
    assert "cannot be undone" in yes[-1]
    rows = {r["FaceId"]: r for r in w.results_panel.rows}
    assert rows[people[0][1]]["Outcome"] == "DELETED"
    assert rows[people[0][0]]["Outcome"] == "NOT_DELETED"
    assert rows[people[0][0]]["Reasons"] == ["ASSOCIATED_TO_AN_EXISTING_USER"] and rows[people[0][0]]["Owner"] == "alice"
    assert people[0][1] not in owners(engine) and people[0][1] not in w.face_model.face_ids()
    assert w.collections_model.entry(0).face_count == 14


def test_declined_confirmation_deletes_nothing(qtbot, seeded_window, engine, people, monkeypatch):
    w = seeded_window
    monkeypatch.setattr(message_boxes, "confirm", lambda *a: False)
    wait_idle(qtbot, w)  # the face counts of the users, counted when the window opened
    w.select_faces(people[0][:2])
    w.act_delete_faces.trigger()
    w.act_delete_collection.trigger()
    assert len(owners(engine)) == 15 and w.tasks.running() == []


def test_search_and_similarity_order(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[1][:2])
    w.select_faces([people[1][3]])
    w.act_search.trigger()
    settle(w)
    p = w.search_panel
    found = [p.faces.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(p.faces.rowCount())]
    assert set(found) == set(people[1]) - {people[1][3]}
    assert [p.users.item(r, 0).text() for r in range(p.users.rowCount())] == ["bob"]
    sims = [float(p.faces.item(r, 1).text()) for r in range(p.faces.rowCount())]
    assert sims == sorted(sims, reverse=True) and min(sims) >= 80
    # a user the face was marked "not this person" for is not suggested
    engine.set_not_this_person("c", "bob", [people[1][3]])
    w.act_search.trigger()
    settle(w)
    assert p.users.rowCount() == 0
    w.act_sort_face.trigger()
    settle(w)
    assert set(w.face_model.face_ids()[:5]) == set(people[1])
    assert w.face_model.index(0).data(FaceRole.Similarity) == 100.0
    assert w.selected_face_ids() == [people[1][3]]  # the selection followed its face
    assert "similarity to face" in w.order_label.text()
    p.faces.cellActivated.emit(0, 0)
    assert w.selected_face_ids() == [found[0]]


def test_sort_by_user_hides_faces_marked_not_this_person(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[2][:2])
    engine.set_not_this_person("c", "alice", [people[2][4]])
    w.workspace.reload_faces()
    settle(w)
    w.select_user("alice")
    settle(w)
    w.act_sort_user.trigger()
    wait_idle(qtbot, w)
    ids = w.face_model.face_ids()
    assert set(ids[:2]) == {people[2][2], people[2][3]}  # the best unassigned matches first
    assert w.face_grid.isRowHidden(w.face_model.row_of(people[2][4]))
    assert not w.face_grid.isRowHidden(w.face_model.row_of(people[2][2]))
    w.act_sort_index.trigger()
    settle(w)
    assert not w.face_grid.isRowHidden(w.face_model.row_of(people[2][4]))
    w.select_user("bob")
    w.act_sort_user.trigger()  # bob has no faces: said in plain words
    wait_idle(qtbot, w)
    assert any("bob has no faces yet" in t for t in error_texts(w))


def test_export_reports(qtbot, tmp_path, engine, people):
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[1][:1])  # before the window
    w = MainWindow(engine)
    qtbot.addWidget(w)
    settle(w)  # the session starts where the journal stood when the window opened
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    session_call, whole_call = w.export_report(tmp_path / "session.json", "session"), None
    settle(w)
    whole_call = w.export_report(tmp_path / "all.json", "workspace")
    settle(w)
    session, whole = session_call.result[0], whole_call.result[0]
    s, a = json.loads(session.read_text()), json.loads(whole.read_text())
    jsonschema.validate(s, SCHEMA)
    jsonschema.validate(a, SCHEMA)
    assert [op["Operation"] for op in s["Operations"]] == ["AssociateFaces"]
    assert s["Operations"][0]["Request"]["UserId"] == "alice" and s["Scope"]["Kind"] == "session"
    assert len(a["Operations"]) > len(s["Operations"]) and a["Summary"]["OperationCounts"]["CreateUser"] == 2
    assert "Report written" in w.statusBar().currentMessage()
    assert not done(w, w.export_report(tmp_path / "missing-dir" / "r.json"))
    assert any("Exporting the report failed" in t for t in error_texts(w))
    w.close()


def test_settings_pins_and_theme_survive_a_restart(qtbot, engine, people):
    w = MainWindow(engine)
    qtbot.addWidget(w)
    settle(w)
    w.resize(640, 480)
    w.select_user("bob")
    w.act_pin_user.trigger()
    w.act_themes["dark"].trigger()
    assert app_settings().value(KEY_THEME) == "dark"
    window_role = QPalette.ColorRole.Window
    assert QApplication.palette().color(window_role).lightness() < 100
    w.results_dock.hide()
    w.close()
    w2 = MainWindow(engine)
    qtbot.addWidget(w2)
    settle(w2)
    assert w2.users_model.pinned_user(1) == "bob"
    assert w2.act_themes["dark"].isChecked()
    assert (w2.width(), w2.height()) == (640, 480) and not w2.results_dock.isVisibleTo(w2)
    w2.act_themes["light"].trigger()
    assert QApplication.palette().color(window_role).lightness() > 150
    w2.close()


def test_the_real_analyzer_is_not_loaded_to_open_the_window(qtbot, tmp_path, monkeypatch):
    from app.gui.main import create_default_analyzer

    # another test may have loaded it already: forget it for this one (restored afterwards)
    monkeypatch.delitem(sys.modules, "app.vision.default_analyzer", raising=False)

    eng = Engine(tmp_path / "lazy", analyzer_factory=create_default_analyzer)
    try:
        w = MainWindow(eng)
        qtbot.addWidget(w)
        assert "app.vision.default_analyzer" not in sys.modules
        w.close()
    finally:
        eng.close()


def test_keyboard_focus_commands(qtbot, seeded_window):
    w = seeded_window
    w.act_go_users.trigger()
    assert w.users_view.hasFocus()
    w.act_go_faces.trigger()
    assert w.face_grid.hasFocus()
    w.act_go_collections.trigger()
    assert w.collections_view.hasFocus()
    # every command has a shortcut or sits on a pane that can be reached by one
    for act in (w.act_associate, w.act_disassociate, w.act_not_this_person, w.act_delete_faces, w.act_search,
                w.act_import_files, w.act_export_session, w.act_new_user, w.act_new_collection, w.act_pin_user):
        assert not act.shortcut().isEmpty(), act.text()


def test_face_budgets_are_counted_in_the_background(qtbot, engine, people):
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    w = MainWindow(engine)
    qtbot.addWidget(w)
    wait_idle(qtbot, w)
    alice = w.users_model.entry(w.users_model.row_of("alice"))
    assert alice.face_count == 2 and alice.budget == "2 / 100" and alice.status == "ACTIVE"
    assert w.users_model.entry(w.users_model.row_of("bob")).budget == "0 / 100"
    w.close()


def test_start_up_objects_are_frozen_out_of_the_collector(qtbot, engine):
    import gc

    from .conftest import open_window

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    open_window(qtbot, engine)
    qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=2000)


def test_model_pack_choice_reaches_new_collections(tmp_path, monkeypatch):
    import numpy as np

    from app.gui.main import local_engine, parse_args
    from app.vision.analyzers import DEFAULT_MODEL_VERSION, MODEL_PACK_ENV
    from app.vision.insightface_analyzer import pack_model_version
    from app.vision.insightface_pack import ModelPackError
    from tests.vision.test_insightface_backend import build_constant_scrfd, build_recognizer, placed_outputs

    monkeypatch.delenv(MODEL_PACK_ENV, raising=False)
    pack = tmp_path / "pack"
    pack.mkdir()
    build_constant_scrfd(pack / "det.onnx", placed_outputs())
    build_recognizer(pack / "rec.onnx", np.ones((3 * 112 * 112, 512), np.float32))
    args = parse_args(["--workspace", str(tmp_path / "ws"), "--model-pack", str(pack)])
    with local_engine(args.workspace, args.model_pack) as eng:
        assert eng.create_collection(CollectionId="packed")["FaceModelVersion"] == pack_model_version(pack)
    with local_engine(tmp_path / "ws2") as eng:
        assert eng.create_collection(CollectionId="plain")["FaceModelVersion"] == DEFAULT_MODEL_VERSION
    with pytest.raises(ModelPackError):
        local_engine(tmp_path / "ws3", tmp_path / "nothing-here")
