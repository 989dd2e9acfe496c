"""The source photo of a face, with the face's box drawn on it.

A non-modal window that follows the grid's current face while it is open (View ▸ Show source
photo, Ctrl+T). It shows the downscaled preview the engine stored at indexing time; bounding
boxes are ratios of the upright photo, so they apply to the preview as they are. It opens
fit to the window (the whole photo in view, rescaled as the window is resized); "Actual size"
shows it pixel for pixel, and Home / End scroll the face into view. Ctrl+T closes it again.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QCheckBox, QDialog, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout

BOX_PEN_WIDTH = 3


def photo_with_box(jpeg: bytes, box: dict | None) -> QPixmap | None:
    """The photo as a pixmap with `box` (ratios) outlined; None when the bytes do not decode."""
    image = QImage.fromData(jpeg)
    if image.isNull():
        return None
    pixmap = QPixmap.fromImage(image)
    if box:
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#ffd400"), BOX_PEN_WIDTH))
        painter.drawRect(QRectF(box["Left"] * pixmap.width(), box["Top"] * pixmap.height(),
                                box["Width"] * pixmap.width(), box["Height"] * pixmap.height()))
        painter.end()
    return pixmap


class SourcePhotoViewer(QDialog):
    """Shows one face's source photo; `closed` tells the window to uncheck its toggle."""

    closed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("sourcePhotoViewer")
        self.setWindowTitle("Source photo")
        self.resize(720, 560)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setAccessibleName("Source photo")
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(self.picture)
        self.scroll_area.setWidgetResizable(True)
        self.actual_size = QCheckBox("&Actual size")
        self.actual_size.setObjectName("actualSize")
        self.actual_size.setToolTip("Off: the whole photo fits the window. Home / End: scroll to the face.")
        self.actual_size.toggled.connect(self._rescale)
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.actual_size)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.scroll_area, 1)
        self.face_id: str | None = None
        self._pixmap: QPixmap | None = None  # the photo at its own size
        self._box: dict | None = None

    def show_face(self, face_id: str | None, jpeg: bytes | None, box: dict | None, photo_name: str | None) -> None:
        """Show `face_id`'s photo, or say plainly why there is none."""
        self.face_id = face_id
        pixmap = photo_with_box(jpeg, box) if jpeg else None
        if face_id is None:
            self.caption.setText("Select a face to see the photo it came from.")
        elif pixmap is None:
            self.caption.setText("No photo was stored for this face (it was indexed without one).")
        else:
            self.caption.setText(photo_name or "Photo")
        self.caption.setToolTip(f"Face id: {face_id}" if face_id else "")
        self._pixmap, self._box = pixmap, box
        self._rescale()

    def fits(self) -> bool:
        return not self.actual_size.isChecked()

    def _rescale(self, *_args) -> None:
        pixmap = self._pixmap
        if pixmap is None:
            self.picture.setPixmap(QPixmap())
            return
        if self.fits():
            room = self.scroll_area.viewport().size()
            if pixmap.width() > room.width() or pixmap.height() > room.height():
                pixmap = pixmap.scaled(room, Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.SmoothTransformation)
        self.picture.setPixmap(pixmap)
        QTimer.singleShot(0, self.scroll_to_face)  # once the scroll area has laid the new size out

    def scroll_to_face(self) -> None:
        shown = self.picture.pixmap()
        if self._box is None or shown is None or shown.isNull():
            return
        # the label centres the picture: find it, then the box's centre on it
        left = max(0, (self.picture.width() - shown.width()) // 2)
        top = max(0, (self.picture.height() - shown.height()) // 2)
        x = left + (self._box["Left"] + self._box["Width"] / 2) * shown.width()
        y = top + (self._box["Top"] + self._box["Height"] / 2) * shown.height()
        self.scroll_area.ensureVisible(int(x), int(y), int(self._box["Width"] * shown.width()),
                                  int(self._box["Height"] * shown.height()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fits():
            self._rescale()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Home, Qt.Key.Key_End):
            self.scroll_to_face()
            event.accept()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event) -> None:
        super().closeEvent(event)
        self.closed.emit()


class SourcePhotoController(QObject):
    """Keeps the viewer in step with the window: toggled by the action, following the grid."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.viewer: SourcePhotoViewer | None = None

    @Slot(bool)
    def toggle(self, checked: bool) -> None:
        if not checked:
            if self.viewer is not None:
                self.viewer.hide()
            return
        if self.viewer is None:
            self.viewer = SourcePhotoViewer(self.window)
            self.viewer.addAction(self.window.act_source_photo)  # Ctrl+T closes it from inside too
            self.viewer.closed.connect(self._on_closed)
        self.show_current()
        self.viewer.show()

    def follow(self) -> None:
        """The grid's current face changed: show its photo if the viewer is open."""
        if self.viewer is not None and self.viewer.isVisible():
            self.show_current()

    @Slot()
    def _on_closed(self) -> None:
        self.window.act_source_photo.setChecked(False)

    def show_current(self) -> None:
        """Read the current face's photo and box in the background; the newest request wins."""
        w = self.window
        if self.viewer is None:
            return
        face_id, collection = w.current_face(), w.current_collection()
        row = w.face_model.row_of(face_id) if face_id is not None else None
        if collection is None or face_id is None or row is None:
            self.viewer.show_face(None, None, None, None)
            return
        entry = w.face_model.entry(row)
        w.runner.run("Reading the source photo", partial(read_source_photo, w.engine, collection, face_id, entry.image_id),
                     partial(self._photo_read, face_id, entry.external_image_id), key="source-photo", scope=collection)

    def _photo_read(self, face_id: str, photo_name: str | None, read: tuple[bytes | None, dict | None]) -> None:
        if self.viewer is not None:
            self.viewer.show_face(face_id, read[0], read[1], photo_name)


def read_source_photo(engine, collection_id: str, face_id: str, image_id: str, worker=None) -> tuple[bytes | None, dict | None]:
    """The stored preview of a face's photo and the face's box on it (runs in a worker)."""
    jpeg = engine.image_preview(collection_id, image_id)
    box = engine.face_details(collection_id, [face_id]).get(face_id, {}).get("BoundingBox")
    return jpeg, box
