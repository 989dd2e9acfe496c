"""Undo and redo of curation edits, checked against the engine after every step."""

from __future__ import annotations

from app.gui.undo_commands import AssociateCommand

from .conftest import owners
from .gui_actions import close_boxes, drop_faces, error_texts, wait_idle


def associate_by_drop(qtbot, w, user_id, face_ids):
    drop_faces(w, user_id, face_ids)
    w.curation.preview_dialog.accept()
    wait_idle(qtbot, w)


def test_associate_undo_redo_round_trip(qtbot, seeded_window, engine, people):
    w = seeded_window
    s0 = owners(engine)
    associate_by_drop(qtbot, w, "alice", people[0][:3])
    s1 = owners(engine)
    assert s1 != s0
    w.undo_stack.undo()
    assert owners(engine) == s0
    assert w.face_model.entry(w.face_model.row_of(people[0][0])).user_id is None  # the grid follows
    assert w.users_model.entry(w.users_model.row_of("alice")).face_count == 0
    w.undo_stack.redo()
    assert owners(engine) == s1
    assert w.users_model.entry(w.users_model.row_of("alice")).face_count == 3
    assert w.undo_view.model().rowCount() == 2  # "Window opened" + the association


def test_move_is_one_undoable_step(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[0][:2])
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][2:4])
    w.reload_faces()
    s0 = owners(engine)
    associate_by_drop(qtbot, w, "alice", [people[0][0], people[0][1], people[0][4]])
    s1 = owners(engine)
    assert [s1[f] for f in people[0]] == ["alice"] * 5
    assert w.undo_stack.count() == 1
    assert w.undo_stack.text(0) == "Associate 1 face and move 2 to alice"
    w.undo_stack.undo()
    assert owners(engine) == s0  # bob has his two back, the free face is free again
    w.undo_stack.redo()
    assert owners(engine) == s1


def test_disassociate_and_not_this_person_undo(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:3])
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[1][:2])
    w.reload_faces()
    s0 = owners(engine)
    w.select_faces([people[0][0], people[1][0], people[2][0]])  # alice's, bob's, nobody's
    w.act_disassociate.trigger()
    wait_idle(qtbot, w)
    s1 = owners(engine)
    assert s1[people[0][0]] is None and s1[people[1][0]] is None
    assert {r["Outcome"] for r in w.results_panel.rows} == {"DISASSOCIATED"}
    w.undo_stack.undo()
    assert owners(engine) == s0
    w.undo_stack.redo()
    assert owners(engine) == s1
    w.select_user("alice")
    w.select_faces([people[0][1], people[1][3]])
    w.act_not_this_person.trigger()
    wait_idle(qtbot, w)
    assert owners(engine)[people[0][1]] is None
    assert engine.rejected_face_ids("c", "alice") == {people[0][1], people[1][3]}
    assert w.face_model.is_rejected(people[1][3])  # the grid marks it for the selected user
    w.undo_stack.undo()
    assert owners(engine) == s1 and engine.rejected_face_ids("c", "alice") == set()
    assert not w.face_model.is_rejected(people[1][3])
    w.undo_stack.redo()
    assert engine.rejected_face_ids("c", "alice") == {people[0][1], people[1][3]}
    assert w.undo_stack.count() == 2


def test_undo_that_cannot_be_done_is_shown(qtbot, seeded_window, engine, people):
    w = seeded_window
    associate_by_drop(qtbot, w, "alice", people[0][:2])
    engine.delete_user(CollectionId="c", UserId="alice")
    w.undo_stack.undo()
    texts = error_texts(w)
    assert len(texts) == 1 and texts[0].startswith("Undo associate 2 faces with alice failed")
    assert "does not exist" in texts[0]
    close_boxes(w)


def test_commands_revert_exactly_what_the_engine_reported(engine, people):
    class Sink:
        def __init__(self):
            self.changes, self.errors = [], []

        def faces_changed(self, c, f, u):
            self.changes.append((c, list(f), list(u)))

        def command_failed(self, a, e):
            self.errors.append((a, e))

    sink = Sink()
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:1])
    # what the engine associated: only the first two; the command must not touch people[0][0]
    r = engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][1:3])
    cmd = AssociateCommand(engine, sink, "c", "alice", [f["FaceId"] for f in r["AssociatedFaces"]])
    cmd.redo()  # the first redo is the edit that already ran: nothing happens
    assert sink.changes == []
    cmd.undo()
    assert owners(engine)[people[0][0]] == "alice" and owners(engine)[people[0][1]] is None
    assert sink.changes == [("c", people[0][1:3], ["alice"])]
    cmd.redo()
    assert [owners(engine)[f] for f in people[0][:3]] == ["alice"] * 3
    assert sink.errors == []
