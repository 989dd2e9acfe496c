"""The new collection / new user prompt: checks the name as it is typed, in plain words.

The check is the engine's own request validation (app.core.validation, the AWS shapes: no I/O),
worded for the curator instead of showing the pattern; a name the pane already lists is refused
too. When the backend still refuses the name, the prompt comes back with the text kept and the
reason under it.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from app.core.validation import validate_request

# what each kind of name is, in words: (operation, request member, the characters it may hold)
KINDS = {
    "collection": ("CreateCollection", "CollectionId", "letters, digits and . _ -"),
    "user": ("CreateUser", "UserId", "letters, digits and . _ - :"),
}


def name_problem(kind: str, name: str, existing: frozenset[str] | set[str] = frozenset()) -> str:
    """Why `name` cannot be a new `kind` ('collection' or 'user'), in plain words; "" when it can."""
    operation, member, allowed = KINDS[kind]
    if not name:
        return f"Type a {kind} name."
    if name in existing:
        return f"There is already a {kind} called {name}."
    params = {member: name} if kind == "collection" else {"CollectionId": "c", member: name}
    try:
        validate_request(operation, params)
    except Exception as exc:  # the engine's message names a pattern or a length: say what it means
        text = str(exc)
        limit = re.search(r"length less than or equal to (\d+)", text)
        if limit:
            return f"At most {limit.group(1)} characters (this one has {len(name)})."
        return f"Use only {allowed} (no spaces or other signs)."
    return ""


class NameDialog(QDialog):
    def __init__(self, kind: str, title: str, existing=(), text: str = "", error: str = "",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("nameDialog")
        self.setWindowTitle(title)
        self.kind = kind
        self.existing = frozenset(existing)
        _operation, _member, allowed = KINDS[kind]
        label = QLabel(f"&Name of the new {kind} ({allowed}):")
        self.edit = QLineEdit(text)
        self.edit.setObjectName("nameEdit")
        self.edit.setAccessibleName(f"New {kind} name")
        label.setBuddy(self.edit)
        self.problem = QLabel(error)
        self.problem.setObjectName("nameProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("QLabel { color: #b3261e; }")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("&Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.edit)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.edit.textChanged.connect(self._check)
        self._check(text, keep=bool(error))

    @Slot(str)
    def _check(self, text: str, keep: bool = False) -> None:
        problem = name_problem(self.kind, text.strip(), self.existing)
        self.ok.setEnabled(not problem)
        if not keep:
            # an empty field is not an error yet: just wait for the name
            self.problem.setText(problem if text else "")

    def name(self) -> str:
        return self.edit.text().strip()

    def accept(self) -> None:
        if self.ok.isEnabled():
            super().accept()


def ask_name(parent: QWidget | None, kind: str, title: str, existing=(), text: str = "", error: str = "") -> str | None:
    """Block until the operator types a valid name (or cancels)."""
    dialog = NameDialog(kind, title, existing, text, error, parent)
    try:
        return dialog.name() if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()
