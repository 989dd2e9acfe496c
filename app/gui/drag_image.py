"""A compact drag image: a few stacked thumbnails and a badge with the number of faces dragged.

Qt's own drag image paints every selected item, which for a large selection is a picture bigger
than the screen; this one stays small whatever the selection.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap

EDGE = 56  # one thumbnail in the stack
SHIFT = 8  # offset between stacked thumbnails
MAX_STACK = 3


def drag_pixmap(thumbnails: list, count: int) -> QPixmap:
    """`thumbnails`: QPixmaps (or None) of the first faces dragged; `count`: how many faces in all."""
    shown = thumbnails[:MAX_STACK] or [None]
    spread = SHIFT * (len(shown) - 1)
    width, height = EDGE + spread + 14, EDGE + spread + 14
    pixmap = QPixmap(width, height)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for i in reversed(range(len(shown))):  # the first face drawn last, on top
        rect = QRect(i * SHIFT, 14 + i * SHIFT, EDGE, EDGE)
        painter.fillRect(rect, QColor(230, 230, 230))
        thumb = shown[i]
        if thumb is not None and not thumb.isNull():
            painter.drawPixmap(rect, thumb.scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                                                  Qt.TransformationMode.SmoothTransformation))
        painter.setPen(QPen(QColor(255, 255, 255), 2))
        painter.drawRect(rect)
    badge = QRect(width - 30, 0, 30, 20)
    painter.setBrush(QColor(200, 40, 40))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(badge, 10, 10)
    font = QFont(painter.font())
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(count) if count < 1000 else "999+")
    painter.end()
    return pixmap
