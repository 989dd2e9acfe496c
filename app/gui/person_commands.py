"""The History's step for a rename or a new cover: UpdatePerson, undone by the answer's `Previous`.

Like every command of the window (undo_commands.py), the backend work runs in a worker before the
stack moves: `undo_job` sends UpdatePerson with the fields as they were, `redo_job` the request
again; both are journaled by the backend like any write. A person's UserId never changes, so the
step holds no change set (no face moves).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .undo_commands import BackgroundCommand


def update_person_job(engine, request: dict, worker=None) -> dict:
    return engine.update_person(**request)


class UpdatePersonCommand(BackgroundCommand):
    def __init__(self, text: str, request: dict, previous: dict, on_shown: Callable[[], None]):
        """`request`: the UpdatePerson request that was done; `previous`: the same fields as they were before
        ("" for none, which clears them again); `on_shown`: what to refresh once an undo or redo is done."""
        super().__init__(f"{text} ({request['CollectionId']})", request["CollectionId"])
        self.request = dict(request)
        self.previous = {"CollectionId": request["CollectionId"], "UserId": request["UserId"], **previous}
        self.on_shown = on_shown

    def undo_job(self, engine) -> Callable[..., Any]:
        return partial(update_person_job, engine, self.previous)

    def redo_job(self, engine) -> Callable[..., Any]:
        return partial(update_person_job, engine, self.request)

    def show_undone(self, result: Any) -> None:
        self.on_shown()

    def show_redone(self, result: Any) -> None:
        self.on_shown()
