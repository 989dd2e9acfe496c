"""A row (or grid) of face thumbnails for the people dialogs: crops and photo names, the face id in the tooltip.

The crops come from the window's ThumbnailLoader (decoded off the GUI thread); a face whose crop is
not decoded yet shows a plain square and gets its crop when the loader says it is ready.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem

from .reason_text import face_label

FACE_ID_ROLE = Qt.ItemDataRole.UserRole
NameOf = Callable[[str], "str | None"]


class FaceStrip(QListWidget):
    def __init__(self, thumbnails=None, names: NameOf | None = None, icon_size: int = 64, wrap: bool = False,
                 parent=None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.names = names or (lambda _fid: None)
        self.collection_id: str | None = None
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWrapping(wrap)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setIconSize(QSize(icon_size, icon_size))
        self.setGridSize(QSize(icon_size + 28, icon_size + 34))
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        if not wrap:
            self.setFixedHeight(icon_size + 56)
        blank = QPixmap(icon_size, icon_size)
        blank.fill(QColor(128, 128, 128, 60))
        self._blank = QIcon(blank)
        if thumbnails is not None:
            thumbnails.ready.connect(self._on_ready)

    def set_faces(self, collection_id: str, faces: list[tuple[str, str]]) -> None:
        """`faces`: (face id, a line of plain words for the tooltip: what happens to it)."""
        self.collection_id = collection_id
        self.clear()
        for face_id, note in faces:
            name = self.names(face_id)
            item = QListWidgetItem(face_label(name, face_id))
            item.setData(FACE_ID_ROLE, face_id)
            item.setToolTip("\n".join(t for t in (face_label(name, face_id), note, f"Face id: {face_id}") if t))
            item.setIcon(self._icon(face_id))
            self.addItem(item)

    def face_ids(self) -> list[str]:
        return [self.item(i).data(FACE_ID_ROLE) for i in range(self.count())]

    def _icon(self, face_id: str) -> QIcon:
        if self.thumbnails is None or self.collection_id is None:
            return self._blank
        pixmap = self.thumbnails.pixmap(self.collection_id, face_id)
        return QIcon(pixmap) if pixmap is not None else self._blank

    @Slot(str, object)
    def _on_ready(self, collection_id: str, face_ids) -> None:
        if collection_id != self.collection_id:
            return
        ready = set(face_ids)
        for i in range(self.count()):
            item = self.item(i)
            if item.data(FACE_ID_ROLE) in ready:
                item.setIcon(self._icon(item.data(FACE_ID_ROLE)))
