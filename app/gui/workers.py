"""Background jobs: a Worker object runs one job in its own QThread; a Task is its GUI-side face.

The job is a plain callable taking the worker (for progress and cancel checks) and returning a
result. The worker's signals are connected only to bound slots of the Task, which lives in the
GUI thread, so they arrive there as queued calls; the Task re-emits them for the window.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot


class JobCancelled(Exception):
    """Raised inside a job that noticed the user cancelled it."""


class Worker(QObject):
    progress = Signal(int, int, str)  # done, total, what is being done
    finished = Signal(object)  # the job's result
    failed = Signal(object)  # the exception the job raised
    cancelled = Signal()
    delivered = Signal(object)  # a partial result, as soon as it is known (an imported file)

    def __init__(self, job: Callable[[Worker], object]):
        super().__init__()
        self._job = job
        self._cancel = threading.Event()  # read from the worker thread, set from the GUI thread

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled()

    def report(self, done: int, total: int, text: str = "") -> None:
        self.progress.emit(done, total, text)

    def deliver(self, part: object) -> None:
        """Hand the GUI a partial result now (it arrives by signal, before the job ends)."""
        self.delivered.emit(part)

    @Slot()
    def run(self) -> None:
        try:
            result = self._job(self)
        except JobCancelled:
            self.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - handed to the GUI, which shows it; never swallowed
            self.failed.emit(exc)
        else:
            self.finished.emit(result)
        finally:
            # hand the object back to the GUI thread so Python can free it there once the Task lets go
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())


class Task(QObject):
    """One background job as the GUI sees it. Emits exactly one of succeeded/failed/cancelled, then ended."""

    progressed = Signal(int, int, str)
    delivered = Signal(object)  # the worker's partial results
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    ended = Signal()

    def __init__(self, job: Callable[[Worker], object], name: str, context=None, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.context = context  # whatever the caller needs back when the result arrives
        self.running = False
        self._thread = QThread(self)
        self._thread.setObjectName(f"task:{name}")
        self._worker = Worker(job)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.delivered.connect(self._on_delivered)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)

    def start(self) -> None:
        self.running = True
        self._thread.start()

    def cancel(self) -> None:
        self._worker.cancel()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the thread is done (closing the window); True if it ended in time.

        The thread's event loop is told to quit first: the job itself still runs to its end
        (or its next cancel check), and its queued results are then dropped with the Task.
        """
        self._thread.quit()
        return self._thread.wait(msecs)

    def _stop(self) -> None:
        self.running = False
        self._thread.quit()
        self._thread.wait()

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progressed.emit(done, total, text)

    @Slot(object)
    def _on_delivered(self, part) -> None:
        self.delivered.emit(part)

    @Slot(object)
    def _on_finished(self, result) -> None:
        self._stop()
        self.succeeded.emit(result)
        self.ended.emit()

    @Slot(object)
    def _on_failed(self, exc) -> None:
        self._stop()
        self.failed.emit(exc)
        self.ended.emit()

    @Slot()
    def _on_cancelled(self) -> None:
        self._stop()
        self.cancelled.emit()
        self.ended.emit()


class TaskList(QObject):
    """The window's running tasks: started here, dropped when they end, all stopped on close."""

    changed = Signal(int, str)  # how many run now, the name of the newest one ("" when none)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._tasks: list[Task] = []

    def start(self, task: Task) -> Task:
        self._tasks.append(task)
        task.ended.connect(self._on_ended)
        task.start()
        self.changed.emit(len(self._tasks), task.name)
        return task

    def running(self) -> list[Task]:
        return list(self._tasks)

    @Slot()
    def _on_ended(self) -> None:
        task = self.sender()
        if task in self._tasks:
            self._tasks.remove(task)
            task.deleteLater()
        self.changed.emit(len(self._tasks), self._tasks[-1].name if self._tasks else "")

    def stop_all(self, msecs: int = 30_000) -> bool:
        """Cancel every task and wait for its thread (the window is closing); True if all ended."""
        for task in self._tasks:
            task.blockSignals(True)  # results that arrive after this point have no window to go to
            task.cancel()
        ok = all(task.wait(msecs) for task in list(self._tasks))
        self._tasks.clear()
        return ok
