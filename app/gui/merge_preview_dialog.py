"""The merge preview: which person is kept, and which faces come over or stay out, as crops and names.

What it shows is the engine's own answer, PlanMerge: the very decision MergeUsers then makes (the
sources' faces in MergeUsers' order, the 100-face cap, and the match threshold when the curator asks
for one), so the preview is the outcome by construction; the window never re-derives the rule. The
dialog asks for a new plan (`plan_wanted`) whenever the survivor or the threshold choice changes;
people_actions.py runs it in the background and hands it to `show_plan`. UserIds appear only in
tooltips.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.core.association_plan import DEFAULT_USER_MATCH_THRESHOLD, MAX_FACES_PER_USER, USER_FACE_LIMIT_EXCEEDED

from . import reason_text as words
from .face_strip import FaceStrip, NameOf
from .person_dialogs import cover_label


@dataclass(frozen=True)
class PersonInfo:
    user_id: str
    name: str  # the display name ("" when the person has none)
    face_count: int | None
    cover_face_id: str | None = None

    @property
    def shown(self) -> str:
        return self.name or self.user_id


def joined(names: list[str]) -> str:
    """ "Ann", "Ann and Bo", "Ann, Bo and Cy"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


class MergePreviewDialog(QDialog):
    plan_wanted = Signal()

    def __init__(self, collection_id: str, people: list[PersonInfo], survivor: str, thumbnails=None,
                 names: NameOf | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("mergePreview")
        self.setWindowTitle("Merge people")
        self.collection_id = collection_id
        self.people = {p.user_id: p for p in people}
        self.order = [p.user_id for p in people]
        self.thumbnails = thumbnails
        self.plan: dict | None = None
        self.survivor_choice = QComboBox()
        self.survivor_choice.setObjectName("survivorChoice")
        self.survivor_choice.setAccessibleName("The person to keep")
        for p in people:
            faces = f" · {p.face_count}/{MAX_FACES_PER_USER}" if p.face_count is not None else ""
            self.survivor_choice.addItem(f"{p.shown}{faces}", p.user_id)
            self.survivor_choice.setItemData(self.survivor_choice.count() - 1, f"User id: {p.user_id}",
                                             Qt.ItemDataRole.ToolTipRole)
        self.survivor_choice.setCurrentIndex(max(0, self.order.index(survivor)) if survivor in self.order else 0)
        keep = QLabel("&Keep:")
        keep.setBuddy(self.survivor_choice)
        self.cover = cover_label(None, "")
        self.survivor_text = QLabel()
        self.survivor_text.setObjectName("survivorText")
        self.survivor_text.setWordWrap(True)
        self.match_only = QCheckBox()
        self.match_only.setObjectName("mergeThreshold")
        self.summary = QLabel("Reading what the merge would do…")
        self.summary.setObjectName("mergeSummary")
        self.summary.setWordWrap(True)
        self.incoming_title = QLabel()
        self.incoming = FaceStrip(thumbnails, names, 56, wrap=True)
        self.incoming.setObjectName("mergeIncoming")
        self.incoming.setAccessibleName("Faces that come over")
        self.incoming_title.setBuddy(self.incoming)
        self.kept_out_title = QLabel()
        self.kept_out = FaceStrip(thumbnails, names, 56, wrap=True)
        self.kept_out.setObjectName("mergeKeptOut")
        self.kept_out.setAccessibleName("Faces that stay out")
        self.kept_out_title.setBuddy(self.kept_out)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("&Merge")
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        chooser = QHBoxLayout()
        chooser.addWidget(keep)
        chooser.addWidget(self.survivor_choice, 1)
        head = QHBoxLayout()
        head.addWidget(self.cover)
        head.addWidget(self.survivor_text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(chooser)
        layout.addLayout(head)
        layout.addWidget(self.match_only)
        layout.addWidget(self.summary)
        layout.addWidget(self.incoming_title)
        layout.addWidget(self.incoming, 2)
        layout.addWidget(self.kept_out_title)
        layout.addWidget(self.kept_out, 1)
        layout.addWidget(self.buttons)
        self.resize(760, 600)
        self.survivor_choice.currentIndexChanged.connect(self._choice_changed)
        self.match_only.toggled.connect(self._choice_changed)
        if thumbnails is not None:
            thumbnails.ready.connect(self._on_thumbnails)
        self._show_survivor()

    # -- what the curator chose --------------------------------------------------------------------
    def survivor(self) -> str:
        return str(self.survivor_choice.currentData())

    def sources(self) -> list[str]:
        return [uid for uid in self.order if uid != self.survivor()]

    def threshold(self) -> float | None:
        return DEFAULT_USER_MATCH_THRESHOLD if self.match_only.isChecked() else None

    def name(self, user_id: str | None) -> str:
        p = self.people.get(user_id or "")
        return p.shown if p else (user_id or "")

    @Slot()
    def _choice_changed(self, *_args) -> None:
        self.plan = None
        self.ok.setEnabled(False)
        self.summary.setText("Reading what the merge would do…")
        self._show_survivor()
        self.plan_wanted.emit()

    def _show_survivor(self) -> None:
        p = self.people[self.survivor()]
        self.match_only.setText(f"Only faces that look like {p.shown} "
                                f"({words.number(DEFAULT_USER_MATCH_THRESHOLD)} or more)")
        faces = f"{p.face_count}/{MAX_FACES_PER_USER} faces" if p.face_count is not None else "faces not counted"
        self.survivor_text.setText(f"<b>{escape(p.shown)}</b> is kept ({faces}); "
                                   f"{escape(joined([self.name(s) for s in self.sources()]))} "
                                   f"{'joins' if len(self.sources()) == 1 else 'join'} them.")
        tip = f"User id: {p.user_id}"
        self.survivor_text.setToolTip(tip)
        self.cover.setToolTip(tip)
        self._show_cover()

    def _show_cover(self) -> None:
        p = self.people[self.survivor()]
        pixmap = None
        if self.thumbnails is not None and p.cover_face_id:
            pixmap = self.thumbnails.pixmap(self.collection_id, p.cover_face_id)
        if pixmap is not None:
            self.cover.setPixmap(pixmap)
        else:
            self.cover.clear()
        self.cover.setVisible(p.cover_face_id is not None)

    @Slot(str, object)
    def _on_thumbnails(self, collection_id: str, face_ids) -> None:
        p = self.people[self.survivor()]
        if collection_id == self.collection_id and p.cover_face_id in set(face_ids):
            self._show_cover()

    # -- the engine's answer -----------------------------------------------------------------------
    def show_plan(self, survivor: str, threshold: float | None, plan: dict, cover: str | None = None) -> None:
        """The engine's PlanMerge for this choice; `cover`: the face to show for the survivor (its cover, or
        its first face when it has none)."""
        if survivor != self.survivor() or threshold != self.threshold():
            return  # an answer to an earlier choice
        self.plan = plan
        if cover is not None and cover != self.people[survivor].cover_face_id:
            self.people[survivor] = replace(self.people[survivor], cover_face_id=cover)
            self._show_cover()
        target = self.name(survivor)
        incoming, kept_out = [], []
        full = 0  # kept out by the cap alone (the rest do not look like the survivor, room or not)
        for f in plan["Faces"]:
            source = self.name(f.get("OwnerUserId"))
            if f["Outcome"] in ("MOVE", "ASSOCIATE"):
                score = f" ({words.number(f['Confidence'])} against {target})" if f.get("Confidence") is not None else ""
                incoming.append((f["FaceId"], f"comes over from {source}{score}"))
            elif f["Outcome"] == "FAIL":
                why = words.reasons(f.get("Reasons", []), user_id=target, confidence=f.get("Confidence"),
                                    threshold=threshold, face_limit=int(plan.get("FaceLimit", MAX_FACES_PER_USER)))
                kept_out.append((f["FaceId"], f"stays on {source}: {why}\n{words.codes_tooltip(f.get('Reasons', []))}"))
                full += f.get("Reasons", []) == [USER_FACE_LIMIT_EXCEEDED]
        self.incoming.set_faces(self.collection_id, incoming)
        self.kept_out.set_faces(self.collection_id, kept_out)
        self.incoming_title.setText(f"Come over ({len(incoming)})")
        self.kept_out_title.setText(f"Stay out ({len(kept_out)})")
        self.kept_out_title.setVisible(bool(kept_out))
        self.kept_out.setVisible(bool(kept_out))
        self.summary.setText(self._summary(plan, target, len(incoming), len(kept_out), full))
        self.ok.setEnabled(bool(incoming) or bool(plan.get("DeletedUserIds")))

    def _summary(self, plan: dict, target: str, n_in: int, n_out: int, full: int) -> str:
        after = int(plan.get("UserFaceCountAfter", plan.get("UserFaceCount", 0)))
        parts = [f"{target} will have {after}/{MAX_FACES_PER_USER} faces: {n_in} come over."]
        if n_out:
            why = []
            if full:
                why.append(f"{full} by the {MAX_FACES_PER_USER}-face cap")
            if n_out > full:
                why.append(f"{n_out - full} by the match threshold")
            stay = "stays where it is" if n_out == 1 else "stay where they are"
            parts.append(f"{words.count(n_out, 'face')} {stay} ({', '.join(why)}).")
        removed = [self.name(u) for u in plan.get("DeletedUserIds", [])]
        kept = [self.name(u) for u in self.sources() if u not in plan.get("DeletedUserIds", [])]
        if removed:
            parts.append(f"{joined(removed)} will be removed (empty).")
        if kept:
            parts.append(f"{joined(kept)} {'keeps' if len(kept) == 1 else 'keep'} the faces that stay.")
        return " ".join(parts)

    def plan_failed(self, text: str) -> None:
        self.plan = None
        self.ok.setEnabled(False)
        self.summary.setText(text)

    def accept(self) -> None:
        if self.ok.isEnabled() and self.plan is not None:
            super().accept()
