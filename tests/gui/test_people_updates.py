"""The People view with many people (issue 11 item 9): automatic covers, cards updated in place after an
edit (change sets, and UpdatePerson's rename and cover, which bring none), the filter in the model, cards
fetched 400 at a time, user counts from one DescribePeople, no unasked grouping of a huge pool."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QItemSelectionModel, Qt

from app.gui import people_model as pm
from app.gui.face_model import FaceFilter
from app.gui.merge_preview_dialog import MergePreviewDialog
from app.gui.people_model import PeopleModel, PeopleRead, PeopleUpdate, PersonCard, read_people
from app.gui.person_dialogs import RenameDialog
from app.gui.user_model import count_faces

from .conftest import owners
from .gui_actions import settle
from .test_people_actions import select_cards, two_people
from .test_people_dock import index_groups, open_people


class Resets:
    """Counts the model's resets: an edit must never reset the People view."""

    def __init__(self, model):
        self.n = 0
        model.modelReset.connect(self.bump)

    def bump(self):
        self.n += 1


def card(w, uid: str) -> PersonCard:
    found = w.people_model.find("person", uid)
    assert found is not None, uid
    return found


def nearest_the_mean(engine, face_ids: list[str]) -> str:
    with engine.store.read() as conn:
        marks = ",".join("?" * len(face_ids))
        rows = dict(conn.execute(f"SELECT face_id, descriptor FROM faces WHERE face_id IN ({marks})", face_ids).fetchall())
    vectors = np.stack([np.frombuffer(rows[f], np.float32).astype(np.float64) for f in face_ids])
    return face_ids[int(np.argmin(((vectors - vectors.mean(axis=0)) ** 2).sum(axis=1)))]


def test_describe_people_gives_an_automatic_cover_nearest_the_mean(engine, analyzer, rng):
    groups = two_people(engine, analyzer, rng)
    engine.create_user(CollectionId="c", UserId="empty")
    people = {p["UserId"]: p for p in engine.describe_people(CollectionId="c")["People"]}
    assert people["u_ann"]["CoverFaceId"] == nearest_the_mean(engine, groups[0][:3])
    assert people["u_ann"]["CoverFaceAutomatic"] is True
    assert people["u_ann2"]["CoverFaceId"] == nearest_the_mean(engine, groups[0][3:5])
    assert "CoverFaceId" not in people["empty"] and "CoverFaceAutomatic" not in people["empty"]
    # a cover the curator set wins, and is not marked automatic; nothing automatic was ever stored
    engine.update_person(CollectionId="c", UserId="u_ann", CoverFaceId=groups[0][0])
    one = engine.describe_people(CollectionId="c", UserIds=["u_ann"])["People"][0]
    assert one["CoverFaceId"] == groups[0][0] and "CoverFaceAutomatic" not in one
    answer = engine.update_person(CollectionId="c", UserId="u_ann2", DisplayName="Ann Two")
    assert answer["Previous"]["CoverFaceId"] == ""


def test_cards_follow_an_association_and_a_merge_in_place(qtbot, engine, analyzer, rng):
    groups = two_people(engine, analyzer, rng)
    a, bo = groups
    w = open_people(qtbot, engine)
    model = w.people_model
    assert card(w, "u_ann").cover_automatic and card(w, "u_ann").cover_face_id in a[:3]
    def group_sizes():
        return sorted(len(c.face_ids) for c in model.cards if c.kind == "group")

    assert group_sizes() == [2, 4]  # Ann's two free faces, Bo's four
    resets = Resets(model)
    # associate one of Ann's free faces: her count changes, her group shrinks, nothing is reloaded
    w.curation.associate("u_ann", [a[5]], quick=True)
    settle(w, 30)
    if w.curation.preview_dialog is not None and w.curation.preview_dialog.isVisible():
        w.curation.preview_dialog.accept()
        settle(w, 30)
    assert owners(engine)[a[5]] == "u_ann"
    assert card(w, "u_ann").face_count == 4
    assert group_sizes() == [4]  # her last free face is alone now: the groups were read again
    assert resets.n == 0
    # merge: the source's card goes, the survivor's count changes, still no reset; the selection stays
    select_cards(w, "u_ann", "u_ann2")
    w.act_merge_people.trigger()
    dialog = w.people_actions.dialog
    assert isinstance(dialog, MergePreviewDialog)
    settle(w, 30)
    dialog.ok.click()
    settle(w, 30)
    assert model.find("person", "u_ann2") is None and model.row_of("person", "u_ann2") is None
    assert card(w, "u_ann").face_count == 6
    assert resets.n == 0
    assert [c.key for c in model.cards if c.kind == "person"] == ["u_ann"]
    assert model.card(w.people_panel.current_row()).key == "u_ann"
    # the undo brings the card back, in place
    w.curation.undo()
    settle(w, 30)
    assert card(w, "u_ann2").name == "Ann L." and card(w, "u_ann2").face_count == 2
    assert resets.n == 0
    assert [sorted(c.face_ids) for c in model.cards if c.kind == "group"] == [sorted(bo)]
    w.close()


def test_rename_and_cover_update_the_card_although_no_change_set_comes_back(qtbot, engine, analyzer, rng):
    groups = two_people(engine, analyzer, rng)
    a = groups[0]
    w = open_people(qtbot, engine)
    resets = Resets(w.people_model)
    # F2 on the focused card
    w.people_panel.cards.setFocus()
    w.people_panel.cards.selectionModel().setCurrentIndex(
        w.people_model.index(w.people_model.row_of("person", "u_ann2")), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.keyClick(w.people_panel.cards, Qt.Key.Key_F2)
    dialog = w.people_actions.dialog
    assert isinstance(dialog, RenameDialog) and dialog.name_edit.text() == "Ann L."
    dialog.name_edit.setText("Annie")
    dialog.ok.click()
    settle(w, 30)
    row = w.people_model.row_of("person", "u_ann2")
    assert card(w, "u_ann2").name == "Annie" and w.people_model.index(row).data().startswith("Annie ·")
    # "Use as cover" from the grid
    w.select_user("u_ann")
    w.set_filter(FaceFilter.USER)
    settle(w, 30)
    w.select_faces([a[1]])
    w.act_use_as_cover.trigger()
    settle(w, 30)
    assert card(w, "u_ann").cover_face_id == a[1] and not card(w, "u_ann").cover_automatic
    # their undos too
    w.curation.undo()
    settle(w, 30)
    assert card(w, "u_ann").cover_automatic
    w.curation.undo()
    settle(w, 30)
    assert card(w, "u_ann2").name == "Ann L."
    assert resets.n == 0
    w.close()


def test_filter_is_one_pass_over_names_and_ids_in_the_model(qtmodeltester):
    model = PeopleModel()
    cards = [PersonCard("person", f"p{k}", name, 1) for k, name in enumerate(["Ann Lee", "Bo Ek", "Zoë Ng", "ann"])]
    model.set_people(PeopleRead("c", cards + [PersonCard("group", "g", "", 3, None, ["f1", "f2", "f3"])]))
    qtmodeltester.check(model)
    model.set_filter("  ANN ")
    assert [model.card(r).key for r in range(model.rowCount())] == ["p0", "p3"]
    model.set_filter("p2")  # the UserId matches too
    assert [model.card(r).name for r in range(model.rowCount())] == ["Zoë Ng"]
    model.set_filter("zoë")
    assert model.rowCount() == 1
    # an edit while filtered: a rename that no longer matches leaves the rows; a new match comes in
    model.update_people(PeopleUpdate("c", [PersonCard("person", "p2", "Zed", 1), PersonCard("person", "p1", "Zoë Bo", 1)], []))
    assert [model.card(r).key for r in range(model.rowCount())] == ["p1"]
    model.set_filter("")
    assert model.rowCount() == 5 and model.row_of("group", "g") == 4
    qtmodeltester.check(model)


def test_cards_are_fetched_400_then_doubling(qtmodeltester):
    model = PeopleModel()
    cards = [PersonCard("person", f"p{k:04d}", f"Person {k}", 1) for k in range(1000)]
    model.set_people(PeopleRead("c", cards + [PersonCard("group", "g", "", 2, None, ["f1", "f2"])]))
    assert model.rowCount() == 400 and model.canFetchMore()
    assert model.row_of("person", "p0500") is None and model.find("person", "p0500") is not None
    model.set_groups([PersonCard("group", "g0", "", 2, None, ["f3", "f4"])])  # read after the people: not shown yet
    assert model.rowCount() == 400 and model.find("group", "g0") is not None and model.find("group", "g") is None
    model.fetchMore()
    assert model.rowCount() == 800
    # a person deleted beyond what is shown, and one created: the shown rows stay as they are
    model.update_people(PeopleUpdate("c", [PersonCard("person", "new", "New One", 0)], ["p0900"]))
    assert model.rowCount() == 800 and model.find("person", "p0900") is None and model.find("person", "new") is not None
    model.fetchMore()
    assert model.rowCount() == 1001 and not model.canFetchMore()
    assert model.card(1000).key == "g0" and model.card(999).key == "new"
    # groups replaced in place at the end
    model.set_groups([PersonCard("group", "h", "", 5, None, list("abcde")), PersonCard("group", "i", "", 2, None, ["x", "y"])])
    assert [model.card(r).key for r in range(999, model.rowCount())] == ["new", "h", "i"]
    qtmodeltester.check(model)


def test_user_counts_come_from_one_describe_people(engine, analyzer, rng):
    two_people(engine, analyzer, rng)
    calls = []

    class Spy:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(engine, name)

    assert count_faces(Spy(), "c", ["u_ann", "u_ann2"]) == {"u_ann": 3, "u_ann2": 2}
    assert calls == ["describe_people"]


def test_a_huge_pool_is_not_grouped_unasked(qtbot, engine, analyzer, rng, monkeypatch):
    index_groups(engine, analyzer, rng)
    monkeypatch.setattr(pm, "GROUPING_LIMIT", 5)  # 10 unassigned faces: "too many"
    read = read_people(engine, "c")
    assert read.grouping_skipped and "10 faces belong to no one" in read.note
    assert not [c for c in read.cards if c.kind == "group"]
    w = open_people(qtbot, engine)
    panel = w.people_panel
    assert panel.note.isVisible() and panel.group_button.isVisible()
    panel.group_button.click()
    settle(w, 30)
    assert [c.face_count for c in w.people_model.cards if c.kind == "group"] == [6, 4]
    assert not panel.group_button.isVisible()
    w.close()


def test_update_for_a_deleted_user_and_the_groups_read_apart(engine, analyzer, rng, monkeypatch):
    two_people(engine, analyzer, rng)
    engine.delete_user(CollectionId="c", UserId="u_ann2")
    update = pm.read_people_update(engine, "c", ["u_ann", "u_ann2"])
    assert [c.key for c in update.people] == ["u_ann"] and update.gone == ["u_ann2"] and update.groups is None
    groups = pm.read_groups_update(engine, "c")
    assert sorted(c.face_count for c in groups.groups) == [4, 4] and not groups.too_many  # Ann's 2+2 free, Bo's 4
    monkeypatch.setattr(pm, "GROUPING_LIMIT", 3)
    assert "8 faces belong to no one" in pm.read_groups_update(engine, "c").too_many
    assert pm.read_groups_update(engine, "c", group_anyway=True).groups
