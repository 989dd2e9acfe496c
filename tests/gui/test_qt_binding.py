"""The Qt binding keeps Python's reference counts straight on the paths the window uses all the time.

PySide6-Essentials 6.12.0 (CPython 3.11) drops a reference to True on every Signal.emit() and to
None on every invalid QVariant handed to Python (index.data() of an empty role): after a few
thousand emits or paints the process aborts with "bool_dealloc" / "none_dealloc". This test fails
on such a binding, so a broken release cannot slip in unnoticed.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt, Signal, Slot


class _Sender(QObject):
    fired = Signal(object)


class _Receiver(QObject):
    def __init__(self):
        super().__init__()
        self.n = 0

    @Slot(object)
    def on_fired(self, _value):
        self.n += 1


class _Empty(QAbstractListModel):
    def rowCount(self, parent=QModelIndex()):
        return 1

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        return None


def test_emit_and_invalid_variants_keep_reference_counts(qapp):
    sender, receiver = _Sender(), _Receiver()
    sender.fired.connect(receiver.on_fired)
    model = _Empty()
    index = model.index(0)
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(500):
        sender.fired.emit(1)
        index.data(Qt.ItemDataRole.UserRole)
    assert receiver.n == 500
    # a little slack for unrelated objects; the broken binding is off by 500
    assert abs(sys.getrefcount(True) - true_before) < 50, "Signal.emit() loses references to True"
    assert abs(sys.getrefcount(None) - none_before) < 50, "invalid QVariant -> None loses references to None"
