"""Photo import progress and its per-file results (faces indexed, faces not indexed and why)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QTableWidgetItem, QVBoxLayout, QWidget

from .reason_text import count
from .tables import fill_table, make_table

COLUMNS = ["File", "Faces indexed", "Not indexed", "Problem"]


class ImportPanel(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("importPanel")
        self.status = QLabel("No import yet.")
        self.status.setObjectName("importStatus")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("importProgress")
        self.progress.setVisible(False)
        self.cancel = QPushButton("Cancel import")
        self.cancel.setObjectName("cancelImport")
        self.cancel.setVisible(False)
        self.cancel.clicked.connect(self.cancel_requested)
        self.table = make_table("importTable", COLUMNS, "Imported files")
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addLayout(bar)
        layout.addWidget(self.table)

    def started(self, collection_id: str, count_hint: str = "") -> None:
        self.status.setText(f"Importing into {collection_id}{count_hint}…")
        self.progress.setRange(0, 0)  # busy until the first report says how many files there are
        self.progress.setVisible(True)
        self.cancel.setVisible(True)
        self.cancel.setEnabled(True)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)

    @Slot(int, int, str)
    def on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"%v / %m  {text}")

    def ended(self, text: str) -> None:
        self.progress.setVisible(False)
        self.cancel.setVisible(False)
        self.status.setText(text)

    @Slot(object)
    def add_result(self, result) -> None:
        """One file's outcome (a FileResult), as soon as the import knows it: the table fills in live."""
        sorting = self.table.isSortingEnabled()
        self.table.setSortingEnabled(False)
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, item in enumerate(_cells(result)):
            self.table.setItem(row, col, item)
        self.table.setSortingEnabled(sorting)

    def show_results(self, outcome, new_faces: int | None = None) -> None:
        """The whole import: every file's row, and a summary that tells new faces from faces indexed before."""
        results = outcome.results
        self.table.setSortingEnabled(False)
        fill_table(self.table, [_cells(r) for r in results])
        self.table.setSortingEnabled(True)
        faces = sum(r.indexed for r in results)
        new = faces if new_faces is None else min(new_faces, faces)
        failed = sum(1 for r in results if r.error)
        head = (f"Import cancelled after {len(results)} of {count(outcome.total, 'file')} (those stay imported)"
                if outcome.cancelled else f"Imported {count(len(results), 'file')}")
        parts = [count(new, "new face")]
        if faces - new:
            parts.append(f"{faces - new} already indexed")
        parts.append(f"{sum(len(r.unindexed) for r in results)} not indexed")
        text = f"{head}: {', '.join(parts)}"
        if failed:
            text += f"; {count(failed, 'file')} could not be read"
        self.ended(text + ".")


class _CountItem(QTableWidgetItem):
    """A number cell that sorts as a number."""

    def __init__(self, n: int, text: str):
        super().__init__(text)
        self.n = n

    def __lt__(self, other) -> bool:
        return self.n < other.n if isinstance(other, _CountItem) else super().__lt__(other)


def _cells(r) -> list[QTableWidgetItem]:
    reasons = Counter(reason for face in r.unindexed for reason in face)
    unindexed = f"{len(r.unindexed)}" + (f" ({', '.join(f'{k} x{v}' for k, v in sorted(reasons.items()))})"
                                         if reasons else "")
    name = QTableWidgetItem(Path(r.path).name)
    name.setToolTip(r.path)
    indexed = _CountItem(r.indexed, str(r.indexed))
    not_indexed = _CountItem(len(r.unindexed), unindexed)
    not_indexed.setToolTip(unindexed)
    problem = QTableWidgetItem(r.error_message or "" if r.error_code else "")
    problem.setToolTip(r.error or "")
    return [name, indexed, not_indexed, problem]
