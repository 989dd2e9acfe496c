"""Search results for one face: similar faces (SearchFaces) and matching users (SearchUsers).

Faces show their thumbnail and photo name (the id in the tooltip, Ctrl+C copies it); "Select in
grid" selects the result faces in the face grid, where they can be dragged onto a user.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, Signal, Slot
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from . import reason_text as words
from .drag_image import drag_pixmap
from .face_items import FACE_ID_ROLE, CopyFaceIds, NameOf, face_item, selected_face_ids
from .mime import FACE_IDS_MIME, encode_faces
from .settings import KEY_SEARCH_THRESHOLD, app_settings, read_float
from .tables import fill_table, make_table

DEFAULT_FACE_MATCH_THRESHOLD = 80.0  # SearchFaces' own default


class SearchPanel(QWidget):
    face_activated = Signal(str)  # a result face the user wants to see in the grid
    faces_chosen = Signal(list)  # "Select in grid": the result faces

    def __init__(self, thumbnails=None, names: NameOf | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("searchPanel")
        self._thumbnails = thumbnails
        self._names = names or (lambda _fid: None)
        self.collection_id: str | None = None
        self.title = QLabel("Select a face and choose Search ▸ Similar faces (Ctrl+F).")
        self.title.setWordWrap(True)
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("searchThreshold")
        self.threshold.setRange(0.0, 100.0)
        self.threshold.setDecimals(1)
        self.threshold.setValue(read_float(app_settings(), KEY_SEARCH_THRESHOLD, DEFAULT_FACE_MATCH_THRESHOLD))
        self.threshold.setAccessibleName("Search similarity threshold")
        self.threshold.valueChanged.connect(self._remember_threshold)
        self.faces = make_table("similarFaces", ["Face", "Similarity", "User"], "Similar faces", FaceResultsTable)
        self.faces.collection_id = lambda: self.collection_id
        self.users = make_table("matchingUsers", ["User", "Similarity"], "Matching users")
        self.faces.cellActivated.connect(self._on_face_activated)
        self.faces.setIconSize(QSize(32, 32))
        CopyFaceIds(self.faces)
        self.select_in_grid = QPushButton("&Select in grid")
        self.select_in_grid.setObjectName("selectResultsInGrid")
        self.select_in_grid.setToolTip("Select the result faces in the face grid (then drag them onto a user)")
        self.select_in_grid.setEnabled(False)
        self.select_in_grid.clicked.connect(self._on_select_in_grid)
        form = QFormLayout()
        form.addRow("Similarity threshold:", self.threshold)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(QLabel("Similar faces"))
        layout.addWidget(self.faces, 2)
        layout.addWidget(self.select_in_grid)
        layout.addWidget(QLabel("Matching users"))
        layout.addWidget(self.users, 1)

    @Slot(float)
    def _remember_threshold(self, value: float) -> None:
        app_settings().setValue(KEY_SEARCH_THRESHOLD, float(value))

    def show_results(self, face_id: str, faces: dict, users: dict, collection_id: str | None = None) -> None:
        self.collection_id = collection_id
        self.title.setText(f"Like {words.face_label(self._names(face_id), face_id)}: "
                           f"{words.count(len(faces['FaceMatches']), 'similar face')}, "
                           f"{words.count(len(users['UserMatches']), 'matching user')} at ≥ "
                           f"{words.number(self.threshold.value())}.")
        self.title.setToolTip(f"Face id: {face_id}")
        rows = []
        for m in faces["FaceMatches"]:
            face = m["Face"]
            fid = face["FaceId"]
            pixmap = self._thumbnails.pixmap(collection_id, fid) if self._thumbnails and collection_id else None
            rows.append([face_item(fid, face.get("ExternalImageId") or self._names(fid), pixmap),
                         f"{m['Similarity']:.1f}", face.get("UserId", "")])
        fill_table(self.faces, rows)
        self.select_in_grid.setEnabled(bool(rows))
        fill_table(self.users, [[m["User"]["UserId"], f"{m['Similarity']:.1f}"] for m in users["UserMatches"]])

    @Slot(int, int)
    def _on_face_activated(self, row: int, _column: int) -> None:
        item = self.faces.item(row, 0)
        if item is not None:
            self.face_activated.emit(item.data(FACE_ID_ROLE))

    @Slot()
    def _on_select_in_grid(self) -> None:
        ids = [it.data(FACE_ID_ROLE) for it in (self.faces.item(r, 0) for r in range(self.faces.rowCount())) if it]
        self.faces_chosen.emit(ids)


class FaceResultsTable(QTableWidget):
    """The similar faces: their rows drag onto a user like faces from the grid (same MIME type)."""

    def __init__(self, rows: int, columns: int, parent=None):
        super().__init__(rows, columns, parent)
        self.collection_id = lambda: None
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)

    def mimeTypes(self) -> list[str]:
        return [FACE_IDS_MIME]

    def mimeData(self, _items=None):
        ids, cid = selected_face_ids(self), self.collection_id()
        return encode_faces(cid, ids) if ids and cid else None

    def startDrag(self, _actions) -> None:
        mime = self.mimeData()
        if mime is None:
            return
        rows = sorted({i.row() for i in self.selectedIndexes()})
        items = [self.item(r, 0) for r in rows[:3]]
        icons = [it.icon() for it in items if it is not None]
        drag = QDrag(self)
        drag.setMimeData(mime)
        image = drag_pixmap([i.pixmap(56, 56) if not i.isNull() else None for i in icons], len(rows))
        drag.setPixmap(image)
        drag.setHotSpot(QPoint(image.width() // 2, image.height() // 2))
        drag.exec(Qt.DropAction.CopyAction)
