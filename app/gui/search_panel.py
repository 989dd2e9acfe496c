"""Search results for one face: similar faces (SearchFaces) and matching users (SearchUsers)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QLabel, QTableWidgetItem, QVBoxLayout, QWidget

from .settings import KEY_SEARCH_THRESHOLD, app_settings, read_float
from .tables import fill_table, make_table

DEFAULT_FACE_MATCH_THRESHOLD = 80.0  # SearchFaces' own default


class SearchPanel(QWidget):
    face_activated = Signal(str)  # a result face the user wants to see in the grid

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("searchPanel")
        self.title = QLabel("Select a face and choose Search ▸ Similar faces (Ctrl+F).")
        self.title.setWordWrap(True)
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("searchThreshold")
        self.threshold.setRange(0.0, 100.0)
        self.threshold.setDecimals(1)
        self.threshold.setValue(read_float(app_settings(), KEY_SEARCH_THRESHOLD, DEFAULT_FACE_MATCH_THRESHOLD))
        self.threshold.setAccessibleName("Search similarity threshold")
        self.threshold.valueChanged.connect(self._remember_threshold)
        self.faces = make_table("similarFaces", ["Face", "Similarity", "User"], "Similar faces")
        self.users = make_table("matchingUsers", ["User", "Similarity"], "Matching users")
        self.faces.cellActivated.connect(self._on_face_activated)
        form = QFormLayout()
        form.addRow("Similarity threshold:", self.threshold)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(QLabel("Similar faces"))
        layout.addWidget(self.faces, 2)
        layout.addWidget(QLabel("Matching users"))
        layout.addWidget(self.users, 1)

    @Slot(float)
    def _remember_threshold(self, value: float) -> None:
        app_settings().setValue(KEY_SEARCH_THRESHOLD, float(value))

    def show_results(self, face_id: str, faces: dict, users: dict) -> None:
        self.title.setText(f"Face {face_id}: {len(faces['FaceMatches'])} similar face(s), "
                           f"{len(users['UserMatches'])} matching user(s) at {self.threshold.value():.1f} or more.")
        rows = []
        for m in faces["FaceMatches"]:
            face = m["Face"]
            item = QTableWidgetItem(face.get("ExternalImageId") or face["FaceId"])
            item.setData(Qt.ItemDataRole.UserRole, face["FaceId"])
            item.setToolTip(face["FaceId"])
            rows.append([item, f"{m['Similarity']:.1f}", face.get("UserId", "")])
        fill_table(self.faces, rows)
        fill_table(self.users, [[m["User"]["UserId"], f"{m['Similarity']:.1f}"] for m in users["UserMatches"]])

    @Slot(int, int)
    def _on_face_activated(self, row: int, _column: int) -> None:
        item = self.faces.item(row, 0)
        if item is not None:
            self.face_activated.emit(item.data(Qt.ItemDataRole.UserRole))
