"""The users list: faces dropped on a user row start an association with that user."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QAbstractItemView, QListView

from .mime import FacePayloadError, decode_faces, has_faces
from .user_model import UserListModel


class UserListView(QListView):
    faces_dropped = Signal(str, object)  # user id, FacePayload
    drop_refused = Signal(str)  # why, in plain words

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("userList")
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName("Users")
        # one line each: with 10,000 users the view must not ask every row for its size on each change
        self.setUniformItemSizes(True)
        self.drop_target = QPersistentModelIndex()  # the user under a drag of faces: outlined

    def _set_drop_target(self, index) -> None:
        index = QPersistentModelIndex(index) if index is not None else QPersistentModelIndex()
        if index != self.drop_target:
            self.drop_target = index
            self.viewport().update()

    def drop_target_user(self) -> str | None:
        if not self.drop_target.isValid():
            return None
        model = self.model()
        assert isinstance(model, UserListModel)
        return model.entry(self.drop_target.row()).user_id

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.drop_target.isValid():
            rect = self.visualRect(QModelIndex(self.drop_target)).adjusted(1, 1, -2, -2)
            painter = QPainter(self.viewport())
            painter.setPen(QPen(QColor(self.palette().highlight().color()), 3))
            painter.drawRect(rect)
            painter.end()

    def dragLeaveEvent(self, event) -> None:
        self._set_drop_target(None)
        super().dragLeaveEvent(event)

    def _target(self, event):
        index = self.indexAt(event.position().toPoint())
        return index if index.isValid() else None

    def dragEnterEvent(self, event) -> None:
        if has_faces(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        # only a user row is a target; the empty space below the last user is not
        target = self._target(event) if has_faces(event.mimeData()) else None
        self._set_drop_target(target)
        if target is not None:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        target = self._target(event)
        self._set_drop_target(None)
        if not has_faces(event.mimeData()) or target is None:
            event.ignore()
            return
        try:
            payload = decode_faces(event.mimeData())
        except FacePayloadError as exc:
            event.ignore()
            self.drop_refused.emit(str(exc))
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        model = self.model()
        assert isinstance(model, UserListModel)
        self.faces_dropped.emit(model.entry(target.row()).user_id, payload)
