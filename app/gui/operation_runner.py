"""The window's one way to call the backend: every call runs in a worker thread, results come back by signal.

The idea of Anki's CollectionOp/QueryOp. `runner.run(job, on_done, ...)` starts `job(worker)` in a
Task and calls `on_done(result)` in the GUI thread when it succeeds (`on_failed(exc)` when it
raises; the window's error report by default). A result that became stale is dropped:
- `key`: a newer call with the same key supersedes an older one still running (threshold
  ticks, search, grid pages);
- `scope`: the collection the call was made for; if the window has switched collection since,
  the result no longer applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot

from .workers import Task, TaskList, Worker


@dataclass
class PendingCall:
    """One call as its caller sees it: `ok` is None while it runs, then True or False."""

    name: str
    ok: bool | None = None
    result: Any = None
    error: BaseException | None = None
    stale: bool = False


class OperationRunner(QObject):
    dropped = Signal(str)  # the name of a call whose result was dropped as stale (for tests and logs)

    def __init__(self, tasks: TaskList, current_scope: Callable[[], object], on_error: Callable[[str, BaseException], None],
                 parent: QObject | None = None):
        super().__init__(parent)
        self._tasks = tasks
        self._current_scope = current_scope
        self._on_error = on_error
        self._serial = 0
        self._latest: dict[str, int] = {}

    def run(self, name: str, job: Callable[[Worker], Any], on_done: Callable[[Any], None] | None = None,
            on_failed: Callable[[BaseException], None] | None = None, *, key: str | None = None,
            scope: object = None, on_ended: Callable[[], None] | None = None, owner: QObject | None = None) -> PendingCall:
        """Start `job` in the background; see the module docstring for `key` and `scope`. With `owner`
        (say a dialog), the result is dropped if the owner was deleted meanwhile."""
        self._serial += 1
        serial = self._serial
        if key is not None:
            self._latest[key] = serial
        call = PendingCall(name)
        task = Task(job, name, {"serial": serial, "key": key, "scope": scope, "owner": owner}, self)
        task.succeeded.connect(partial(self._done, task, call, on_done))
        task.failed.connect(partial(self._failed, task, call, on_failed))
        if on_ended is not None:
            task.ended.connect(on_ended)
        self._tasks.start(task)
        return call

    def is_current(self, task: Task) -> bool:
        ctx = task.context
        if ctx["owner"] is not None and not shiboken6.isValid(ctx["owner"]):
            return False
        if ctx["key"] is not None and self._latest.get(ctx["key"]) != ctx["serial"]:
            return False
        return ctx["scope"] is None or ctx["scope"] == self._current_scope()

    @Slot()
    def _done(self, task: Task, call: PendingCall, on_done, result) -> None:
        call.ok, call.result = True, result
        if not self.is_current(task):
            call.stale = True
            self.dropped.emit(task.name)
            return
        if on_done is not None:
            on_done(result)

    @Slot()
    def _failed(self, task: Task, call: PendingCall, on_failed, exc) -> None:
        call.ok, call.error = False, exc
        if not self.is_current(task):
            call.stale = True
            self.dropped.emit(task.name)
            return
        if on_failed is not None:
            on_failed(exc)
        else:
            self._on_error(task.name, exc)
