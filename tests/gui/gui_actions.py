"""What a user does in the window, as test steps: drops, waits, reading message boxes."""

from __future__ import annotations

import time

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui.mime import encode_faces


def warm_up_drop_events() -> None:
    """Build the synthetic drag events once, unsent: the first build initialises PySide's signature
    tables (~40 ms), which a real drag (made by Qt itself) never pays; timing tests call this first."""
    from PySide6.QtCore import QMimeData

    mime, at = QMimeData(), QPointF(1, 1)
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    for kind in (QDragEnterEvent, QDragMoveEvent, QDropEvent):
        try:
            kind(at, Qt.DropAction.CopyAction, mime, buttons, mods)
        except TypeError:
            kind(QPoint(1, 1), Qt.DropAction.CopyAction, mime, buttons, mods)


def drop_on_user(window, user_id: str | None, mime) -> QDropEvent:
    """A synthetic drag-enter, drag-move and drop on a user row (or below the last row for None)."""
    view = window.users_view
    if user_id is None:
        point = QPoint(5, view.viewport().height() - 3)
    else:
        point = view.visualRect(window.users_model.index(window.users_model.row_of(user_id))).center()
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    at = QPointF(point)
    for kind in (QDragEnterEvent, QDragMoveEvent):
        try:  # newer bindings take a QPointF (the QPoint form is deprecated there), older ones only a QPoint
            event = kind(at, Qt.DropAction.CopyAction, mime, buttons, mods)
        except TypeError:
            event = kind(point, Qt.DropAction.CopyAction, mime, buttons, mods)
        QApplication.sendEvent(view.viewport(), event)
    drop = QDropEvent(at, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(view.viewport(), drop)
    return drop


def settle(window, timeout_s: float = 10.0) -> None:
    """Let the window's background calls finish and their results arrive (the drop's plan, say)."""
    deadline = time.monotonic() + timeout_s
    QApplication.processEvents()
    while window.tasks.running() and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.002)
    QApplication.processEvents()


def done(window, call) -> bool:
    """Wait for a background call the window started (a PendingCall); whether it succeeded."""
    settle(window)
    return bool(call is not None and call.ok)


def drop_faces(window, user_id: str, face_ids, collection_id: str = "c") -> QDropEvent:
    """Drop faces on a user and wait for what follows (the preview opens once the plan is back)."""
    mime = encode_faces(collection_id, face_ids)
    event = drop_on_user(window, user_id, mime)
    event._mime = mime  # keep the data alive as long as the event
    settle(window)
    return event


def wait_idle(qtbot, window, timeout: int = 10_000) -> None:
    qtbot.waitUntil(lambda: not window.tasks.running(), timeout=timeout)


def message_boxes(window, name: str = "errorBox") -> list[QMessageBox]:
    return [b for b in window.findChildren(QMessageBox, name) if b.isVisible()]


def error_texts(window) -> list[str]:
    return [f"{b.text()} {b.informativeText()}" for b in message_boxes(window)]


def close_boxes(window) -> None:
    for b in message_boxes(window) + message_boxes(window, "noticeBox"):
        b.close()
