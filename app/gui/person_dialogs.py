"""The dialogs of the people actions: rename a person, split faces into a new person, "Is this <name>?".

No backend call here: people_actions.py runs them through the window's runner. The display name is
checked with the engine's own rule (app.core.people.check_display_name, no I/O), the new UserId
with the engine's request validation (name_dialog.name_problem), as the name-a-group dialog does.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.association_plan import MAX_FACES_PER_USER
from app.core.errors import InvalidParameterException
from app.core.people import check_display_name

from .face_strip import FaceStrip, NameOf
from .people_panel import NameGroupDialog
from .reason_text import count

ERROR_STYLE = "QLabel { color: #b3261e; }"


def display_name_problem(text: str) -> str:
    """Why `text` cannot be a display name, in plain words; "" when it can (the engine's rule)."""
    if not text.strip():
        return "Type the person's name."
    try:
        check_display_name(text)
    except InvalidParameterException as exc:
        return "No control or line-break characters." if "control" in str(exc) else \
            "A name has 1 to 200 characters."
    return ""


def cover_label(pixmap: QPixmap | None, tooltip: str) -> QLabel:
    label = QLabel()
    label.setObjectName("personCover")
    label.setFixedSize(72, 72)
    label.setScaledContents(True)
    if pixmap is not None:
        label.setPixmap(pixmap)
    label.setToolTip(tooltip)
    return label


class RenameDialog(QDialog):
    """A person's display name (the UserId never changes; it is in the tooltip)."""

    def __init__(self, user_id: str, name: str, face_count: int | None, cover: QPixmap | None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("renameDialog")
        self.setWindowTitle("Rename person")
        self.old_name = name
        shown = name or user_id
        faces = f" · {face_count}/{MAX_FACES_PER_USER} faces" if face_count is not None else ""
        head = QHBoxLayout()
        head.addWidget(cover_label(cover, f"User id: {user_id}"))
        title = QLabel(f"<b>{escape(shown)}</b>{faces}<br>The new name is shown everywhere; the user id stays.")
        title.setToolTip(f"User id: {user_id}")
        title.setWordWrap(True)
        head.addWidget(title, 1)
        self.name_edit = QLineEdit(name)
        self.name_edit.setObjectName("displayNameEdit")
        self.name_edit.setAccessibleName("New display name")
        self.name_edit.selectAll()
        self.problem = QLabel()
        self.problem.setObjectName("nameProblem")
        self.problem.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("&Rename")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("&Display name:", self.name_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._check)
        self._check(name)

    def _check(self, text: str) -> None:
        problem = display_name_problem(text)
        self.problem.setText(problem if text else "")
        self.ok.setEnabled(not problem and text.strip() != self.old_name)

    def display_name(self) -> str:
        return self.name_edit.text().strip()

    def accept(self) -> None:
        if self.ok.isEnabled():
            super().accept()


class SplitDialog(NameGroupDialog):
    """The faces that leave `person` (thumbnails), a display name and the proposed UserId of the new
    person, checked as typed; an existing UserId is refused (a split always makes a new person)."""

    def __init__(self, collection_id: str, face_ids: list[str], person: str, existing=(), thumbnails=None,
                 names: NameOf | None = None, parent: QWidget | None = None):
        super().__init__(len(face_ids), existing, parent)
        self.setObjectName("splitDialog")
        self.setWindowTitle("Split into a new person")
        self.intro.setText(f"{count(len(face_ids), 'face')} leave {person} for a new person:")
        self.faces = FaceStrip(thumbnails, names, 56)
        self.faces.setObjectName("splitFaces")
        self.faces.setAccessibleName("Faces that go to the new person")
        self.faces.set_faces(collection_id, [(f, f"leaves {person}") for f in face_ids])
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(1, self.faces)
        self.ok.setText("&Split")
        self.problem.setStyleSheet(ERROR_STYLE)
        self._check()

    def _check(self) -> None:
        super()._check()
        user_id = self.id_edit.text().strip()
        name = self.name_edit.text().strip()
        problem = display_name_problem(name) if name else ""
        if user_id and user_id in self.existing:
            problem = f"There is already a user called {user_id}: a split makes a new person."
        if problem:
            self.problem.setText(problem)
            self.ok.setEnabled(False)


class GroupGuessBar(QWidget):
    """ "Is this Ann Lee? 91" under the cards, for the selected unknown group (SuggestUsers' best guess
    not yet rejected). `answered(True)` names the group as that person; `answered(False)` hides the guess."""

    answered = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("groupGuess")
        self.cover = QLabel()
        self.cover.setFixedSize(40, 40)
        self.cover.setScaledContents(True)
        self.text = QLabel()
        self.text.setObjectName("groupGuessText")
        self.text.setWordWrap(True)
        self.yes = QPushButton("It &is")
        self.yes.setObjectName("acceptGuess")
        self.no = QPushButton("Not &them")
        self.no.setObjectName("rejectGuess")
        self.yes.clicked.connect(lambda: self.answered.emit(True))
        self.no.clicked.connect(lambda: self.answered.emit(False))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.cover)
        row.addWidget(self.text, 1)
        row.addWidget(self.yes)
        row.addWidget(self.no)
        self.guess: dict | None = None
        self.show_guess(None)

    def show_guess(self, guess: dict | None, name: str = "", cover: QPixmap | None = None) -> None:
        """`guess`: one SuggestUsers entry (UserId, Confidence...), `name` its display name; None hides the bar."""
        self.guess = guess
        self.setVisible(guess is not None)
        if guess is None:
            return
        score = f"{float(guess['Confidence']):.0f}"
        self.text.setText(f"Is this <b>{escape(name)}</b>? {score}")
        self.text.setToolTip(f"Y: it is, N: not them (on the group's card). The group's faces against "
                             f"{guess['UserId']}'s: {score} (SuggestUsers)")
        self.setAccessibleName(f"Is this {name}? {score}")
        self.cover.setPixmap(cover if cover is not None else QPixmap())
        self.cover.setVisible(cover is not None)

    def set_cover(self, cover: QPixmap) -> None:
        self.cover.setPixmap(cover)
        self.cover.setVisible(True)
