"""The window's history: one QUndoCommand per curation edit.

The backend work of an undo or redo never runs in QUndoCommand.undo()/redo(): QUndoStack calls
those on the GUI thread, where no backend call may run. Each command instead hands the curation
controller a job (`undo_job` / `redo_job`) that the operation runner runs in a worker; only when
the backend has done it does the controller move the stack, and undo()/redo() then just show the
result (apply the change set to the window's models). A failed undo leaves the stack where it was.

A curation edit's command holds its change set: undo is the inverse change set (ApplyChangeSet,
purpose UNDO, one transaction that first checks every face is still where the edit left it), redo
the inverse of what the undo did (purpose REDO).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from PySide6.QtGui import QUndoCommand

from app.core import change_sets

from .curation_jobs import run_change_set


class ChangeSink(Protocol):
    """What the commands tell the window (the curation controller)."""

    def apply_change_set(self, change_set: dict) -> None: ...


class ReplayMismatch(Exception):
    """An undo or redo could not change every face it should have (the workspace changed meanwhile)."""


class BackgroundCommand(QUndoCommand):
    """A command whose backend work runs in a worker before the stack moves (see the module docstring)."""

    def __init__(self, text: str, collection_id: str):
        super().__init__(text)
        self.collection_id = collection_id
        self._pushed = False
        self.last_result: Any = None

    def undo_job(self, engine) -> Callable[..., Any]:
        raise NotImplementedError

    def redo_job(self, engine) -> Callable[..., Any]:
        raise NotImplementedError

    def show_undone(self, result: Any) -> None:
        """After the backend undid the edit (GUI thread): update the views."""

    def show_redone(self, result: Any) -> None:
        """After the backend redid the edit (GUI thread): update the views."""

    def redo(self) -> None:
        if not self._pushed:  # QUndoStack.push calls redo(): the edit already ran
            self._pushed = True
            return
        self._show(self.show_redone)

    def undo(self) -> None:
        self._show(self.show_undone)

    def _show(self, step: Callable[[Any], None]) -> None:
        # called by QUndoStack from C++: an exception escaping here would reach shiboken's error path,
        # which crashes the process (PySide6 6.11), so it goes to sys.excepthook instead, as a slot's would
        try:
            step(self.last_result)
        except Exception:  # noqa: BLE001 - reported, never swallowed
            sys.excepthook(*sys.exc_info())


class ChangeSetCommand(BackgroundCommand):
    """A curation edit already done by the backend; `change_set` is what it did."""

    def __init__(self, sink: ChangeSink, text: str, change_set: dict, marks: dict | None = None):
        super().__init__(f"{text} ({change_set['CollectionId']})", change_set["CollectionId"])
        self.sink = sink
        self.done_change_set = change_set  # what the edit (or its last redo) changed
        self.undone_change_set: dict | None = None  # what its last undo changed
        self.marks = marks  # "not this person" marks the edit set: {"UserId", "FaceIds"}

    def undo_job(self, engine) -> Callable[..., Any]:
        marks = None if not self.marks else {**self.marks, "Rejected": False}
        return partial(run_change_set, engine, change_sets.inverse(self.done_change_set, "UNDO"), marks)

    def redo_job(self, engine) -> Callable[..., Any]:
        assert self.undone_change_set is not None, "redo before undo"
        marks = None if not self.marks else {**self.marks, "Rejected": True}
        return partial(run_change_set, engine, change_sets.inverse(self.undone_change_set, "REDO"), marks)

    def show_undone(self, result: Any) -> None:
        self.undone_change_set = result
        self.sink.apply_change_set(result)

    def show_redone(self, result: Any) -> None:
        self.done_change_set = result
        self.sink.apply_change_set(result)
