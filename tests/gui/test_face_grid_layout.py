"""The face grid with many faces loaded: laying out after a page costs no Python per row, and the
row count Qt keeps (a QStringListModel underneath) stays in step with the faces through every edit,
so selection, the current face and drags stay right."""

from __future__ import annotations

import sys

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QStringListModel, Qt

from app.gui.face_grid import FaceGridView
from app.gui.face_model import FaceEntry, FaceFilter, FaceListModel, FaceRole
from app.gui.mime import decode_faces


def entries(start: int, n: int) -> list[FaceEntry]:
    return [FaceEntry(f"face-{k:06d}", None, f"p{k}.jpg", f"img-{k}", 99.0) for k in range(start, start + n)]


def paged_model(first_page: list[FaceEntry]):
    """A model whose pages are handed in by the test (as the window's worker would)."""
    model = FaceListModel(engine=None)
    asked = []
    model.page_loader = asked.append
    model.load("c")
    model.add_page(asked[-1], (first_page, "more"))
    return model, asked


def python_calls_into(module_file: str, action) -> int:
    """How many Python functions of `module_file` run while `action` runs."""
    calls = [0]

    def profile(frame, event, _arg):
        if event == "call" and frame.f_code.co_filename == module_file:
            calls[0] += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls[0]


def test_laying_out_a_page_calls_no_python_per_loaded_row(qtbot):
    import app.gui.face_model as face_model

    assert FaceListModel.rowCount is QStringListModel.rowCount  # Qt's own count, not a Python override
    model, asked = paged_model(entries(0, 3000))
    view = FaceGridView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(800, 600)
    view.show()
    qtbot.waitExposed(view)
    model.fetchMore()
    model.add_page(asked[-1], (entries(3000, 500), "more"))
    assert model.rowCount() == 3500
    # the view lays out all 3,500 rows again; before, rowCount ran in Python twice per row
    n = python_calls_into(face_model.__file__, view.executeDelayedItemsLayout)
    assert n < 100
    assert view.visualRect(model.index(3499)).isValid()  # every row has its place
    assert view.indexAt(view.visualRect(model.index(0)).center()) == model.index(0)


def test_row_count_follows_the_rows_through_pages_edits_and_reloads(qtmodeltester):
    model, asked = paged_model(entries(0, 6))
    qtmodeltester.check(model)
    assert model.rowCount() == 6 and model.rowCount(model.index(0)) == 0
    model.fetchMore()
    model.add_page(asked[-1], (entries(4, 6), None))  # two faces it already holds are not added again
    assert model.rowCount() == 10 == len(model.face_ids())
    assert not model.canFetchMore()
    # a listener of rowsRemoved already sees the rows gone (data, ids and count agree)
    seen = []
    model.rowsRemoved.connect(lambda _p, first, _last: seen.append(
        (model.rowCount(), model.index(first).data(FaceRole.FaceId), model.row_of("face-000009"))))
    model.apply_faces(["face-000002", "face-000003"], {})  # deleted
    assert seen == [(8, "face-000004", 7)]
    assert model.face_ids() == [f"face-{k:06d}" for k in (0, 1, 4, 5, 6, 7, 8, 9)]
    qtmodeltester.check(model)
    model.load("c", FaceFilter.UNASSIGNED)  # a reload: no rows until its first page
    assert model.rowCount() == 0 and model.face_ids() == []


def test_the_grid_model_is_read_only_and_answers_every_role_through_data():
    model, _asked = paged_model(entries(0, 3))
    first = model.index(0)
    assert model.flags(first) == (Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
                                  | Qt.ItemFlag.ItemNeverHasChildren | Qt.ItemFlag.ItemIsDragEnabled)
    assert model.flags(QModelIndex()) == Qt.ItemFlag.NoItemFlags
    assert not model.setData(first, "renamed") and first.data(Qt.ItemDataRole.DisplayRole) == "p0.jpg"
    assert not model.insertRows(0, 2) and model.rowCount() == 3  # no empty rows from a view
    assert not model.removeRows(0, 1) and model.rowCount() == 3 and len(model.face_ids()) == 3
    assert not model.moveRows(QModelIndex(), 0, 1, QModelIndex(), 3)
    model.sort(0, Qt.SortOrder.DescendingOrder)  # the string list's own sort would reorder nothing real
    assert model.face_ids() == ["face-000000", "face-000001", "face-000002"]
    data = model.itemData(first)
    assert data[int(Qt.ItemDataRole.DisplayRole)] == "p0.jpg" and data[int(FaceRole.FaceId)] == "face-000000"
    assert model.supportedDragActions() == model.supportedDropActions() == Qt.DropAction.CopyAction


def test_selection_current_face_and_drag_survive_pages_and_removals(qtbot):
    model, asked = paged_model(entries(0, 40))
    view = FaceGridView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    selection = view.selectionModel()
    for row in (5, 6, 30):
        selection.select(model.index(row), QItemSelectionModel.SelectionFlag.Select)
    selection.setCurrentIndex(model.index(30), QItemSelectionModel.SelectionFlag.NoUpdate)
    model.fetchMore()
    model.add_page(asked[-1], (entries(40, 400), None))
    view.executeDelayedItemsLayout()
    model.apply_faces(["face-000001"], {})  # a face above the selection leaves the grid
    assert model.rowCount() == 439
    picked = sorted(i.data(FaceRole.FaceId) for i in view.selectedIndexes())
    assert picked == ["face-000005", "face-000006", "face-000030"]
    assert view.currentIndex().data(FaceRole.FaceId) == "face-000030"
    drag = view.drag_for(view.selectedIndexes())
    assert drag is not None
    assert decode_faces(drag.mimeData()).face_ids == ("face-000005", "face-000006", "face-000030")
    # the rows stay where the layout puts them: the last face is reachable by scrolling to it
    view.scrollTo(model.index(438))
    assert view.viewport().rect().intersects(view.visualRect(model.index(438)))
