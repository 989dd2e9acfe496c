"""Read-only result tables, filled in one pass.

Columns are sized once after filling: a header in ResizeToContents mode re-measures every row on
each setItem, which made 100 result rows take seconds.
"""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem


def make_table(name: str, columns: list[str], accessible_name: str = "", cls: type[QTableWidget] = QTableWidget):
    table = cls(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setVisible(False)
    if accessible_name:
        table.setAccessibleName(accessible_name)
    return table


def fill_table(table: QTableWidget, rows: list[list], fit: bool = True) -> None:
    """Replace the contents; each cell is a str or a ready QTableWidgetItem. `fit`: size the columns to
    their contents (a table whose columns share its width passes False)."""
    table.setUpdatesEnabled(False)
    try:
        table.setRowCount(0)
        table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, cell in enumerate(cells):
                table.setItem(r, c, cell if isinstance(cell, QTableWidgetItem) else QTableWidgetItem(str(cell)))
        if fit:
            table.resizeColumnsToContents()
    finally:
        table.setUpdatesEnabled(True)
