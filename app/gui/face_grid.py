"""The face grid: an icon-mode list view over the face model; faces drag out of it."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QAbstractItemView, QListView

from .drag_image import drag_pixmap
from .face_delegate import FaceDelegate
from .face_model import FaceListModel

_NUMBER_KEYS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(1, 10)}


MIN_TILE, MAX_TILE, TILE_STEP = 48, 192, 16


class FaceGridView(QListView):
    pinned_key_pressed = Signal(int)  # 1..9: associate the selection with the user pinned there
    tile_size_changed = Signal(int)  # the thumbnails' edge in pixels

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
        self.delegate = FaceDelegate(icon_size, self)
        self.setItemDelegate(self.delegate)
        self.setAccessibleName("Faces")

    def tile_size(self) -> int:
        return self.delegate.icon_size

    def set_tile_size(self, size: int) -> None:
        """Thumbnails drawn at `size` pixels (48–192); the crops are scaled as they are painted."""
        size = max(MIN_TILE, min(MAX_TILE, int(size)))
        if size == self.delegate.icon_size:
            return
        current = self.currentIndex()
        self.delegate.icon_size = size
        self.setIconSize(QSize(size, size))
        self.scheduleDelayedItemsLayout()
        if current.isValid():
            self.scrollTo(current)
        self.tile_size_changed.emit(size)

    def zoom(self, steps: int) -> None:
        self.set_tile_size(self.tile_size() + steps * TILE_STEP)

    def drag_for(self, indexes) -> QDrag | None:
        """The drag of these faces: their ids as MIME data, a compact image (a few crops and a count)."""
        model = self.model()
        assert isinstance(model, FaceListModel)
        rows = sorted({i.row() for i in indexes if i.isValid()})
        mime = model.mimeData([model.index(r, 0) for r in rows]) if rows else None
        if mime is None:
            return None
        drag = QDrag(self)
        drag.setMimeData(mime)
        image = drag_pixmap([model.thumbnail(r) for r in rows[:3]], len(rows))
        drag.setPixmap(image)
        drag.setHotSpot(QPoint(image.width() // 2, image.height() // 2))
        return drag

    def startDrag(self, supported_actions) -> None:
        drag = self.drag_for(self.selectedIndexes())
        if drag is not None:
            drag.exec(Qt.DropAction.CopyAction)

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:  # Ctrl+wheel: thumbnail size
            delta = event.angleDelta().y()
            if delta:
                self.zoom(1 if delta > 0 else -1)
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event) -> None:
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if event.key() in _NUMBER_KEYS and mods == Qt.KeyboardModifier.NoModifier:
            self.pinned_key_pressed.emit(_NUMBER_KEYS[event.key()])
            event.accept()
            return
        super().keyPressEvent(event)
