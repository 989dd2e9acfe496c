"""The live camera picture with the analysed faces' boxes drawn over it."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.capture.frame_hints import FrameHint

GOOD_COLOUR = QColor(60, 200, 90)
PROBLEM_COLOUR = QColor(245, 170, 40)
BOXES_MAX_AGE_S = 1.0  # boxes of an older analysis would mark where the face was, not where it is


class FramePreview(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("framePreview")
        self.setAccessibleName("Camera preview")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.image: QImage | None = None
        self._faces: tuple = ()
        self._good = False
        self._faces_at = 0.0
        self.frames_shown = 0
        self.fps = 0.0  # frames shown per second, over the last second or so
        self._fps_since = time.monotonic()
        self._fps_count = 0

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, 240)

    def set_image(self, image: QImage) -> None:
        self.image = image
        self.frames_shown += 1
        self._fps_count += 1
        now = time.monotonic()
        if now - self._fps_since >= 1.0:
            self.fps = self._fps_count / (now - self._fps_since)
            self._fps_since, self._fps_count = now, 0
        self.update()

    def set_faces(self, faces, hint: FrameHint) -> None:
        self._faces = tuple(faces)
        self._good = hint in (FrameHint.GOOD, FrameHint.SIMILAR, FrameHint.DONE)
        self._faces_at = time.monotonic()
        self.update()

    def clear(self) -> None:
        self.image = None
        self._faces = ()
        self.reset_fps()
        self.update()

    def reset_fps(self) -> None:
        """Start the frame rate reading afresh (after a pause, the gap is not the camera's rate)."""
        self.fps = 0.0
        self._fps_since, self._fps_count = time.monotonic(), 0

    def image_rect(self) -> QRectF:
        """Where the picture lies in the widget (scaled to fit, centred)."""
        if self.image is None or self.image.isNull():
            return QRectF()
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        w, h = self.image.width() * scale, self.image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        target = self.image_rect()
        if target.isEmpty():
            painter.setPen(Qt.GlobalColor.lightGray)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No picture")
            painter.end()
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        assert self.image is not None  # an empty target means no image
        painter.drawImage(target, self.image)
        if self._faces and time.monotonic() - self._faces_at <= BOXES_MAX_AGE_S:
            painter.setPen(QPen(GOOD_COLOUR if self._good else PROBLEM_COLOUR, 2))
            for face in self._faces:
                box = face.bounding_box
                painter.drawRect(QRectF(target.left() + box["Left"] * target.width(),
                                        target.top() + box["Top"] * target.height(),
                                        box["Width"] * target.width(), box["Height"] * target.height()))
        painter.end()
