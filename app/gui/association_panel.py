"""The drop preview: what associating these faces with this user would do, before it is done.

Per face: would associate / would move / would fail, the reasons, and the match confidence
against the threshold. The threshold (default 75) is remembered in QSettings. Accepting yields
an AssociationPlan for the worker; the window opens the dialog without blocking.

On a backend without a dry run (a remote endpoint) the dialog says so, shows only what ListFaces
tells (missing faces, faces of other users, the cap), and still lets the operator confirm.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel,
                               QTableWidgetItem, QVBoxLayout)

from app.core.association_plan import DEFAULT_USER_MATCH_THRESHOLD, MAX_FACES_PER_USER
from app.core.capabilities import ASSOCIATION_PREVIEW, capabilities_of

from . import association_preview as ap
from .curation_jobs import AssociationPlan
from .settings import KEY_THRESHOLD, app_settings, read_float
from .tables import fill_table, make_table
from .workers import Task

OUTCOME_TEXT = {ap.ASSOCIATE: "Would associate", ap.MOVE: "Would move here", ap.FAIL: "Would not associate",
                ap.ALREADY: "Already on this user", ap.UNCHECKED: "Will be sent (no preview)"}
NO_PREVIEW_NOTE = "Preview not available on a remote endpoint; the result will show what happened."
COLUMNS = ["Face", "Outcome", "Reasons", "Confidence", "Owner"]


def remembered_threshold() -> float:
    return read_float(app_settings(), KEY_THRESHOLD, DEFAULT_USER_MATCH_THRESHOLD)


class AssociationPreviewDialog(QDialog):
    def __init__(self, engine, collection_id: str, user_id: str, face_ids, thumbnails=None, parent=None, tasks=None):
        """`tasks` (the window's TaskList) runs the first-batch check in the background; without it, inline."""
        super().__init__(parent)
        self._tasks = tasks
        self.setObjectName("associationPreview")
        self.setWindowTitle(f"Associate faces with {user_id}")
        self.engine = engine
        self.collection_id = collection_id
        self.user_id = user_id
        self.face_ids = list(dict.fromkeys(face_ids))
        self._thumbnails = thumbnails
        self.rows: list[ap.PreviewRow] = []
        self.checked = ASSOCIATION_PREVIEW in capabilities_of(engine)  # False: no dry run, ownership only
        # ownership does not depend on the threshold: read once
        self._ownership = None if self.checked else ap.ownership_preview(engine, collection_id, user_id, self.face_ids)
        self.user_face_count = len(engine.list_faces(CollectionId=collection_id, UserId=user_id,
                                                     MaxResults=MAX_FACES_PER_USER)["Faces"])

        self.header = QLabel(f"Associate {len(self.face_ids)} face(s) with <b>{user_id}</b>, who has "
                             f"{self.user_face_count} / {MAX_FACES_PER_USER} faces.")
        self.note = QLabel(NO_PREVIEW_NOTE)
        self.note.setObjectName("previewNote")
        self.note.setWordWrap(True)
        self.note.setVisible(not self.checked)
        self.warning = QLabel()
        self.warning.setObjectName("previewWarning")
        self.warning.setWordWrap(True)
        self.warning.setVisible(False)
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("thresholdSpin")
        self.threshold.setRange(0.0, 100.0)
        self.threshold.setDecimals(1)
        self.threshold.setSingleStep(1.0)
        self.threshold.setValue(remembered_threshold())
        self.threshold.setAccessibleName("User match threshold")
        self.move_faces = QCheckBox("Move faces that belong to other users (take them off their user first)")
        self.move_faces.setObjectName("moveFaces")
        self.move_faces.setChecked(True)
        self.table = make_table("previewTable", COLUMNS, "What each face would do")
        self.summary = QLabel()
        self.summary.setObjectName("previewSummary")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("Associate", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Match threshold:", self.threshold)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.note)
        layout.addWidget(self.warning)
        layout.addLayout(form)
        layout.addWidget(self.move_faces)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)
        self.resize(720, 460)

        self.threshold.valueChanged.connect(self._on_threshold_changed)
        self.move_faces.toggled.connect(self._on_move_toggled)
        self.refresh()

    @Slot(float)
    def _on_threshold_changed(self, _value: float) -> None:
        self.refresh()

    @Slot(bool)
    def _on_move_toggled(self, _checked: bool) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Ask the engine again (the dry run is cheap) and redraw the table."""
        threshold = self.threshold.value()
        if self.checked:
            preview = self.engine.preview_association(self.collection_id, self.user_id, self.face_ids, threshold)
        else:
            preview = self._ownership
        base = ap.preview_rows(self.face_ids, preview, self.user_face_count, move=False, checked=self.checked)
        self.move_faces.setVisible(any(r.movable for r in base))
        self.rows = ap.preview_rows(self.face_ids, preview, self.user_face_count, move=self.move_faces.isChecked(),
                                    checked=self.checked)
        table_rows = []
        for row in self.rows:
            face = QTableWidgetItem(row.face_id)
            face.setData(Qt.ItemDataRole.UserRole, row.face_id)
            pixmap = self._thumbnails.pixmap(self.collection_id, row.face_id) if self._thumbnails else None
            if pixmap is not None:
                face.setIcon(QIcon(pixmap))
            outcome = OUTCOME_TEXT[row.outcome]
            if row.outcome == ap.MOVE:
                outcome = f"Would move here from {row.owner}"
            confidence = ""
            if row.confidence is not None:
                sign = ">=" if row.confidence >= threshold else "<"
                confidence = f"{row.confidence:.1f} {sign} {threshold:.1f}"
            table_rows.append([face, outcome, ", ".join(row.reasons), confidence, row.owner or ""])
        fill_table(self.table, table_rows)
        self.summary.setText(ap.summary(self.rows) + ".")
        self.ok.setEnabled(any(r.outcome in (ap.ASSOCIATE, ap.MOVE, ap.UNCHECKED) for r in self.rows))
        self._update_warning(threshold)

    def _update_warning(self, threshold: float) -> None:
        """A user's first batch is not checked by the engine: warn when its faces do not look alike."""
        candidates = [r.face_id for r in self.rows if r.outcome in (ap.ASSOCIATE, ap.MOVE, ap.UNCHECKED)]
        if self.user_face_count != 0 or len(candidates) < 2:
            self._show_outliers([])
            return
        if self._tasks is None:
            self._show_outliers(ap.first_batch_outliers(self.engine, self.collection_id, candidates, threshold))
            return
        # one SearchFaces per face: in the background, so the dialog opens at once
        self.warning.setText("Checking whether these faces look alike…")
        self.warning.setVisible(True)
        task = Task(partial(ap.first_batch_outliers, self.engine, self.collection_id, candidates, threshold),
                    "Checking the first batch", threshold, self._tasks)
        task.succeeded.connect(self._on_outliers)
        task.failed.connect(self._on_outliers_failed)
        self._tasks.start(task)

    @Slot(object)
    def _on_outliers(self, outliers) -> None:
        if self.sender().context == self.threshold.value():  # else a newer check is on its way
            self._show_outliers(outliers)

    @Slot(object)
    def _on_outliers_failed(self, exc) -> None:
        self.warning.setText(f"Could not check whether these faces look alike: {exc}")
        self.warning.setVisible(True)

    def _show_outliers(self, outliers: list[str]) -> None:
        text = ""
        if outliers:
            text = (f"{self.user_id} has no faces yet, so this first batch is accepted without a match check. "
                    f"{len(outliers)} of these faces match fewer than half of the others at this threshold "
                    f"and may be someone else: {', '.join(f[:8] for f in outliers)}.")
        self.warning.setText(text)
        self.warning.setVisible(bool(text))

    def plan(self) -> AssociationPlan:
        return AssociationPlan(self.collection_id, self.user_id, tuple(self.face_ids), float(self.threshold.value()),
                               ap.planned_moves(self.rows))

    def accept(self) -> None:
        settings = app_settings()
        settings.setValue(KEY_THRESHOLD, float(self.threshold.value()))
        settings.sync()
        super().accept()
