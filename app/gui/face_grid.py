"""The face grid: an icon-mode list view over the face model; faces drag out of it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView

from .face_delegate import FaceDelegate

_NUMBER_KEYS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(1, 10)}


class FaceGridView(QListView):
    pinned_key_pressed = Signal(int)  # 1..9: associate the selection with the user pinned there

    def __init__(self, icon_size: int = 96, parent=None):
        super().__init__(parent)
        self.setObjectName("faceGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)  # static icon mode lays out like a wrapped list: fast
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setIconSize(QSize(icon_size, icon_size))
        self.setItemDelegate(FaceDelegate(icon_size, self))
        self.setAccessibleName("Faces")

    def keyPressEvent(self, event) -> None:
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if event.key() in _NUMBER_KEYS and mods == Qt.KeyboardModifier.NoModifier:
            self.pinned_key_pressed.emit(_NUMBER_KEYS[event.key()])
            event.accept()
            return
        super().keyPressEvent(event)
