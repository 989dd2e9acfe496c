"""The People dock's widgets: the cards with a type-ahead filter, the "Suggested for" strip, the
name-a-group dialog. No backend call here: people_controller.py runs them through the window's runner."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from .name_dialog import name_problem
from .people_model import PeopleModel


class SuggestionStrip(QListWidget):
    """The suggested faces in a row; Y accepts the current one, N rejects it ("not this person")."""

    answered = Signal(bool)  # True: yes, this is the person; False: not this person

    def __init__(self, icon_size: int = 72):
        super().__init__()
        self.setObjectName("suggestionStrip")
        self.setAccessibleName("Suggested faces (Y: yes, N: not this person)")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setIconSize(QSize(icon_size, icon_size))
        self.setFixedHeight(icon_size + 48)
        self.setMovement(QListView.Movement.Static)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Y, Qt.Key.Key_N) and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            if self.currentItem() is not None:
                self.answered.emit(event.key() == Qt.Key.Key_Y)
            return
        super().keyPressEvent(event)


CARD = QSize(140, 150)  # a card's cell: the 96-pixel crop and two lines of name under it; two a row in the dock


class CardDelegate(QStyledItemDelegate):
    """Every card is one size: the view lays out 10,000 of them without asking each for its size (uniform
    item sizes), and a long name still wraps onto a second line."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return CARD - QSize(4, 4)


class PeoplePanel(QWidget):
    card_activated = Signal(int)  # a row of the model
    name_group_asked = Signal(int)
    group_anyway_asked = Signal()

    def __init__(self, model: PeopleModel, parent=None):
        super().__init__(parent)
        self.setObjectName("peoplePanel")
        self.model = model
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("peopleFilter")
        self.filter_edit.setPlaceholderText("Find a person…")
        self.filter_edit.setAccessibleName("Find a person")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(model.set_filter)  # one pass over prepared names, in the model
        self.cards = QListView()
        self.cards.setObjectName("peopleCards")
        self.cards.setAccessibleName("People and unknown groups")
        self.cards.setModel(model)
        self.cards.setItemDelegate(CardDelegate(self.cards))
        self.cards.setUniformItemSizes(True)
        self.cards.setViewMode(QListView.ViewMode.IconMode)
        self.cards.setResizeMode(QListView.ResizeMode.Adjust)
        self.cards.setMovement(QListView.Movement.Static)
        self.cards.setIconSize(QSize(96, 96))
        self.cards.setGridSize(CARD)
        self.cards.setWordWrap(True)
        self.cards.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.cards.activated.connect(lambda index: self.card_activated.emit(index.row()))
        self.cards.selectionModel().currentChanged.connect(self._update_buttons)
        self.name_button = QPushButton("&Name this group…")
        self.name_button.setObjectName("nameGroupButton")
        self.name_button.setToolTip("Give the selected unknown group a name: a new person with its faces")
        self.name_button.clicked.connect(self._ask_name)
        self.note = QLabel()
        self.note.setObjectName("peopleNote")
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        self.group_button = QPushButton("&Group them anyway")
        self.group_button.setObjectName("groupAnywayButton")
        self.group_button.setToolTip("Group the faces no one holds into unknown people now (this takes a while)")
        self.group_button.setVisible(False)
        self.group_button.clicked.connect(self.group_anyway_asked)
        self.suggest_title = QLabel()
        self.suggest_title.setObjectName("suggestionTitle")
        self.suggestions = SuggestionStrip()
        self.yes_button = QPushButton("&Yes, it is")
        self.yes_button.setObjectName("acceptSuggestion")
        self.no_button = QPushButton("N&ot this person")
        self.no_button.setObjectName("rejectSuggestion")
        self.yes_button.clicked.connect(lambda: self.suggestions.answered.emit(True))
        self.no_button.clicked.connect(lambda: self.suggestions.answered.emit(False))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.note)
        layout.addWidget(self.group_button)
        layout.addWidget(self.cards, 1)
        layout.addWidget(self.name_button)
        layout.addWidget(self.suggest_title)
        layout.addWidget(self.suggestions)
        answers = QHBoxLayout()
        answers.addWidget(self.yes_button)
        answers.addWidget(self.no_button)
        answers.addStretch(1)
        layout.addLayout(answers)
        self.model.modelReset.connect(self._on_reset)
        self.model.notes_changed.connect(self._on_reset)
        self.show_suggestions(None, [])
        self._update_buttons()

    def current_row(self) -> int | None:
        index = self.cards.currentIndex()
        return index.row() if index.isValid() else None

    def _ask_name(self) -> None:
        row = self.current_row()
        if row is not None and self.model.card(row).kind == "group":
            self.name_group_asked.emit(row)

    def _update_buttons(self, *_args) -> None:
        row = self.current_row()
        self.name_button.setEnabled(row is not None and self.model.card(row).kind == "group")

    def _on_reset(self) -> None:
        self.note.setText(self.model.note)
        self.note.setVisible(bool(self.model.note))
        self.group_button.setVisible(self.model.grouping_skipped)
        self._update_buttons()

    def show_suggestions(self, person: str | None, items: list[QListWidgetItem], note: str = "") -> None:
        """The strip for `person` (its display name): `items` carry the face id in UserRole."""
        self.suggestions.clear()
        for item in items:
            self.suggestions.addItem(item)
        if person is None:
            self.suggest_title.setText(note or "Select a user to see the faces suggested for them.")
        elif not items:
            self.suggest_title.setText(note or f"No more suggestions for {person}.")
        else:
            self.suggest_title.setText(f"<b>Suggested for {person}</b> (Y: yes, N: not this person)")
        self.suggestions.setCurrentRow(0 if items else -1)
        for w in (self.yes_button, self.no_button):
            w.setEnabled(bool(items))


class NameGroupDialog(QDialog):
    """Display name → proposed UserId (editable, checked as typed). `name_typed` asks the controller for a
    proposal (ProposeUserId, in a worker); `propose` puts it in unless the operator edited the id."""

    name_typed = Signal(str)

    def __init__(self, faces: int, existing=(), parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("nameGroupDialog")
        self.setWindowTitle("Name this group")
        self.existing = frozenset(existing)
        self.id_edited = False
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("displayNameEdit")
        self.name_edit.setAccessibleName("Display name")
        self.id_edit = QLineEdit()
        self.id_edit.setObjectName("userIdEdit")
        self.id_edit.setAccessibleName("User id")
        self.problem = QLabel()
        self.problem.setObjectName("nameProblem")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("&Name")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("&Display name:", self.name_edit)
        form.addRow("&User id:", self.id_edit)
        layout = QVBoxLayout(self)
        self.intro = QLabel(f"Who are these {faces} faces? A new person gets them (at most 100, the most alike first).")
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.name_edit.textEdited.connect(self._name_edited)
        self.id_edit.textEdited.connect(self._id_edited)
        self._check()

    def _name_edited(self, text: str) -> None:
        if not self.id_edited and text.strip():
            self.name_typed.emit(text.strip())
        self._check()

    def _id_edited(self, _text: str) -> None:
        self.id_edited = bool(self.id_edit.text())
        self._check()

    def propose(self, name: str, user_id: str) -> None:
        if not self.id_edited and name == self.name_edit.text().strip():
            self.id_edit.setText(user_id)
            self._check()

    def _check(self) -> None:
        user_id = self.id_edit.text().strip()
        problem = name_problem("user", user_id) if user_id else ""
        if not self.name_edit.text().strip() and not user_id:
            problem = "Type the person's name."
        elif not self.name_edit.text().strip():
            problem = problem or ""
        note = f"{user_id} already exists: the faces go to that user." if user_id in self.existing and not problem else ""
        self.problem.setText(problem or note)
        self.ok.setEnabled(not problem and bool(user_id))

    def display_name(self) -> str:
        return self.name_edit.text().strip()

    def user_id(self) -> str:
        return self.id_edit.text().strip()

    def accept(self) -> None:
        if self.ok.isEnabled():
            super().accept()
