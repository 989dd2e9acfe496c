"""Errors in plain words and confirmations of destructive steps.

Errors open window-modal boxes without blocking (the window keeps painting and workers keep
reporting). `confirm` blocks; tests replace it. Name prompts are in name_dialog.py.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from app.core.errors import RekognitionError, WorkspaceError


def plain_words(error: BaseException) -> str:
    if isinstance(error, RekognitionError):
        return f"{error.message}\n\n(The engine answered {error.code}.)"
    if isinstance(error, WorkspaceError):
        return str(error)
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{where}"
    return f"{error}" if str(error) else type(error).__name__


def show_error(parent: QWidget | None, action: str, error: BaseException) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Warning, "Rekurator", f"{action} failed.", QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    box.setInformativeText(plain_words(error))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def confirm(parent: QWidget | None, title: str, text: str, action: str = "&Yes") -> bool:
    """A destructive step: a warning icon, the counts in `text`, the step named on its button, Cancel by default."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName("confirmBox")
    yes = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    return box.clickedButton() is yes
