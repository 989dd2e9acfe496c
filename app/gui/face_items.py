"""Faces in result tables as the curator knows them: thumbnail and photo name, the id in the tooltip.

Every table that lists faces (the drop preview, the Results panel, the search results) builds its
face cells here and gets the same copy action: Ctrl+C or the context menu copies the selected
rows' face ids (the UUIDs stay out of the cells but one keystroke away).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from .reason_text import face_label

FACE_ID_ROLE = Qt.ItemDataRole.UserRole

NameOf = Callable[[str], "str | None"]  # face id -> its photo's name (None when unknown)


def face_item(face_id: str, name: str | None = None, pixmap=None, tooltip: str = "") -> QTableWidgetItem:
    label = face_label(name, face_id) if face_id else ""
    item = QTableWidgetItem(label)
    item.setData(FACE_ID_ROLE, face_id)
    if pixmap is not None:
        item.setIcon(QIcon(pixmap))
    tip = f"Face id: {face_id}" if face_id else ""
    # the whole name too: a narrow column cuts it short
    item.setToolTip("\n".join(t for t in (label, tip, tooltip) if t))
    return item


def selected_face_ids(table: QTableWidget) -> list[str]:
    rows = sorted({i.row() for i in table.selectedIndexes()}) or ([table.currentRow()] if table.currentRow() >= 0 else [])
    ids = []
    for r in rows:
        item = table.item(r, 0)
        fid = item.data(FACE_ID_ROLE) if item is not None else None
        if fid:
            ids.append(fid)
    return ids


class CopyFaceIds(QAction):
    """"Copy face ids" on a table of faces (Ctrl+C while the table has focus, and its context menu)."""

    def __init__(self, table: QTableWidget):
        super().__init__("Copy face ids", table)
        self.table = table
        self.setObjectName(f"{table.objectName()}CopyIds")
        self.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        self.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.triggered.connect(self._copy)
        table.addAction(self)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    @Slot()
    def _copy(self) -> None:
        ids = selected_face_ids(self.table)
        if ids:
            QGuiApplication.clipboard().setText("\n".join(ids))
