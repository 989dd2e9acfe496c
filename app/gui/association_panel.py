"""The drop preview: what associating these faces with this user would do, before it is done.

Per face: would associate / would move / would fail, the reasons, and the match confidence
against the threshold, all from the backend's PlanAssociation, which runs in the background (the
first plan before the dialog opens, a new one per threshold or move change; a stale one is
dropped). The threshold (default 75) is remembered in QSettings. Accepting yields an
AssociationRequest for the worker.

On a remote endpoint the plan cannot check matches (MatchChecked false): the dialog says so and
still lets the operator confirm.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.core.association_plan import DEFAULT_USER_MATCH_THRESHOLD

from . import association_preview as ap
from .settings import KEY_THRESHOLD, app_settings, read_float
from .tables import fill_table, make_table

OUTCOME_TEXT = {ap.ASSOCIATE: "Would associate", ap.MOVE: "Would move here", ap.FAIL: "Would not associate",
                ap.ALREADY: "Already on this user", ap.UNCHECKED: "Will be sent (no preview)"}
NO_PREVIEW_NOTE = "Preview not available on a remote endpoint; the result will show what happened."
COLUMNS = ["Face", "Outcome", "Reasons", "Confidence", "Owner"]


def remembered_threshold() -> float:
    return read_float(app_settings(), KEY_THRESHOLD, DEFAULT_USER_MATCH_THRESHOLD)


class AssociationPreviewDialog(QDialog):
    def __init__(self, engine, runner, collection_id: str, user_id: str, face_ids, plan: dict, thumbnails=None,
                 parent=None):
        """`plan`: the PlanAssociation response for the remembered threshold, with moves (fetched by the caller)."""
        super().__init__(parent)
        self.setObjectName("associationPreview")
        self.setWindowTitle(f"Associate faces with {user_id}")
        self.engine = engine
        self.runner = runner
        self.collection_id = collection_id
        self.user_id = user_id
        self.face_ids = list(dict.fromkeys(face_ids))
        self._thumbnails = thumbnails
        self.rows: list[ap.PreviewRow] = []
        self.checked = bool(plan.get("MatchChecked", True))  # False: the endpoint decides matches
        self.user_face_count = int(plan["UserFaceCount"])
        self._outlier_key = f"outliers:{id(self)}"
        self._plan_key = f"plan:{id(self)}"

        self.header = QLabel(f"Associate {len(self.face_ids)} face(s) with <b>{user_id}</b>, who has "
                             f"{self.user_face_count} / {plan['FaceLimit']} faces.")
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
        self.threshold.setValue(float(plan["UserMatchThreshold"]))
        self.threshold.setAccessibleName("User match threshold")
        self.move_faces = QCheckBox("Move faces that belong to other users (take them off their user first)")
        self.move_faces.setObjectName("moveFaces")
        self.move_faces.setChecked(bool(plan["MoveFromOwners"]))
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
        self.show_plan(plan)

    @Slot(float)
    def _on_threshold_changed(self, _value: float) -> None:
        self.refresh()

    @Slot(bool)
    def _on_move_toggled(self, _checked: bool) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Ask for a new plan in the background; until it arrives, confirming waits for it."""
        self.ok.setEnabled(False)
        request = ap.plan_request(self.collection_id, self.user_id, self.face_ids, self.threshold.value(),
                                  self.move_faces.isChecked())
        self.runner.run("Previewing the association", partial(_plan, self.engine, request), self.show_plan,
                        self._on_plan_failed, key=self._plan_key, scope=self.collection_id, owner=self)

    @Slot(object)
    def _on_plan_failed(self, exc) -> None:
        self.summary.setText(f"Could not preview the association: {exc}")

    def show_plan(self, plan: dict) -> None:
        threshold = float(plan["UserMatchThreshold"])
        self.rows = ap.rows_from_plan(plan)
        self.move_faces.setVisible(ap.has_owned_faces(self.rows))
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
        # one SearchFaces per face: in the background, so the dialog opens at once
        self.warning.setText("Checking whether these faces look alike…")
        self.warning.setVisible(True)
        self.runner.run("Checking the first batch",
                        partial(ap.first_batch_outliers, self.engine, self.collection_id, candidates, threshold),
                        self._show_outliers, self._on_outliers_failed, key=self._outlier_key, scope=self.collection_id,
                        owner=self)

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

    def request(self) -> ap.AssociationRequest:
        return ap.AssociationRequest(self.collection_id, self.user_id, tuple(self.face_ids), float(self.threshold.value()),
                                     self.move_faces.isChecked())

    def accept(self) -> None:
        settings = app_settings()
        settings.setValue(KEY_THRESHOLD, float(self.threshold.value()))
        settings.sync()
        super().accept()


def _plan(engine, request: dict, worker=None) -> dict:
    return engine.plan_association(**request)
