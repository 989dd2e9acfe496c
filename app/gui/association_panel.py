"""The drop preview: what associating these faces with this user would do, before it is done.

Per face: its thumbnail and photo name, would associate / would move / would fail, the reasons in
plain words, and the match confidence against the threshold, all from the backend's
PlanAssociation, which runs in the background (the first plan before the dialog opens, a new one
per threshold, move or left-out change; a stale one is dropped). Accepting yields an
AssociationRequest for the worker.

The threshold starts from the default (75) for every preview, unless the operator ticked "keep
this threshold" once; a threshold below the default shows a warning badge for as long as it is
set. A face can be left out with its checkbox. Enter confirms, Esc cancels, Alt+A associates.

On a remote endpoint the plan cannot check matches (MatchChecked false): the dialog says so and
still lets the operator confirm.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.core.association_plan import DEFAULT_USER_MATCH_THRESHOLD

from . import association_preview as ap
from . import reason_text as words
from .face_items import CopyFaceIds, NameOf, face_item
from .settings import KEY_QUICK_CONFIRM, KEY_THRESHOLD, KEY_THRESHOLD_KEPT, app_settings, read_float
from .tables import fill_table, make_table

OUTCOME_TEXT = {ap.ASSOCIATE: "Would associate", ap.MOVE: "Would move here", ap.FAIL: "Would not associate",
                ap.ALREADY: "Already on this user", ap.UNCHECKED: "Will be sent (no preview)"}
LEFT_OUT = "Left out"
NO_PREVIEW_NOTE = "Preview not available on a remote endpoint; the result will show what happened."
COLUMNS = ["Face", "Outcome", "Why", "Confidence"]
WARNING_STYLE = "QLabel { background: #fff3cd; color: #664d03; border: 1px solid #e0b400; border-radius: 3px; padding: 3px; }"


def remembered_threshold() -> float:
    """The threshold last confirmed (the enrollment panel starts from it too)."""
    return read_float(app_settings(), KEY_THRESHOLD, DEFAULT_USER_MATCH_THRESHOLD)


def threshold_kept() -> bool:
    return str(app_settings().value(KEY_THRESHOLD_KEPT, "false")).lower() == "true"


def preview_threshold() -> float:
    """Where a preview starts: the default, unless the operator kept another threshold on purpose."""
    return remembered_threshold() if threshold_kept() else DEFAULT_USER_MATCH_THRESHOLD


def quick_confirm_chosen() -> bool:
    """The operator chose a one-line confirmation instead of the preview for number keys."""
    return str(app_settings().value(KEY_QUICK_CONFIRM, "false")).lower() == "true"


def below_default_text(threshold: float) -> str:
    return (f"⚠ Threshold {words.number(threshold)} is below the default {words.number(DEFAULT_USER_MATCH_THRESHOLD)}: "
            "faces of other people can pass.")


class AssociationPreviewDialog(QDialog):
    def __init__(self, engine, runner, collection_id: str, user_id: str, face_ids, plan: dict, thumbnails=None,
                 parent=None, names: NameOf | None = None, from_number_key: bool = False):
        """`plan`: the PlanAssociation response for the starting threshold, with moves (fetched by the caller)."""
        super().__init__(parent)
        self.setObjectName("associationPreview")
        self.setWindowTitle(f"Associate faces with {user_id}")
        self.engine = engine
        self.runner = runner
        self.collection_id = collection_id
        self.user_id = user_id
        self.face_ids = list(dict.fromkeys(face_ids))
        self.left_out: set[str] = set()
        self.outliers: set[str] = set()
        self._thumbnails = thumbnails
        self._names = names or (lambda _fid: None)
        self.rows: list[ap.PreviewRow] = []
        self.checked = bool(plan.get("MatchChecked", True))  # False: the endpoint decides matches
        self.user_face_count = int(plan["UserFaceCount"])
        self._face_limit = int(plan["FaceLimit"])
        self._plan_threshold = float(plan["UserMatchThreshold"])
        self._outlier_key = f"outliers:{id(self)}"
        self._plan_key = f"plan:{id(self)}"

        self.header = QLabel(f"Associate {words.count(len(self.face_ids), 'face')} with <b>{user_id}</b>, who has "
                             f"{self.user_face_count} of {plan['FaceLimit']} faces.")
        self.note = QLabel(NO_PREVIEW_NOTE)
        self.note.setObjectName("previewNote")
        self.note.setWordWrap(True)
        self.note.setVisible(not self.checked)
        self.warning = QLabel()
        self.warning.setObjectName("previewWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(WARNING_STYLE)
        self.warning.setVisible(False)
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("thresholdSpin")
        self.threshold.setRange(0.0, 100.0)
        self.threshold.setDecimals(1)
        self.threshold.setSingleStep(1.0)
        self.threshold.setValue(self._plan_threshold)
        self.threshold.setAccessibleName("User match threshold")
        threshold_label = QLabel("Match &threshold:")
        threshold_label.setBuddy(self.threshold)
        self.keep_threshold = QCheckBox("&Keep for later previews")
        self.keep_threshold.setObjectName("keepThreshold")
        self.keep_threshold.setToolTip(f"Unticked, every preview starts from the default "
                                       f"{words.number(DEFAULT_USER_MATCH_THRESHOLD)}.")
        self.keep_threshold.setChecked(threshold_kept())
        self.badge = QLabel()
        self.badge.setObjectName("thresholdBadge")
        self.badge.setStyleSheet(WARNING_STYLE)
        self.badge.setAccessibleName("Threshold warning")
        self.move_faces = QCheckBox("&Move faces that belong to other users (take them off their user first)")
        self.move_faces.setObjectName("moveFaces")
        self.move_faces.setChecked(bool(plan["MoveFromOwners"]))
        self.table = make_table("previewTable", COLUMNS, "What each face would do; untick a face to leave it out")
        self.table.setTabKeyNavigation(False)  # Tab leaves the table for the buttons
        self.table.setIconSize(QSize(40, 40))
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        CopyFaceIds(self.table)
        self.summary = QLabel()
        self.summary.setObjectName("previewSummary")
        self.quick_choice = QCheckBox("For number keys, &ask in one line instead of this preview next time")
        self.quick_choice.setObjectName("quickConfirmChoice")
        self.quick_choice.setChecked(quick_confirm_chosen())
        self.quick_choice.setVisible(from_number_key)
        self.from_number_key = from_number_key
        self.buttons = QDialogButtonBox()
        self.ok = self.buttons.addButton("&Associate", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("associateButton")
        self.cancel: QPushButton = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel.setObjectName("cancelButton")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        bar = QHBoxLayout()
        bar.addWidget(threshold_label)
        bar.addWidget(self.threshold)
        bar.addWidget(self.keep_threshold)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.note)
        layout.addLayout(bar)
        layout.addWidget(self.badge)
        layout.addWidget(self.warning)
        layout.addWidget(self.move_faces)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addWidget(self.quick_choice)
        layout.addWidget(self.buttons)
        # only now, with the buttons in the dialog: Enter presses Associate, never Cancel
        for button in (self.ok, self.cancel):
            button.setAutoDefault(False)
        self.ok.setDefault(True)
        self.setTabOrder(self.threshold, self.keep_threshold)
        self.setTabOrder(self.keep_threshold, self.move_faces)
        self.setTabOrder(self.move_faces, self.table)
        self.setTabOrder(self.table, self.quick_choice)
        self.setTabOrder(self.quick_choice, self.ok)
        self.setTabOrder(self.ok, self.cancel)
        self.resize(760, 480)

        self.threshold.valueChanged.connect(self._on_threshold_changed)
        self.move_faces.toggled.connect(self._on_move_toggled)
        self.table.itemChanged.connect(self._on_item_changed)
        self._update_badge()
        self.show_plan(plan)
        self.table.setFocus()

    @Slot(float)
    def _on_threshold_changed(self, _value: float) -> None:
        self._update_badge()
        self.refresh()

    @Slot(bool)
    def _on_move_toggled(self, _checked: bool) -> None:
        self.refresh()

    @Slot(QTableWidgetItem)
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        fid = item.data(Qt.ItemDataRole.UserRole)
        leave_out = item.checkState() != Qt.CheckState.Checked
        if leave_out == (fid in self.left_out):
            return
        if leave_out:
            self.left_out.add(fid)
        else:
            self.left_out.discard(fid)
        self.refresh()

    def _update_badge(self) -> None:
        value = float(self.threshold.value())
        below = value < DEFAULT_USER_MATCH_THRESHOLD
        self.badge.setText(below_default_text(value) if below else "")
        self.badge.setVisible(below)

    def included(self) -> list[str]:
        return [f for f in self.face_ids if f not in self.left_out]

    def refresh(self) -> None:
        """Ask for a new plan in the background; until it arrives, confirming waits for it."""
        self.ok.setEnabled(False)
        included = self.included()
        if not included:
            self._show_rows([], float(self.threshold.value()))
            return
        request = ap.plan_request(self.collection_id, self.user_id, included, self.threshold.value(),
                                  self.move_faces.isChecked())
        self.runner.run("Previewing the association", partial(ap.plan_job, self.engine, request), self.show_plan,
                        self._on_plan_failed, key=self._plan_key, scope=self.collection_id, owner=self)

    @Slot(object)
    def _on_plan_failed(self, exc) -> None:
        self.summary.setText(f"Could not preview the association: {exc}")

    def show_plan(self, plan: dict) -> None:
        self._plan_threshold = float(plan["UserMatchThreshold"])
        self._show_rows(ap.rows_from_plan(plan), self._plan_threshold)

    def _show_rows(self, rows: list[ap.PreviewRow], threshold: float) -> None:
        self.rows = [r for r in rows if r.face_id not in self.left_out]
        by_face = {r.face_id: r for r in self.rows}
        self.move_faces.setVisible(ap.has_owned_faces(self.rows))
        table_rows = []
        for fid in self.face_ids:
            row = by_face.get(fid)
            table_rows.append(self._cells(fid, row, threshold))
        self.table.blockSignals(True)
        try:
            fill_table(self.table, table_rows, fit=False)
            for col in (0, 1, 3):  # Why takes the rest of the width
                self.table.resizeColumnToContents(col)
        finally:
            self.table.blockSignals(False)
        n_out = len(self.left_out)
        text = ap.summary(self.rows) if self.rows else "Every face is left out"
        self.summary.setText(text + (f"; {n_out} left out" if n_out and self.rows else "") + ".")
        self.ok.setEnabled(any(r.outcome in (ap.ASSOCIATE, ap.MOVE, ap.UNCHECKED) for r in self.rows))
        self._update_warning(threshold)

    def _cells(self, fid: str, row: ap.PreviewRow | None, threshold: float) -> list:
        pixmap = self._thumbnails.pixmap(self.collection_id, fid) if self._thumbnails else None
        codes = row.reasons if row is not None else []
        face = face_item(fid, self._names(fid), pixmap, words.codes_tooltip(codes))
        face.setFlags(face.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        face.setCheckState(Qt.CheckState.Unchecked if fid in self.left_out else Qt.CheckState.Checked)
        if row is None:
            return [face, LEFT_OUT, "", ""]
        outcome = OUTCOME_TEXT[row.outcome]
        if row.outcome == ap.MOVE:
            outcome = f"Would move here from {row.owner}"
        why = words.reasons(row.reasons, user_id=self.user_id, owner=row.owner, confidence=row.confidence,
                            threshold=threshold, face_limit=self._face_limit)
        if row.owner and row.outcome == ap.FAIL and ap.DIFFERENT_USER not in row.reasons:
            why = "; ".join(t for t in (why, f"on {row.owner} now") if t)
        if fid in self.outliers:
            why = "; ".join(t for t in (why, "⚠ may be someone else (unlike the rest of this batch)") if t)
        why_item = QTableWidgetItem(why)
        why_item.setToolTip(words.codes_tooltip(codes))
        confidence = words.compare(row.confidence, threshold) if row.confidence is not None else ""
        return [face, outcome, why_item, confidence]

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
            names = ", ".join(words.face_label(self._names(f), f) for f in outliers)
            text = (f"⚠ {self.user_id} has no faces yet, so this first batch is accepted without a match check. "
                    f"{len(outliers)} of these faces {'matches' if len(outliers) == 1 else 'match'} fewer than half of "
                    f"the others and may be someone else: {names}. Untick {'it' if len(outliers) == 1 else 'them'} "
                    f"to leave {'it' if len(outliers) == 1 else 'them'} out.")
        self.warning.setText(text)
        self.warning.setVisible(bool(text))
        if set(outliers) != self.outliers:
            self.outliers = set(outliers)
            by_face = {x.face_id: x for x in self.rows}
            self.table.blockSignals(True)
            for r, fid in enumerate(self.face_ids):  # the table lists the faces in this order
                row = by_face.get(fid)
                if row is not None and r < self.table.rowCount():
                    self.table.setItem(r, 2, self._cells(fid, row, self._plan_threshold)[2])
            self.table.blockSignals(False)

    def request(self) -> ap.AssociationRequest:
        return ap.AssociationRequest(self.collection_id, self.user_id, tuple(self.included()),
                                     float(self.threshold.value()), self.move_faces.isChecked())

    def accept(self) -> None:
        settings = app_settings()
        settings.setValue(KEY_THRESHOLD, float(self.threshold.value()))
        settings.setValue(KEY_THRESHOLD_KEPT, self.keep_threshold.isChecked())
        if self.from_number_key:
            settings.setValue(KEY_QUICK_CONFIRM, self.quick_choice.isChecked())
        settings.sync()
        super().accept()
