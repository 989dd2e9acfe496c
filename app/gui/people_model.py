"""The People dock's cards: named people (cover crop, display name, n/100) and unknown groups, largest first.

Read in a worker (`read_people`): DescribePeople and ClusterFaces. On a backend without the
people-and-groups extensions (a remote endpoint) the cards are the users from ListUsers and the
model carries a plain-words note instead of groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Slot
from PySide6.QtGui import QColor, QPixmap

from app.core.association_plan import MAX_FACES_PER_USER
from app.core.capabilities import CapabilityUnavailable

from .reason_text import count
from .thumbnail_loader import ThumbnailLoader
from .user_model import read_users

NO_GROUPS = ("This backend cannot group faces or suggest them (a remote endpoint never returns face "
             "descriptors): only the named people are listed.")


class PeopleRole(IntEnum):
    Kind = Qt.ItemDataRole.UserRole + 1  # "person" or "group"
    Key = Qt.ItemDataRole.UserRole + 2  # the UserId or the GroupId
    FaceIds = Qt.ItemDataRole.UserRole + 3  # a group's faces (most representative first)


@dataclass
class PersonCard:
    kind: str  # "person" or "group"
    key: str  # UserId or GroupId
    name: str  # the display name (a person), "" for a group
    face_count: int | None  # None: not known (ListUsers gives no count)
    cover_face_id: str | None = None
    face_ids: list[str] = field(default_factory=list)

    def title(self) -> str:
        if self.kind == "group":
            return f"Unknown · {count(self.face_count or 0, 'face')}"
        if self.face_count is None:
            return self.name or self.key
        return f"{self.name or self.key} · {self.face_count}/{MAX_FACES_PER_USER}"


@dataclass
class PeopleRead:
    collection_id: str
    cards: list[PersonCard]
    note: str = ""  # why there are no groups, in plain words


def read_people(engine, collection_id: str, worker=None) -> PeopleRead:
    """The collection's people and unknown groups (in a worker)."""
    try:
        people = engine.describe_people(CollectionId=collection_id)["People"]
        groups = engine.cluster_faces(CollectionId=collection_id)["Groups"]
    except CapabilityUnavailable:
        users = read_users(engine, collection_id)
        return PeopleRead(collection_id, [PersonCard("person", u["UserId"], "", None) for u in users], NO_GROUPS)
    cards = [PersonCard("person", p["UserId"], p.get("DisplayName", ""), int(p.get("FaceCount", 0)),
                        p.get("CoverFaceId")) for p in people]
    cards += [PersonCard("group", g["GroupId"], "", len(g["FaceIds"]), g.get("CoverFaceId"), list(g["FaceIds"]))
              for g in groups]  # ClusterFaces gives them largest first
    return PeopleRead(collection_id, cards)


class PeopleModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailLoader | None = None, parent=None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.collection_id: str | None = None
        self.cards: list[PersonCard] = []
        self.note = ""
        self._blank: QPixmap | None = None
        if thumbnails is not None:
            thumbnails.ready.connect(self._on_thumbnails)

    def _placeholder(self) -> QPixmap:
        """A card without a crop (yet) keeps its place in the grid: a plain square."""
        if self._blank is None:
            side = self.thumbnails.size if self.thumbnails is not None else 72
            self._blank = QPixmap(side, side)
            self._blank.fill(QColor(128, 128, 128, 60))
        return self._blank

    def set_people(self, read: PeopleRead | None) -> None:
        self.beginResetModel()
        self.collection_id = read.collection_id if read else None
        self.cards = list(read.cards) if read else []
        self.note = read.note if read else ""
        self.endResetModel()

    def card(self, row: int) -> PersonCard:
        return self.cards[row]

    def row_of(self, kind: str, key: str) -> int | None:
        return next((i for i, c in enumerate(self.cards) if c.kind == kind and c.key == key), None)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.cards)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.cards):
            return None
        c = self.cards[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return c.title()
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return c.title().replace("·", ",")
        if role == Qt.ItemDataRole.ToolTipRole:
            if c.kind == "group":
                return f"{count(c.face_count or 0, 'face')} no user holds yet, that look alike (group {c.key})"
            return f"User {c.key}" + (f" ({c.name})" if c.name else "")
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = None
            if self.thumbnails is not None and self.collection_id is not None and c.cover_face_id:
                pixmap = self.thumbnails.pixmap(self.collection_id, c.cover_face_id)
            return pixmap if pixmap is not None else self._placeholder()
        if role == PeopleRole.Kind:
            return c.kind
        if role == PeopleRole.Key:
            return c.key
        if role == PeopleRole.FaceIds:
            return list(c.face_ids)
        return None

    @Slot(str, object)
    def _on_thumbnails(self, collection_id: str, face_ids) -> None:
        if collection_id != self.collection_id:
            return
        ready = set(face_ids)
        for row, c in enumerate(self.cards):
            if c.cover_face_id in ready:
                index = self.index(row)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
