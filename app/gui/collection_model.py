"""The workspace's collections as a list model: id, face count, user count, face model version."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt


class CollectionRole(IntEnum):
    CollectionId = Qt.ItemDataRole.UserRole + 1
    FaceCount = Qt.ItemDataRole.UserRole + 2
    UserCount = Qt.ItemDataRole.UserRole + 3
    ModelVersion = Qt.ItemDataRole.UserRole + 4


@dataclass
class CollectionEntry:
    collection_id: str
    face_count: int
    user_count: int
    model_version: str


def describe_entry(engine, collection_id: str, worker=None) -> CollectionEntry:
    d = engine.describe_collection(CollectionId=collection_id)
    return CollectionEntry(collection_id, d["FaceCount"], d["UserCount"], d["FaceModelVersion"])


def read_collections(engine, worker=None) -> list[CollectionEntry]:
    """Every collection with its counts (ListCollections, then DescribeCollection each)."""
    ids: list[str] = []
    params: dict = {}
    while True:
        page = engine.list_collections(**params)
        ids += page["CollectionIds"]
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    return [describe_entry(engine, cid) for cid in ids]


class CollectionListModel(QAbstractListModel):
    def __init__(self, engine, parent=None):
        super().__init__(parent)
        self._engine = engine
        self._rows: list[CollectionEntry] = []

    # -- loading and edits -------------------------------------------------------------------
    def load(self) -> None:
        """Read every collection here (tests and tools; the window reads in a worker and calls set_entries)."""
        self.set_entries(read_collections(self._engine))

    def set_entries(self, entries: list[CollectionEntry]) -> None:
        """Show these collections (a load, not an edit: the model is reset)."""
        self.beginResetModel()
        self._rows = list(entries)
        self.endResetModel()

    def add(self, entry: CollectionEntry) -> int:
        """Insert a newly created collection (as describe_entry read it) in sorted place; its row."""
        collection_id = entry.collection_id
        row = next((i for i, e in enumerate(self._rows) if e.collection_id > collection_id), len(self._rows))
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.insert(row, entry)
        self.endInsertRows()
        return row

    def remove(self, collection_id: str) -> None:
        row = self.row_of(collection_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self.endRemoveRows()

    def refresh_counts(self, collection_id: str) -> None:
        if self.row_of(collection_id) is not None:
            self.set_entry(describe_entry(self._engine, collection_id))

    def set_entry(self, entry: CollectionEntry) -> None:
        """A collection's counts as just read (in a worker: see describe_entry)."""
        row = self.row_of(entry.collection_id)
        if row is None:
            return
        self._rows[row] = entry
        index = self.index(row)
        self.dataChanged.emit(index, index, [CollectionRole.FaceCount, CollectionRole.UserCount,
                                             Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole])

    def row_of(self, collection_id: str) -> int | None:
        return next((i for i, e in enumerate(self._rows) if e.collection_id == collection_id), None)

    def entry(self, row: int) -> CollectionEntry:
        return self._rows[row]

    # -- Qt model interface ----------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        e = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{e.collection_id}\n{e.face_count} faces, {e.user_count} users · {e.model_version}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{e.collection_id}\n{e.face_count} faces, {e.user_count} users\nFace model: {e.model_version}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"Collection {e.collection_id}, {e.face_count} faces, {e.user_count} users"
        if role == CollectionRole.CollectionId:
            return e.collection_id
        if role == CollectionRole.FaceCount:
            return e.face_count
        if role == CollectionRole.UserCount:
            return e.user_count
        if role == CollectionRole.ModelVersion:
            return e.model_version
        return None

    def roleNames(self) -> dict:
        names = dict(super().roleNames())
        names.update({int(r): QByteArray(r.name.encode()) for r in CollectionRole})
        return names
