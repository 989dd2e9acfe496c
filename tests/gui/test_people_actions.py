"""The people actions (issue 11, window item 7): "Is this <name>?", merge, split, remove, rename, cover.

Real widgets, offscreen; every backend call through the window's runner (settle waits for them).
"""

from __future__ import annotations

import json
import re

import jsonschema

from PySide6.QtCore import QItemSelectionModel, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel, QMenu

from app.gui.face_model import FaceFilter
from app.resources import resource_path
from app.gui.merge_preview_dialog import MergePreviewDialog
from app.gui.people_actions import people_mime
from app.gui.person_dialogs import RenameDialog, SplitDialog
from tests.core.test_curation_ops import index_people as index_many

from .conftest import open_window, owners
from .gui_actions import done, settle
from .test_people_dock import index_groups, open_people
from .test_slow_backend import SlowBackend

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


def two_people(engine, analyzer, rng):
    """Ann's 7 faces split over u_ann ("Ann Lee", 3) and u_ann2 ("Ann L.", 2); 2 of hers and Bo's 4 unassigned."""
    groups = index_groups(engine, analyzer, rng, sizes=(7, 4))
    a = groups[0]
    for uid, name, faces in (("u_ann", "Ann Lee", a[:3]), ("u_ann2", "Ann L.", a[3:5])):
        engine.create_user(CollectionId="c", UserId=uid)
        engine.associate_faces(CollectionId="c", UserId=uid, FaceIds=faces, UserMatchThreshold=0)
        engine.update_person(CollectionId="c", UserId=uid, DisplayName=name)
    return groups


def select_cards(w, *keys: str) -> None:
    panel, model = w.people_panel, w.people_model
    sel = panel.cards.selectionModel()
    sel.clearSelection()
    for i, key in enumerate(keys):
        row = next(r for r in range(model.rowCount()) if model.card(r).key == key)
        index = model.index(row)
        flag = QItemSelectionModel.SelectionFlag.Select
        sel.select(index, flag)
        if i == 0:
            sel.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)


def shown_texts(widget) -> str:
    """Every text a curator reads in the widget (labels, list items, the combo), tooltips left out."""
    parts = [lbl.text() for lbl in widget.findChildren(QLabel) if lbl.isVisible()]
    for strip in (getattr(widget, "incoming", None), getattr(widget, "kept_out", None), getattr(widget, "faces", None)):
        if strip is not None:
            parts += [strip.item(i).text() for i in range(strip.count())]
    combo = getattr(widget, "survivor_choice", None)
    if combo is not None:
        parts += [combo.itemText(i) for i in range(combo.count())]
    return "\n".join(parts)


def test_is_this_person_accept_and_reject(qtbot, engine, analyzer, rng):
    groups = index_groups(engine, analyzer, rng, sizes=(7, 5))
    engine.create_user(CollectionId="c", UserId="u_ann")
    engine.associate_faces(CollectionId="c", UserId="u_ann", FaceIds=groups[0][:2])
    engine.update_person(CollectionId="c", UserId="u_ann", DisplayName="Ann Lee")
    engine.create_user(CollectionId="c", UserId="u_bo")
    engine.associate_faces(CollectionId="c", UserId="u_bo", FaceIds=groups[1][:1])
    w = open_people(qtbot, engine)
    model, bar = w.people_model, w.people_actions.guess_bar
    ann_group = next(model.card(r).key for r in range(model.rowCount())
                     if model.card(r).kind == "group" and set(model.card(r).face_ids) == set(groups[0][2:]))
    select_cards(w, ann_group)
    settle(w, 30)
    assert bar.isVisible() and bar.guess["UserId"] == "u_ann"
    assert re.fullmatch(r"Is this <b>Ann Lee</b>\? \d+", bar.text.text())
    assert "u_ann" in bar.text.toolTip()
    # no (N on the card): the guess goes, and stays gone for this group
    w.people_panel.cards.setFocus()
    qtbot.keyClick(w.people_panel.cards, Qt.Key.Key_N)
    assert bar.guess is None or bar.guess["UserId"] != "u_ann"
    assert "Not Ann Lee" in w.statusBar().currentMessage()
    select_cards(w, "u_bo")
    select_cards(w, ann_group)
    settle(w, 30)
    assert bar.guess is None or bar.guess["UserId"] != "u_ann"
    # yes on Bo's group: the group is named as Bo (NameGroup), one step, undone by one undo
    bo_group = next(model.card(r).key for r in range(model.rowCount())
                    if model.card(r).kind == "group" and set(model.card(r).face_ids) == set(groups[1][1:]))
    select_cards(w, bo_group)
    settle(w, 30)
    assert bar.guess["UserId"] == "u_bo"
    bar.yes.click()
    settle(w, 30)
    assert all(owners(engine)[f] == "u_bo" for f in groups[1])
    assert w.undo_stack.count() == 1
    w.curation.undo()
    settle(w, 30)
    assert owners(engine)[groups[1][1]] is None and owners(engine)[groups[1][0]] == "u_bo"
    w.close()


def test_merge_preview_names_the_survivor_and_one_undo_takes_it_back(qtbot, engine, analyzer, rng):
    groups = two_people(engine, analyzer, rng)
    a = groups[0]
    w = open_people(qtbot, engine)
    select_cards(w, "u_ann", "u_ann2")
    w.act_merge_people.trigger()
    dialog = w.people_actions.dialog
    assert isinstance(dialog, MergePreviewDialog)
    settle(w, 30)
    assert dialog.survivor() == "u_ann" and dialog.sources() == ["u_ann2"]
    assert dialog.incoming.face_ids() == a[3:5] and dialog.kept_out.count() == 0
    assert "Ann Lee will have 5/100 faces: 2 come over." in dialog.summary.text()
    assert "Ann L. will be removed" in dialog.summary.text()
    assert "u_ann" in dialog.survivor_text.toolTip()
    text = shown_texts(dialog)
    assert "u_ann" not in text and not UUID.search(text), text  # names and photos, never ids
    assert all(a[3] in dialog.incoming.item(0).toolTip() for _ in [0])  # the id is one hover away
    # the curator keeps the other one: the engine plans again
    dialog.survivor_choice.setCurrentIndex(1)
    assert not dialog.ok.isEnabled()  # until the new plan is in
    settle(w, 30)
    assert dialog.survivor() == "u_ann2" and dialog.incoming.face_ids() == a[:3]
    assert "Ann L. will have 5/100 faces" in dialog.summary.text()
    dialog.survivor_choice.setCurrentIndex(0)
    settle(w, 30)
    dialog.ok.click()
    settle(w, 30)
    assert all(owners(engine)[f] == "u_ann" for f in a[:5])
    assert [u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]] == ["u_ann"]
    assert w.undo_stack.undoText().startswith("Merge Ann L. into Ann Lee")
    title = w.results_panel.title.text()  # the results name the person, and say no threshold was asked
    assert "Ann Lee" in title and "u_ann" not in title and "threshold" not in title, title
    assert w.users_model.row_of("u_ann2") is None
    assert any(c.startswith("Ann Lee · 5/100") for c in (w.people_model.index(r).data()
                                                         for r in range(w.people_model.rowCount())))
    w.curation.undo()
    settle(w, 30)
    assert [owners(engine)[f] for f in a[:5]] == ["u_ann"] * 3 + ["u_ann2"] * 2
    table = w.results_panel.table
    said = [table.item(r, 1).text() for r in range(table.rowCount())]
    assert said == ["Back on Ann L. (from Ann Lee)"] * 2, said
    assert w.users_model.row_of("u_ann2") is not None
    # the merged person comes back as they were: their name (and cover), not a bare user id
    assert engine.describe_people(CollectionId="c", UserIds=["u_ann2"])["People"][0]["DisplayName"] == "Ann L."
    assert "Ann L. · 2/100" in [w.people_model.index(r).data() for r in range(w.people_model.rowCount())]
    w.close()


def test_merge_preview_shows_what_the_cap_and_the_threshold_keep_out(qtbot, engine, analyzer, rng):
    engine.create_collection(CollectionId="c")
    many = index_many(engine, analyzer, rng, people=2, each=100)
    engine.create_user(CollectionId="c", UserId="x")
    engine.create_user(CollectionId="c", UserId="y")
    engine.associate_faces(CollectionId="c", UserId="x", FaceIds=many[0][:97])
    engine.associate_faces(CollectionId="c", UserId="y", FaceIds=many[0][97:] + many[1][:2], UserMatchThreshold=0)
    w = open_people(qtbot, engine)
    w.people_actions.ask_merge("x", ["x", "y"])
    dialog = w.people_actions.dialog
    settle(w, 30)
    assert dialog.incoming.face_ids() == many[0][97:100]
    assert dialog.kept_out.face_ids() == many[1][:2]
    assert "2 faces stay where they are (2 by the 100-face cap)" in dialog.summary.text()
    assert "x is full: 100 faces" in dialog.kept_out.item(0).toolTip()
    assert "y keeps the faces that stay" in dialog.summary.text()
    dialog.match_only.setChecked(True)  # only faces that look like x: Bo's two stay out for the match first
    settle(w, 30)
    assert dialog.kept_out.face_ids() == many[1][:2]
    assert "looks like someone else" in dialog.kept_out.item(0).toolTip()
    assert "by the match threshold" in dialog.summary.text()
    dialog.reject()
    w.close()


def test_dragging_a_card_onto_another_previews_the_merge_into_it(qtbot, engine, analyzer, rng):
    two_people(engine, analyzer, rng)
    w = open_people(qtbot, engine)
    cards, model = w.people_panel.cards, w.people_model
    target = model.index(model.row_of("person", "u_ann"))
    point = QPointF(cards.visualRect(target).center())
    mime = people_mime("c", ["u_ann2"])
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier

    def drag_event(kind, data):
        try:  # newer bindings take a QPointF, older ones only a QPoint (as gui_actions.drop_on_user)
            return kind(point, Qt.DropAction.MoveAction, data, buttons, mods)
        except TypeError:
            return kind(point.toPoint(), Qt.DropAction.MoveAction, data, buttons, mods)

    for kind in (QDragEnterEvent, QDragMoveEvent):
        event = drag_event(kind, mime)
        QApplication.sendEvent(cards.viewport(), event)
        assert event.isAccepted()
    own_mime = people_mime("c", ["u_ann"])  # kept alive as long as the event
    own = drag_event(QDragMoveEvent, own_mime)
    QApplication.sendEvent(cards.viewport(), own)
    assert not own.isAccepted()  # not onto itself
    QApplication.sendEvent(cards.viewport(), QDropEvent(point, Qt.DropAction.MoveAction, mime, buttons, mods))
    dialog = w.people_actions.dialog
    assert isinstance(dialog, MergePreviewDialog) and dialog.survivor() == "u_ann" and dialog.sources() == ["u_ann2"]
    dialog.reject()
    w.close()


def test_split_into_a_new_person_then_undo(qtbot, engine, analyzer, rng):
    groups = two_people(engine, analyzer, rng)
    a = groups[0]
    w = open_people(qtbot, engine)
    w.select_user("u_ann")
    w.set_filter(FaceFilter.USER)
    settle(w, 30)
    w.select_faces(a[1:3])
    w.act_split_person.trigger()
    dialog = w.people_actions.dialog
    assert isinstance(dialog, SplitDialog) and dialog.faces.face_ids() == a[1:3]
    assert "2 faces leave Ann Lee" in dialog.intro.text() and not UUID.search(shown_texts(dialog))
    dialog.name_edit.setText("Bo Chen")
    dialog.name_edit.textEdited.emit("Bo Chen")
    qtbot.waitUntil(lambda: dialog.user_id() == "bo_chen")  # ProposeUserId, in a worker
    dialog.id_edit.setText("u_ann2")
    dialog.id_edit.textEdited.emit("u_ann2")
    assert not dialog.ok.isEnabled() and "already a user called u_ann2" in dialog.problem.text()
    dialog.id_edit.setText("bo_chen")
    dialog.id_edit.textEdited.emit("bo_chen")
    assert dialog.ok.isEnabled()
    dialog.ok.click()
    settle(w, 30)
    assert [owners(engine)[f] for f in a[:3]] == ["u_ann", "bo_chen", "bo_chen"]
    person = engine.describe_people(CollectionId="c", UserIds=["bo_chen"])["People"][0]
    assert person["DisplayName"] == "Bo Chen" and person["FaceCount"] == 2
    assert w.undo_stack.undoText().startswith("Split 2 faces off Ann Lee into Bo Chen")
    w.curation.undo()
    settle(w, 30)
    assert all(owners(engine)[f] == "u_ann" for f in a[:3])
    assert "bo_chen" not in [u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]]
    w.close()


def test_remove_faces_from_a_person_by_key_and_card_menu(qtbot, engine, analyzer, rng):
    groups = two_people(engine, analyzer, rng)
    a = groups[0]
    w = open_people(qtbot, engine)
    assert "Shift+Del" in [s.toString() for s in w.act_disassociate.shortcuts()]
    w.select_user("u_ann")
    w.set_filter(FaceFilter.USER)
    settle(w, 30)
    w.select_faces(a[:1])
    w.face_grid.setFocus()
    qtbot.keyClick(w.face_grid, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    settle(w, 30)
    assert owners(engine)[a[0]] is None
    # the card's context menu: "Remove 1 selected face from Ann Lee"
    w.select_faces(a[1:2])
    menu = QMenu()
    card = w.people_model.card(w.people_model.row_of("person", "u_ann"))
    w.people_actions.fill_card_menu(menu, card)
    remove = next(act for act in menu.actions() if act.text().startswith("Re&move"))
    assert remove.text() == "Re&move 1 selected face from Ann Lee"
    remove.trigger()
    settle(w, 30)
    assert owners(engine)[a[1]] is None
    w.curation.undo()
    settle(w, 30)
    assert owners(engine)[a[1]] == "u_ann"
    w.close()


def test_rename_and_use_as_cover_are_undoable(qtbot, engine, analyzer, rng):
    groups = two_people(engine, analyzer, rng)
    a = groups[0]
    w = open_people(qtbot, engine)
    w.select_user("u_ann")
    w.set_filter(FaceFilter.USER)
    settle(w, 30)
    assert w.act_rename_person.shortcuts()[0].toString() == "F2"
    w.act_rename_person.trigger()
    dialog = w.people_actions.dialog
    assert isinstance(dialog, RenameDialog) and dialog.name_edit.text() == "Ann Lee"
    assert not dialog.ok.isEnabled()  # unchanged
    dialog.name_edit.setText("Ann\u0007")
    assert not dialog.ok.isEnabled() and "control" in dialog.problem.text()
    dialog.name_edit.setText("Anna Lee-Ng")
    dialog.ok.click()
    settle(w, 30)

    def person():
        return engine.describe_people(CollectionId="c", UserIds=["u_ann"])["People"][0]

    assert person()["DisplayName"] == "Anna Lee-Ng"
    assert w.undo_stack.undoText().startswith("Rename Ann Lee to Anna Lee-Ng")
    assert w.people_model.card(w.people_model.row_of("person", "u_ann")).name == "Anna Lee-Ng"
    # the users list and the owner bands in the grid follow the name (the UserId stays in the tooltip)
    users = w.users_model
    assert users.index(users.row_of("u_ann")).data().startswith("Anna Lee-Ng ")
    assert "UserId u_ann" in users.index(users.row_of("u_ann")).data(Qt.ItemDataRole.ToolTipRole)
    assert w.face_grid.delegate.name_of("u_ann") == "Anna Lee-Ng"
    # the cover: a face of hers in the grid, from its context menu
    assert w.act_use_as_cover in w.face_grid.actions()
    w.select_faces([a[2]])
    w.act_use_as_cover.trigger()
    settle(w, 30)
    assert person()["CoverFaceId"] == a[2]
    w.curation.undo()
    settle(w, 30)
    assert person().get("CoverFaceAutomatic") is True  # none set any more: DescribePeople picks one
    w.curation.undo()
    settle(w, 30)
    assert person()["DisplayName"] == "Ann Lee"
    assert w.users_model.shown_name("u_ann") == "Ann Lee"
    w.curation.redo()
    settle(w, 30)
    assert person()["DisplayName"] == "Anna Lee-Ng"
    ops = [e["Operation"] for e in engine.journal_entries()]
    assert ops.count("UpdatePerson") >= 2 + 5  # two setup names, then rename, cover and their undos and redo
    w.close()


def test_name_this_group_from_the_menu(qtbot, engine, analyzer, rng):
    index_groups(engine, analyzer, rng)
    w = open_people(qtbot, engine)
    assert w.act_name_group.shortcuts()[0].toString() == "Ctrl+G"
    w.act_name_group.trigger()
    assert w.people.dialog is None  # no group selected: the status bar says what to do
    assert "Select an unknown group" in w.statusBar().currentMessage()
    select_cards(w, w.people_model.card(0).key)
    w.act_name_group.trigger()
    assert w.people.dialog is not None and w.people.dialog.isVisible()
    w.people.dialog.reject()
    w.close()


def test_people_actions_never_call_a_slow_backend_on_the_gui_thread(qtbot, engine, analyzer, rng, tmp_path):
    from app.gui.main_window import MainWindow

    groups = two_people(engine, analyzer, rng)
    a = groups[0]
    slow = SlowBackend(engine)
    w = MainWindow(slow)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.people_dock.show()
    settle(w, 60)
    group = next(w.people_model.card(r).key for r in range(w.people_model.rowCount())
                 if w.people_model.card(r).kind == "group")
    select_cards(w, group)  # "Is this ...?"
    settle(w, 60)
    select_cards(w, "u_ann", "u_ann2")
    w.act_merge_people.trigger()
    settle(w, 60)
    w.people_actions.dialog.ok.click()
    settle(w, 60)
    assert all(owners(engine)[f] == "u_ann" for f in a[:5])
    w.select_user("u_ann")
    w.set_filter(FaceFilter.USER)
    settle(w, 60)
    w.select_faces(a[3:5])
    w.act_split_person.trigger()
    dialog = w.people_actions.dialog
    dialog.id_edit.setText("bo")
    dialog.id_edit.textEdited.emit("bo")
    dialog.ok.click()
    settle(w, 60)
    w.select_faces([a[0]])
    w.act_use_as_cover.trigger()
    settle(w, 60)
    w.curation.undo()
    settle(w, 60)
    w.curation.undo()
    settle(w, 60)
    w.curation.undo()
    settle(w, 60)
    assert [owners(engine)[f] for f in a[:5]] == ["u_ann"] * 3 + ["u_ann2"] * 2
    # each step is in the journal, so in the session's JSON report
    call = w.export_report(tmp_path / "session.json")
    assert done(w, call)
    report = json.loads(call.result[0].read_text())
    jsonschema.validate(report, json.loads(resource_path("report.schema.json").read_text()))
    assert [op["Operation"] for op in report["Operations"]] == [
        "MergeUsers", "SplitUser", "UpdatePerson", "UpdatePerson", "ApplyChangeSet", "ApplyChangeSet"]
    w.close()
    assert slow.gui_thread_calls == []


def test_users_list_and_owner_bands_show_names_with_the_people_dock_closed(qtbot, engine, analyzer, rng):
    two_people(engine, analyzer, rng)
    engine.create_user(CollectionId="c", UserId="u_plain")  # no display name: the UserId is its name
    w = open_window(qtbot, engine)
    w.people_dock.hide()
    settle(w, 30)
    users = w.users_model
    shown = [users.index(r).data() for r in range(users.rowCount())]
    assert [t.split("   ")[0] for t in shown] == ["Ann Lee", "Ann L.", "u_plain"], shown
    assert w.face_grid.delegate.name_of("u_ann2") == "Ann L." and w.face_grid.delegate.name_of("u_plain") == "u_plain"
    assert w.results_panel.who("u_ann") == "Ann Lee"
    w.close()
