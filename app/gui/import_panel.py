"""Photo import progress and its per-file results (faces indexed, faces not indexed and why)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QTableWidgetItem, QVBoxLayout, QWidget

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

    def show_results(self, outcome) -> None:
        results = outcome.results
        rows = []
        for r in results:
            reasons = Counter(reason for face in r.unindexed for reason in face)
            unindexed = f"{len(r.unindexed)}" + (f" ({', '.join(f'{k} x{v}' for k, v in sorted(reasons.items()))})"
                                                 if reasons else "")
            cells = []
            for col, value in enumerate([Path(r.path).name, str(r.indexed), unindexed, r.error or ""]):
                item = QTableWidgetItem(value)
                item.setToolTip(r.path if col == 0 else value)
                cells.append(item)
            rows.append(cells)
        fill_table(self.table, rows)
        faces = sum(r.indexed for r in results)
        failed = sum(1 for r in results if r.error)
        head = (f"Import cancelled after {len(results)} of {outcome.total} file(s) (those stay imported)"
                if outcome.cancelled else f"Imported {len(results)} file(s)")
        self.ended(f"{head}: {faces} face(s) indexed, {sum(len(r.unindexed) for r in results)} not indexed, "
                   f"{failed} file(s) could not be read.")
