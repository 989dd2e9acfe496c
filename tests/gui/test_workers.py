"""Tasks run their job in another thread and report back on the GUI thread; errors are not lost."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QObject, QThread, Slot

from app.gui.workers import Task, TaskList


class Receiver(QObject):
    """A GUI-thread object with bound slots, as the window is."""

    def __init__(self):
        super().__init__()
        self.got = []

    @Slot(object)
    def ok(self, value):
        self.got.append(("ok", value, QThread.currentThread() is self.thread()))

    @Slot(object)
    def failed(self, exc):
        self.got.append(("failed", exc, QThread.currentThread() is self.thread()))

    @Slot()
    def cancelled(self):
        self.got.append(("cancelled", None, True))

    @Slot(int, int, str)
    def progress(self, done, total, text):
        self.got.append(("progress", (done, total, text), QThread.currentThread() is self.thread()))


def run_task(qtbot, job, receiver, tasks):
    task = Task(job, "job", parent=tasks)
    task.succeeded.connect(receiver.ok)
    task.failed.connect(receiver.failed)
    task.cancelled.connect(receiver.cancelled)
    task.progressed.connect(receiver.progress)
    with qtbot.waitSignal(task.ended, timeout=5000):
        tasks.start(task)
    return task


def test_result_progress_and_thread(qtbot):
    tasks, receiver = TaskList(), Receiver()
    gui = threading.get_ident()
    seen = {}

    def job(worker):
        seen["thread"] = threading.get_ident()
        worker.report(1, 2, "half")
        return 42

    run_task(qtbot, job, receiver, tasks)
    assert seen["thread"] != gui
    assert receiver.got == [("progress", (1, 2, "half"), True), ("ok", 42, True)]
    assert tasks.running() == []


def test_errors_reach_the_gui_thread(qtbot):
    tasks, receiver = TaskList(), Receiver()

    def job(worker):
        raise ValueError("bad thing")

    run_task(qtbot, job, receiver, tasks)
    kind, exc, in_gui = receiver.got[0]
    assert kind == "failed" and isinstance(exc, ValueError) and str(exc) == "bad thing" and in_gui


def test_cancel(qtbot):
    tasks, receiver = TaskList(), Receiver()
    started, go = threading.Event(), threading.Event()

    def job(worker):
        started.set()
        go.wait(5)
        worker.check_cancelled()
        return "not reached"

    task = Task(job, "slow", parent=tasks)
    task.cancelled.connect(receiver.cancelled)
    task.succeeded.connect(receiver.ok)
    tasks.start(task)
    assert started.wait(5)
    changed = []
    tasks.changed.connect(lambda n, name: changed.append(n))
    task.cancel()
    go.set()
    qtbot.waitUntil(lambda: bool(receiver.got), timeout=5000)
    assert receiver.got == [("cancelled", None, True)]
    qtbot.waitUntil(lambda: changed == [0], timeout=5000)


def test_stop_all_waits_for_running_jobs(qtbot):
    tasks = TaskList()
    started = threading.Event()

    def job(worker):
        started.set()
        while not worker.is_cancelled:
            threading.Event().wait(0.01)
        return None

    task = tasks.start(Task(job, "forever", parent=tasks))
    assert started.wait(5)
    assert tasks.stop_all(5000)
    assert not task._thread.isRunning()


@pytest.mark.parametrize("n", [3])
def test_several_tasks_at_once(qtbot, n):
    tasks, receiver = TaskList(), Receiver()
    for i in range(n):
        task = Task(lambda worker, i=i: i * i, f"t{i}", parent=tasks)
        task.succeeded.connect(receiver.ok)
        tasks.start(task)
    qtbot.waitUntil(lambda: len(receiver.got) == n and not tasks.running(), timeout=5000)
    assert sorted(v for _, v, _ in receiver.got) == [0, 1, 4]
