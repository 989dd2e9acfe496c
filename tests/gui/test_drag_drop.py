"""Faces dragged onto a user: preview, association in a worker, results, undo; errors shown."""

from __future__ import annotations

import threading

from PySide6.QtCore import QItemSelectionModel, Qt

from app.gui import association_preview as ap
from app.gui.mime import FACE_IDS_MIME
from app.gui.settings import KEY_THRESHOLD, app_settings
from app.gui.user_model import UserRole

from .conftest import owners
from .gui_actions import close_boxes, drop_faces, drop_on_user, error_texts, wait_idle, settle


def user_row(window, user_id):
    return window.users_model.index(window.users_model.row_of(user_id))


def test_drop_previews_then_associates_in_a_worker(qtbot, seeded_window, engine, people):
    w = seeded_window
    batch = people[0][:3]
    w.select_faces(batch)
    scroll = w.face_grid.verticalScrollBar().value()
    event = drop_faces(w, "alice", batch)
    assert event.isAccepted()
    dialog = w.curation.preview_dialog
    assert dialog is not None and dialog.isVisible() and dialog.user_id == "alice"
    assert [r.outcome for r in dialog.rows] == [ap.ASSOCIATE] * 3
    assert dialog.threshold.value() == 75.0 and dialog.table.rowCount() == 3
    assert "3 would be associated" in dialog.summary.text()
    assert owners(engine)[batch[0]] is None  # nothing written before the user confirms
    dialog.threshold.setValue(70.0)
    dialog.accept()
    wait_idle(qtbot, w)
    state = owners(engine)
    assert [state[f] for f in batch] == ["alice"] * 3
    assert [r["Outcome"] for r in w.results_panel.rows] == ["ASSOCIATED"] * 3
    assert user_row(w, "alice").data(UserRole.FaceCount) == 3
    assert user_row(w, "alice").data(UserRole.Status) == "ACTIVE"
    assert "3 / 100" in user_row(w, "alice").data(Qt.ItemDataRole.DisplayRole)
    # the grid rows changed in place: selection and scroll position stay
    assert w.selected_face_ids() == batch and w.face_grid.verticalScrollBar().value() == scroll
    assert w.face_model.entry(w.face_model.row_of(batch[0])).user_id == "alice"
    assert w.undo_stack.count() == 1 and w.undo_stack.text(0) == "Associate 3 faces with alice (c)"
    assert float(app_settings().value(KEY_THRESHOLD)) == 70.0  # remembered for the next preview
    assert w.collections_model.entry(w.collections_model.row_of("c")).user_count == 2


def test_preview_shows_reasons_and_confidence_and_agrees_with_the_outcome(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=[people[0][3]], UserMatchThreshold=0)
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[1][:2], UserMatchThreshold=0)
    w.workspace.reload_faces()
    settle(w)
    w.users_model.refresh_counts(["alice", "bob"])
    batch = [people[0][3], people[0][4], people[1][2], people[1][0], people[0][0]]
    drop_faces(w, "alice", batch)
    dialog = w.curation.preview_dialog
    by_face = {r.face_id: r for r in dialog.rows}
    assert by_face[people[0][3]].outcome == ap.MOVE and by_face[people[0][3]].owner == "bob"
    assert by_face[people[0][4]].outcome == ap.ASSOCIATE
    assert by_face[people[1][2]].outcome == ap.FAIL and by_face[people[1][2]].reasons == ["LOW_MATCH_CONFIDENCE"]
    assert by_face[people[1][2]].confidence < 75
    # moving is on by default: bob's face is held back by the match alone, and its owner is named
    assert by_face[people[1][0]].reasons == ["LOW_MATCH_CONFIDENCE"] and by_face[people[1][0]].owner == "bob"
    assert by_face[people[0][0]].outcome == ap.ALREADY
    table_text = {dialog.table.item(r, 0).data(Qt.ItemDataRole.UserRole): [dialog.table.item(r, c).text() for c in range(4)]
                  for r in range(dialog.table.rowCount())}
    # faces by their photo's name, reasons in plain words, the API codes and ids in tooltips
    assert table_text[people[1][2]][0] == "p1.jpg"
    assert people[1][2] in dialog.table.item(2, 0).toolTip()
    assert table_text[people[1][2]][1] == "Would not associate" and "< 75" in table_text[people[1][2]][3]
    assert table_text[people[1][2]][2].startswith("looks like someone else: ")
    assert "LOW_MATCH_CONFIDENCE" in dialog.table.item(2, 2).toolTip()
    assert table_text[people[0][3]][1] == "Would move here from bob" and "≥ 75" in table_text[people[0][3]][3]
    assert table_text[people[0][4]][3].endswith("≥ 75")  # passing faces show their confidence too
    assert dialog.move_faces.isVisible()
    expected = {r.face_id: r.outcome for r in dialog.rows}
    dialog.accept()
    wait_idle(qtbot, w)
    state = owners(engine)
    assert state[people[0][3]] == "alice" and state[people[0][4]] == "alice"
    assert state[people[1][2]] is None and state[people[1][0]] == "bob"
    got = {r["FaceId"]: r["Outcome"] for r in w.results_panel.rows}
    assert got == {people[0][3]: "MOVED", people[0][4]: "ASSOCIATED", people[1][2]: "NOT_ASSOCIATED",
                   people[1][0]: "NOT_ASSOCIATED"}
    assert {f for f, o in expected.items() if o in (ap.ASSOCIATE, ap.MOVE)} == \
        {f for f, o in got.items() if o in ("ASSOCIATED", "MOVED")}
    low = next(r for r in w.results_panel.rows if r["FaceId"] == people[1][2])
    assert low["Reasons"] == ["LOW_MATCH_CONFIDENCE"] and low["Confidence"] < 75
    assert w.undo_stack.text(0) == "Associate 1 face and move 1 to alice (c)"
    assert user_row(w, "bob").data(UserRole.FaceCount) == 2


def test_unchecking_move_leaves_owned_faces_alone(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[0][:1])
    drop_faces(w, "alice", people[0][:2])
    dialog = w.curation.preview_dialog
    dialog.move_faces.setChecked(False)
    settle(w)  # a new plan, from the backend
    assert [r.outcome for r in dialog.rows] == [ap.FAIL, ap.ASSOCIATE]
    dialog.accept()
    wait_idle(qtbot, w)
    assert owners(engine)[people[0][0]] == "bob"
    assert w.results_panel.rows[1]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]
    assert w.results_panel.rows[1]["Owner"] == "bob"


def test_drops_that_are_refused(qtbot, seeded_window, engine, people):
    w = seeded_window
    from PySide6.QtCore import QMimeData

    text = QMimeData()
    text.setText("not faces")
    assert not drop_on_user(w, "alice", text).isAccepted()
    mime_payload = drop_on_user(w, None, _mime("c", people[0][:1]))
    assert not mime_payload.isAccepted()  # below the last user: no target
    bad = QMimeData()
    bad.setData(FACE_IDS_MIME, b"{oops")
    assert not drop_on_user(w, "alice", bad).isAccepted()
    assert any("not JSON" in t for t in error_texts(w))
    close_boxes(w)
    engine.create_collection(CollectionId="other")
    drop_faces(w, "alice", people[0][:1], collection_id="other")
    assert any("faces can only go to users of their own collection" in t for t in error_texts(w))
    assert w.curation.preview_dialog is None
    assert all(u is None for u in owners(engine).values())


def _mime(collection_id, face_ids):
    from app.gui.mime import encode_faces

    return encode_faces(collection_id, face_ids)


def test_user_shows_updating_while_the_worker_runs_and_the_window_stays_responsive(qtbot, seeded_window, engine,
                                                                                 people, monkeypatch):
    w = seeded_window
    release, entered = threading.Event(), threading.Event()
    real = engine.associate_faces

    def slow(**kw):
        entered.set()
        assert release.wait(10)
        return real(**kw)

    real = engine.move_faces
    monkeypatch.setattr(engine, "move_faces", slow)
    drop_faces(w, "alice", people[0][:2])
    w.curation.preview_dialog.accept()
    assert entered.wait(5)
    assert user_row(w, "alice").data(UserRole.Status) == "UPDATING"
    assert w.busy_bar.isVisible()
    ticks = []
    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    qtbot.wait(150)  # the GUI thread keeps running its event loop while the worker is blocked
    timer.stop()
    assert len(ticks) >= 5
    release.set()
    wait_idle(qtbot, w)
    assert user_row(w, "alice").data(UserRole.Status) == "ACTIVE"
    assert not w.busy_bar.isVisible()


def test_user_deleted_meanwhile_shows_an_error_and_loses_nothing(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[0][:1])
    w.workspace.reload_faces()
    settle(w)
    batch = people[0][:3]
    w.select_faces(batch)
    drop_faces(w, "alice", batch)
    dialog = w.curation.preview_dialog
    before = owners(engine)
    engine.delete_user(CollectionId="c", UserId="alice")  # another program, between preview and confirm
    dialog.accept()
    wait_idle(qtbot, w)
    texts = error_texts(w)
    assert len(texts) == 1 and "Associating faces with alice failed" in texts[0] and "alice does not exist" in texts[0]
    assert owners(engine) == before  # bob's face was taken for the move and put back
    assert w.undo_stack.count() == 0
    assert w.users_model.row_of("alice") is None  # the user list was re-read
    assert w.selected_face_ids() == batch  # the selection is still there to try again


def test_ctrl_return_and_pinned_number_keys(qtbot, seeded_window, engine, people):
    w = seeded_window
    w.select_user("bob")
    w.select_faces(people[1][:2])
    w.face_grid.setFocus()
    w.act_associate.trigger()
    settle(w)
    dialog = w.curation.preview_dialog
    assert dialog is not None and dialog.user_id == "bob"
    dialog.reject()
    assert all(owners(engine)[f] is None for f in people[1][:2])
    w.select_user("alice")
    w.act_pin_user.trigger()
    assert w.users_model.pinned_user(1) == "alice"
    w.select_faces(people[2][:2])
    qtbot.keyClick(w.face_grid, Qt.Key.Key_1)
    settle(w)
    dialog = w.curation.preview_dialog  # a number key shows the preview too (never a silent association)
    assert dialog is not None and dialog.user_id == "alice" and dialog.quick_choice.isVisible()
    dialog.accept()
    wait_idle(qtbot, w)
    assert [owners(engine)[f] for f in people[2][:2]] == ["alice", "alice"]
    qtbot.keyClick(w.face_grid, Qt.Key.Key_7)
    assert "No user is pinned to 7" in w.statusBar().currentMessage()
    # faces owned by someone else: the quick key opens the preview to offer the move
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=[people[2][2]])
    w.face_model.sync_faces([people[2][2]])
    w.select_faces([people[2][2]])
    qtbot.keyClick(w.face_grid, Qt.Key.Key_1)
    settle(w)
    assert w.curation.preview_dialog is not None
    assert w.curation.preview_dialog.rows[0].outcome == ap.MOVE
    w.curation.preview_dialog.reject()


def test_selection_of_more_than_100_faces_is_refused_in_plain_words(qtbot, seeded_window, engine, people):
    w = seeded_window
    ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(101)]
    w.curation.associate("alice", ids)
    assert any("at most 100 faces" in t for t in error_texts(w))
    assert w.curation.preview_dialog is None


def test_grid_selection_mime_matches_selection(seeded_window, people):
    w = seeded_window
    w.select_faces(people[0][1:3])
    indexes = w.face_grid.selectionModel().selectedIndexes()
    mime = w.face_model.mimeData(indexes)
    from app.gui.mime import decode_faces

    assert decode_faces(mime).face_ids == tuple(people[0][1:3])
    w.face_grid.selectionModel().select(w.face_model.index(0), QItemSelectionModel.SelectionFlag.Select)
    assert len(w.selected_face_ids()) == 3


def test_first_batch_of_mixed_people_is_warned_about(qtbot, seeded_window, engine, people):
    w = seeded_window
    drop_faces(w, "alice", people[0][:3] + people[2][:1])  # alice has no faces: no threshold check applies
    dialog = w.curation.preview_dialog
    assert [r.outcome for r in dialog.rows] == [ap.ASSOCIATE] * 4  # the engine would take them all
    wait_idle(qtbot, w)  # the look-alike check runs in the background
    assert dialog.warning.isVisible()
    assert "1 of these faces matches fewer than half" in dialog.warning.text()
    assert "p2.jpg" in dialog.warning.text() and people[2][0] not in dialog.warning.text()  # the photo, not the id
    # the outlier's row is marked; its checkbox leaves it out of the association
    assert "may be someone else" in dialog.table.item(3, 2).text()
    assert all("may be someone else" not in dialog.table.item(r, 2).text() for r in range(3))
    dialog.table.item(3, 0).setCheckState(Qt.CheckState.Unchecked)
    wait_idle(qtbot, w)
    assert dialog.request().face_ids == tuple(people[0][:3])
    assert "1 left out" in dialog.summary.text() and dialog.table.item(3, 1).text() == "Left out"
    dialog.accept()
    wait_idle(qtbot, w)
    assert owners(engine)[people[2][0]] is None and owners(engine)[people[0][0]] == "alice"
    w.act_undo.trigger()
    wait_idle(qtbot, w)
    drop_faces(w, "alice", people[0][:3])
    wait_idle(qtbot, w)
    assert not w.curation.preview_dialog.warning.isVisible()
    w.curation.preview_dialog.reject()
