"""Paints one face in the grid: the crop, its label, the owning user as a coloured band, marks."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from .owner_colours import OWNER_COLOURS

MARGIN = 4
BAND = 16  # height of the owner band over the crop's bottom edge
NO_CROP_TEXT = "no crop"


def user_colour(user_id: str) -> QColor:
    """The user's colour among the collection's users (owner_colours.py): the same person reads the same
    across the grid, and two users never look alike."""
    return QColor.fromHsv(OWNER_COLOURS.hue(user_id), 150, 215)


class FaceDelegate(QStyledItemDelegate):
    """For views over a FaceListModel (it reads the model's rows directly)."""

    def __init__(self, icon_size: int = 96, parent=None):
        super().__init__(parent)
        self.icon_size = icon_size
        self.name_of: Callable[[str], str] = str  # UserId -> the name the owner band shows (the window sets it)

    def sizeHint(self, option, index) -> QSize:
        line = option.fontMetrics.height()
        return QSize(self.icon_size + 2 * MARGIN, self.icon_size + line + 3 * MARGIN)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        painter.save()
        palette = option.palette
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight))
        icon = QRect(rect.left() + MARGIN, rect.top() + MARGIN, self.icon_size, self.icon_size)
        # read the model directly, not through index.data(): no QVariant round trip per paint
        model, row = index.model(), index.row()
        entry = model.entry(row)
        pixmap = model.thumbnail(row)
        picture = icon  # where the crop is drawn; marks go on it
        if pixmap is not None and not pixmap.isNull():
            scaled = pixmap.size().scaled(icon.size(), Qt.AspectRatioMode.KeepAspectRatio)
            picture = QRect(0, 0, scaled.width(), scaled.height())
            picture.moveCenter(icon.center())
            painter.drawPixmap(picture, pixmap)
        else:
            # not loaded yet (a plain outline), or known to have no crop (a remote endpoint returns
            # none): that tile says so in words, so it is not mistaken for one still loading
            painter.fillRect(icon, palette.color(QPalette.ColorRole.AlternateBase))
            s = self.icon_size
            if model.thumbnail_missing(row):
                # a smaller dashed head, the words under it, both clear of the owner band
                words = icon.adjusted(2, 0, -2, -BAND - 2)
                painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1, Qt.PenStyle.DashLine))
                painter.drawEllipse(icon.adjusted(s // 4 + 4, s // 10, -s // 4 - 4, -(BAND + option.fontMetrics.height() + 6)))
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(words, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, NO_CROP_TEXT)
            else:
                painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid)))
                painter.drawEllipse(icon.adjusted(s // 4, s // 6, -s // 4, -s // 4))
        user_id = entry.user_id
        if user_id:
            band = QRect(picture.left(), picture.bottom() - BAND + 1, picture.width(), BAND)
            colour = user_colour(user_id)
            colour.setAlpha(215)
            painter.fillRect(band, colour)
            painter.setPen(QColor("black"))
            painter.drawText(band.adjusted(3, 0, -3, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             option.fontMetrics.elidedText(self.name_of(user_id), Qt.TextElideMode.ElideRight, band.width() - 6))
        if model.is_rejected(entry.face_id):
            # a red cross in the corner: "not this person" for the selected user
            mark = QRect(picture.right() - 15, picture.top() + 2, 13, 13)
            painter.setPen(QPen(QColor(200, 30, 30), 3))
            painter.drawLine(mark.topLeft(), mark.bottomRight())
            painter.drawLine(mark.topRight(), mark.bottomLeft())
        text_rect = QRect(rect.left() + MARGIN, icon.bottom() + MARGIN, rect.width() - 2 * MARGIN,
                          option.fontMetrics.height())
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        text = model.label(row)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter,
                         option.fontMetrics.elidedText(text, Qt.TextElideMode.ElideMiddle, text_rect.width()))
        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Text), 1, Qt.PenStyle.DotLine))
            painter.drawRect(rect.adjusted(1, 1, -2, -2))
        painter.restore()

