"""The list models: Qt's model tester on each, paging, and edits that never reset."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from app.gui.collection_model import describe_entry, CollectionListModel, CollectionRole
from app.gui.face_model import FaceFilter, FaceListModel, FaceRole
from app.gui.mime import FACE_IDS_MIME, decode_faces
from app.gui.user_model import UPDATING, UserListModel, UserRole


def test_collection_model(qtmodeltester, engine, people):
    engine.create_collection(CollectionId="b-empty")
    model = CollectionListModel(engine)
    model.load()
    qtmodeltester.check(model)
    assert [model.index(r).data(CollectionRole.CollectionId) for r in range(model.rowCount())] == ["b-empty", "c"]
    row = model.row_of("c")
    assert model.index(row).data(CollectionRole.FaceCount) == 15
    assert model.index(row).data(CollectionRole.UserCount) == 2
    assert model.index(row).data(CollectionRole.ModelVersion) == "dlib_resnet_v1+test"
    assert "15 faces, 2 users" in model.index(row).data(Qt.ItemDataRole.DisplayRole)
    engine.create_collection(CollectionId="a")
    inserted = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    assert model.add(describe_entry(engine, "a")) == 0 and inserted == [(0, 0)]
    model.remove("b-empty")
    assert model.rowCount() == 2
    qtmodeltester.check(model)


def test_user_model_counts_status_and_pins(qtmodeltester, engine, people):
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:3])
    model = UserListModel(engine)
    model.load("c", pins={1: "bob", 5: "ghost"})
    qtmodeltester.check(model)
    alice = model.index(model.row_of("alice"))
    assert alice.data(UserRole.FaceCount) == 3 and alice.data(UserRole.Status) == "ACTIVE"
    assert "3 / 100" in alice.data(Qt.ItemDataRole.DisplayRole)
    bob = model.index(model.row_of("bob"))
    assert bob.data(UserRole.Status) == "CREATED" and bob.data(UserRole.PinnedKey) == 1
    assert model.pins() == {1: "bob"}  # a pin naming a user that does not exist is dropped
    changed = []
    model.dataChanged.connect(lambda a, b, roles: changed.append((a.row(), b.row())))
    model.set_busy(["alice"], True)
    assert alice.data(UserRole.Status) == UPDATING and changed == [(alice.row(), alice.row())]
    model.set_busy(["alice"], False)
    assert alice.data(UserRole.Status) == "ACTIVE"
    assert model.pin("alice") == 2 and model.pinned_user(2) == "alice"
    assert model.pin("alice", 1) == 1 and model.pinned_user(1) == "alice" and model.pinned_user(2) is None
    engine.create_user(CollectionId="c", UserId="carol")
    model.add("carol")
    engine.associate_faces(CollectionId="c", UserId="carol", FaceIds=people[2][:1])
    model.refresh_counts(["carol"])
    assert model.index(model.row_of("carol")).data(UserRole.FaceCount) == 1
    model.remove("alice")
    assert model.pins() == {}
    qtmodeltester.check(model)


def test_face_model_pages_through_list_faces(qtmodeltester, engine, people):
    model = FaceListModel(engine, page_size=4)
    model.load("c")
    assert model.rowCount() == 4 and model.canFetchMore()
    qtmodeltester.check(model)  # the tester also fetches more
    while model.canFetchMore():
        model.fetchMore()
    assert model.rowCount() == 15
    assert model.face_ids() == [f for group in people for f in group]  # index order
    first = model.index(0)
    assert first.data(FaceRole.FaceId) == people[0][0]
    assert first.data(FaceRole.ExternalImageId) == "p0.jpg"
    assert first.data(FaceRole.UserId) is None and first.data(FaceRole.Rejected) is False
    assert model.flags(first) & Qt.ItemFlag.ItemIsDragEnabled
    mime = model.mimeData([model.index(3), model.index(1)])
    assert mime.hasFormat(FACE_IDS_MIME)
    assert decode_faces(mime).face_ids == (people[0][1], people[0][3])


def test_face_model_filters(qtmodeltester, engine, people):
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0])
    model = FaceListModel(engine, page_size=3)
    model.load("c", FaceFilter.UNASSIGNED)
    while model.canFetchMore():
        model.fetchMore()
    assert set(model.face_ids()) == set(people[1] + people[2])
    qtmodeltester.check(model)
    # a fresh model: Qt's tester runs its checks (fetchMore included) before it books a reset as done
    model = FaceListModel(engine, page_size=3)
    model.load("c", FaceFilter.USER, "alice")
    while model.canFetchMore():
        model.fetchMore()
    assert model.face_ids() == people[0]
    qtmodeltester.check(model)


def test_edits_update_rows_without_reset_and_keep_selection(qtmodeltester, qtbot, engine, people):
    from PySide6.QtCore import QItemSelectionModel as Sel

    model = FaceListModel(engine)
    model.load("c")
    selection = QItemSelectionModel(model)
    selection.select(model.index(7), Sel.SelectionFlag.Select)
    events = []
    model.modelReset.connect(lambda: events.append("reset"))
    model.layoutChanged.connect(lambda *a: events.append("layout"))
    model.dataChanged.connect(lambda a, b, roles: events.append(("changed", a.row(), b.row())))
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[people[0][2], people[1][0]])
    model.sync_faces([people[0][2], people[1][0]])
    assert "reset" not in events and "layout" not in events
    assert sorted(e[1] for e in events) == [2, 5] and all(e[1] == e[2] for e in events)
    assert model.index(2).data(FaceRole.UserId) == "alice"
    assert selection.isRowSelected(7)
    # under "unassigned", a face that gets a user leaves the grid; one that is freed comes back
    model.load("c", FaceFilter.UNASSIGNED)
    assert people[0][2] not in model.face_ids()
    engine.disassociate_faces(CollectionId="c", UserId="alice", FaceIds=[people[0][2]])
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=[people[2][4]])
    removed, inserted = [], []
    model.rowsRemoved.connect(lambda p, a, b: removed.append((a, b)))
    model.rowsInserted.connect(lambda p, a, b: inserted.append((a, b)))
    model.sync_faces([people[0][2], people[2][4]])
    assert people[0][2] in model.face_ids() and people[2][4] not in model.face_ids()
    assert len(removed) == 1 and len(inserted) == 1
    engine.delete_faces(CollectionId="c", FaceIds=[people[1][1]])
    model.sync_faces([people[1][1]])
    assert people[1][1] not in model.face_ids()
    checked = FaceListModel(engine)
    checked.load("c", FaceFilter.UNASSIGNED)
    qtmodeltester.check(checked)


def test_similarity_order_is_a_layout_change_that_keeps_selection(engine, people):
    model = FaceListModel(engine)
    model.load("c")
    selection = QItemSelectionModel(model)
    target = people[2][3]
    selection.select(model.index(model.row_of(target)), QItemSelectionModel.SelectionFlag.Select)
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    scores = {people[2][3]: 90.0, people[0][0]: 95.0, people[1][1]: 10.0}
    model.set_similarities(scores, "face x")
    assert not resets
    assert model.face_ids()[:3] == [people[0][0], people[2][3], people[1][1]]
    assert model.index(0).data(FaceRole.Similarity) == 95.0 and model.index(5).data(FaceRole.Similarity) is None
    assert [i.row() for i in selection.selectedIndexes()] == [1]  # the selection moved with its face
    model.set_rejected([people[1][1]])
    assert model.index(2).data(FaceRole.Rejected) is True
