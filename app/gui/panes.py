"""Small layout pieces of the window: a titled pane over a view, a tool button for an action."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget


def pane(title: str, view: QWidget, buttons: list[QToolButton]) -> QWidget:
    pane = QWidget()
    layout = QVBoxLayout(pane)
    layout.setContentsMargins(2, 2, 2, 2)
    head = QHBoxLayout()
    label = QLabel(f"<b>{title}</b>")
    label.setBuddy(view)
    head.addWidget(label, 1)
    for b in buttons:
        head.addWidget(b)
    layout.addLayout(head)
    layout.addWidget(view)
    return pane


def tool_button(action: QAction) -> QToolButton:
    b = QToolButton()
    b.setDefaultAction(action)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the same commands are in the menus, with shortcuts
    return b
