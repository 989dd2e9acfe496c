"""Undo and redo of curation edits, checked against the engine after every step."""

from __future__ import annotations

from app.core import change_sets
from app.gui.undo_commands import ChangeSetCommand

from .conftest import owners
from .gui_actions import close_boxes, drop_faces, error_texts, wait_idle, settle


def undo(qtbot, w):
    w.act_undo.trigger()
    wait_idle(qtbot, w)


def redo(qtbot, w):
    w.act_redo.trigger()
    wait_idle(qtbot, w)


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
    undo(qtbot, w)
    assert owners(engine) == s0
    assert w.face_model.entry(w.face_model.row_of(people[0][0])).user_id is None  # the grid follows
    assert w.users_model.entry(w.users_model.row_of("alice")).face_count == 0
    redo(qtbot, w)
    assert owners(engine) == s1
    assert w.users_model.entry(w.users_model.row_of("alice")).face_count == 3
    assert w.undo_view.model().rowCount() == 2  # "Window opened" + the association


def test_move_is_one_undoable_step(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[0][:2])
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][2:4])
    w.workspace.reload_faces()
    settle(w)
    s0 = owners(engine)
    associate_by_drop(qtbot, w, "alice", [people[0][0], people[0][1], people[0][4]])
    s1 = owners(engine)
    assert [s1[f] for f in people[0]] == ["alice"] * 5
    assert w.undo_stack.count() == 1
    assert w.undo_stack.text(0) == "Associate 1 face and move 2 to alice (c)"
    undo(qtbot, w)
    assert owners(engine) == s0  # bob has his two back, the free face is free again
    redo(qtbot, w)
    assert owners(engine) == s1


def test_disassociate_and_not_this_person_undo(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:3])
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[1][:2])
    w.workspace.reload_faces()
    settle(w)
    s0 = owners(engine)
    w.select_faces([people[0][0], people[1][0], people[2][0]])  # alice's, bob's, nobody's
    w.act_disassociate.trigger()
    wait_idle(qtbot, w)
    s1 = owners(engine)
    assert s1[people[0][0]] is None and s1[people[1][0]] is None
    assert {r["Outcome"] for r in w.results_panel.rows} == {"DISASSOCIATED"}
    undo(qtbot, w)
    assert owners(engine) == s0
    redo(qtbot, w)
    assert owners(engine) == s1
    w.select_user("alice")
    w.select_faces([people[0][1], people[1][3]])
    w.act_not_this_person.trigger()
    wait_idle(qtbot, w)
    assert owners(engine)[people[0][1]] is None
    assert engine.rejected_face_ids("c", "alice") == {people[0][1], people[1][3]}
    assert w.face_model.is_rejected(people[1][3])  # the grid marks it for the selected user
    undo(qtbot, w)
    assert owners(engine) == s1 and engine.rejected_face_ids("c", "alice") == set()
    assert not w.face_model.is_rejected(people[1][3])
    redo(qtbot, w)
    assert engine.rejected_face_ids("c", "alice") == {people[0][1], people[1][3]}
    assert w.undo_stack.count() == 2


def test_undo_that_cannot_be_done_is_shown(qtbot, seeded_window, engine, people):
    w = seeded_window
    associate_by_drop(qtbot, w, "alice", people[0][:2])
    engine.delete_user(CollectionId="c", UserId="alice")
    undo(qtbot, w)
    texts = error_texts(w)
    assert len(texts) == 1 and texts[0].startswith("Undo associate 2 faces with alice (c) failed")
    assert "does not exist" in texts[0]
    close_boxes(w)


def test_redo_of_a_move_onto_a_full_user_leaves_every_face_owned(qtbot, seeded_window, engine, analyzer, rng, people):
    """The reported defect: redo of a move when the target user has meanwhile reached 100 faces
    used to take the face off its owner and then fail, leaving it with no owner at all."""
    from .conftest import index_people

    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[0][:1])
    w.workspace.reload_faces()
    settle(w)
    associate_by_drop(qtbot, w, "alice", people[0][:1])  # moves it from bob to alice
    assert owners(engine)[people[0][0]] == "alice"
    undo(qtbot, w)
    assert owners(engine)[people[0][0]] == "bob"
    (filler,) = index_people(engine, analyzer, rng, people=1, each=100, tag="filler", seed=9)
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=filler, UserMatchThreshold=0)
    before = owners(engine)
    redo(qtbot, w)
    assert owners(engine) == before  # nothing written: the face is still bob's
    texts = error_texts(w)
    assert len(texts) == 1 and "more than 100" in texts[0]
    close_boxes(w)
    assert w.undo_stack.canRedo()  # the failed redo left the history where it was


def test_undo_and_redo_are_marked_in_the_journal(qtbot, seeded_window, engine, people):
    w = seeded_window
    associate_by_drop(qtbot, w, "alice", people[0][:2])
    undo(qtbot, w)
    redo(qtbot, w)
    ops = [(e["Operation"], e["Request"].get("Purpose")) for e in engine.journal_entries()][-3:]
    assert ops == [("MoveFaces", None), ("ApplyChangeSet", "UNDO"), ("ApplyChangeSet", "REDO")]


def test_command_shows_what_the_backend_did(engine, people):
    class Sink:
        def __init__(self):
            self.applied = []

        def apply_change_set(self, cs):
            self.applied.append(cs)

    sink = Sink()
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:1])
    r = engine.move_faces(CollectionId="c", UserId="alice", FaceIds=people[0][1:3])
    cmd = ChangeSetCommand(sink, "Associate", r["ChangeSet"])
    cmd.redo()  # the first redo is the edit that already ran: nothing happens
    assert sink.applied == []
    undone = cmd.undo_job(engine)()
    cmd.last_result = undone
    cmd.undo()
    assert owners(engine)[people[0][0]] == "alice" and owners(engine)[people[0][1]] is None
    assert sink.applied == [undone]
    assert [c["FaceId"] for c in undone["FaceChanges"]] == people[0][1:3]
    cmd.last_result = cmd.redo_job(engine)()
    cmd.redo()
    assert [owners(engine)[f] for f in people[0][:3]] == ["alice"] * 3
    assert change_sets.inverse(cmd.done_change_set)["FaceChanges"][0]["FromUserId"] == "alice"


def test_an_error_while_showing_an_undo_is_reported_not_a_crash(qtbot, engine, people):
    """QUndoStack calls undo() from C++; an exception escaping it crashed PySide6 6.11 outright."""
    from PySide6.QtGui import QUndoStack

    class BrokenSink:
        def apply_change_set(self, cs):
            raise RuntimeError("the view could not show it")

    r = engine.move_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:1])
    stack = QUndoStack()
    command = ChangeSetCommand(BrokenSink(), "Associate", r["ChangeSet"])
    stack.push(command)
    command.last_result = command.undo_job(engine)()
    with qtbot.capture_exceptions() as caught:
        stack.undo()
    assert stack.index() == 0  # the stack moved: the backend did undo it
    assert [str(e[1]) for e in caught] == ["the view could not show it"]
