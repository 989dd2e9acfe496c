"""The People dock's cards: named people (cover crop, display name, n/100) and unknown groups, largest first.

Read in a worker (`read_people`): DescribePeople and ClusterFaces. On a backend without the
people-and-groups extensions (a remote endpoint) the cards are the users from ListUsers and the
model carries a plain-words note instead of groups. With more than GROUPING_LIMIT faces that no
user holds, the faces are not grouped on opening (it would take minutes); the note says so and
the curator can ask for it (`read_people(..., group_anyway=True)`).

Built for 10,000 people: the model holds every card but shows the first FIRST_ROWS, doubling on
each fetchMore as the view scrolls; the type-ahead filter is one pass over lower-case names
prepared once (no proxy model); after an edit only the touched people's cards change
(`update_people`, `set_groups`), never a reset.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPixmap

from app.core.association_plan import MAX_FACES_PER_USER
from app.core.capabilities import CapabilityUnavailable
from app.core.errors import ResourceNotFoundException

from .reason_text import count
from .thumbnail_loader import ThumbnailLoader
from .user_model import read_users

NO_GROUPS = ("This backend cannot group faces or suggest them (a remote endpoint never returns face "
             "descriptors): only the named people are listed.")
GROUPING_LIMIT = 200_000  # unassigned faces above which the dock does not group them unasked
FIRST_ROWS = 400  # cards shown at first; fetchMore doubles it


def too_many_to_group(unassigned: int) -> str:
    faces = f"{unassigned:,} face" + ("" if unassigned == 1 else "s")
    return (f"{faces} belong to no one yet: too many to group into unknown people "
            f"on opening (it takes minutes). Only the named people are listed.")


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
    cover_automatic: bool = False  # DescribePeople chose the cover (none set): the face nearest the mean

    def search_text(self) -> str:
        """What the type-ahead filter matches, lower case: the display name and the UserId; "unknown" for a group."""
        return "unknown" if self.kind == "group" else f"{self.name}\n{self.key}".lower()

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
    grouping_skipped: bool = False  # too many unassigned faces: not grouped unasked


@dataclass
class PeopleUpdate:
    """What an edit changed for some people: their cards now, the ones gone, and (if the pool of
    unassigned faces changed) the unknown groups now (None: unchanged)."""

    collection_id: str
    people: list[PersonCard]
    gone: list[str]
    groups: list[PersonCard] | None = None
    too_many: str = ""  # instead of groups: why the faces were not grouped (too many), in plain words


def person_card(p: dict) -> PersonCard:
    return PersonCard("person", p["UserId"], p.get("DisplayName", ""), int(p.get("FaceCount", 0)),
                      p.get("CoverFaceId"), cover_automatic=bool(p.get("CoverFaceAutomatic")))


def group_cards(groups: list[dict]) -> list[PersonCard]:
    return [PersonCard("group", g["GroupId"], "", len(g["FaceIds"]), g.get("CoverFaceId"), list(g["FaceIds"]))
            for g in groups]  # ClusterFaces gives them largest first


def unassigned_faces(engine, collection_id: str, people: list[dict]) -> int:
    total = engine.describe_collection(CollectionId=collection_id)["FaceCount"]
    return max(0, int(total) - sum(int(p.get("FaceCount", 0)) for p in people))


def read_groups(engine, collection_id: str, people: list[dict] | None, group_anyway: bool = False) -> list[dict] | None:
    """ClusterFaces' groups, or None when there are too many unassigned faces to group unasked (`people`:
    DescribePeople's answer if already read)."""
    if not group_anyway:
        total = int(engine.describe_collection(CollectionId=collection_id)["FaceCount"])
        if total > GROUPING_LIMIT:
            people = people if people is not None else engine.describe_people(CollectionId=collection_id)["People"]
            if total - sum(int(p.get("FaceCount", 0)) for p in people) > GROUPING_LIMIT:
                return None
    return engine.cluster_faces(CollectionId=collection_id)["Groups"]


def read_people(engine, collection_id: str, group_anyway: bool = False, with_groups: bool = True,
                worker=None) -> PeopleRead:
    """The collection's people and (`with_groups`) unknown groups (in a worker)."""
    try:
        people = engine.describe_people(CollectionId=collection_id)["People"]
        groups = read_groups(engine, collection_id, people, group_anyway) if with_groups else []
    except CapabilityUnavailable:
        users = read_users(engine, collection_id)
        return PeopleRead(collection_id, [PersonCard("person", u["UserId"], "", None) for u in users], NO_GROUPS)
    cards = [person_card(p) for p in people]
    if groups is None:
        return PeopleRead(collection_id, cards, too_many_to_group(unassigned_faces(engine, collection_id, people)), True)
    return PeopleRead(collection_id, cards + group_cards(groups))


def read_people_update(engine, collection_id: str, user_ids: list[str], worker=None) -> PeopleUpdate:
    """These people's cards as they are now (a deleted one is `gone`)."""
    user_ids = list(dict.fromkeys(user_ids))
    try:
        people, gone = _describe_some(engine, collection_id, user_ids)
    except CapabilityUnavailable:  # a remote endpoint: the users, as ListUsers gives them (no groups there)
        listed = {u["UserId"] for u in read_users(engine, collection_id)}
        return PeopleUpdate(collection_id, [PersonCard("person", u, "", None) for u in user_ids if u in listed],
                            [u for u in user_ids if u not in listed])
    return PeopleUpdate(collection_id, [person_card(p) for p in people], gone)


def read_groups_update(engine, collection_id: str, group_anyway: bool = False, worker=None) -> PeopleUpdate:
    """The unknown groups as they are now (ClusterFaces), or why there are none (too many faces)."""
    try:
        found = read_groups(engine, collection_id, None, group_anyway)
    except CapabilityUnavailable:
        return PeopleUpdate(collection_id, [], [])
    if found is None:
        people = engine.describe_people(CollectionId=collection_id)["People"]
        return PeopleUpdate(collection_id, [], [], [], too_many_to_group(unassigned_faces(engine, collection_id, people)))
    return PeopleUpdate(collection_id, [], [], group_cards(found))


def _describe_some(engine, collection_id: str, user_ids: list[str]) -> tuple[list[dict], list[str]]:
    """DescribePeople of these users, and those of them that no longer exist."""
    if not user_ids:
        return [], []
    try:
        return engine.describe_people(CollectionId=collection_id, UserIds=user_ids)["People"], []
    except ResourceNotFoundException:  # one of them is gone: ask one by one
        people: list[dict] = []
        gone: list[str] = []
        for uid in user_ids:
            try:
                people += engine.describe_people(CollectionId=collection_id, UserIds=[uid])["People"]
            except ResourceNotFoundException:
                gone.append(uid)
        return people, gone


class PeopleModel(QAbstractListModel):
    notes_changed = Signal()  # `note` or `grouping_skipped` changed without a reset
    names_read = Signal(str, object)  # collection, {UserId: display name ("" for none)} of the people just read

    def __init__(self, thumbnails: ThumbnailLoader | None = None, parent=None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.collection_id: str | None = None
        self.cards: list[PersonCard] = []  # every card: people (creation order), then groups (largest first)
        self.note = ""
        self.grouping_skipped = False
        self.filter_text = ""
        self._text: list[str] = []  # cards[i].search_text(), prepared once
        self._rows: list[int] = []  # the cards that pass the filter (indices into cards), in order
        self._shown = 0  # how many of _rows the view has fetched
        self._where: dict[tuple[str, str], int] = {}  # (kind, key) -> index into cards
        self._row_at: dict[int, int] = {}  # index into cards -> row (filtered)
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

    # -- whole loads (a collection switch, a first read) ---------------------------------------
    def set_people(self, read: PeopleRead | None) -> None:
        self.beginResetModel()
        self.collection_id = read.collection_id if read else None
        self.cards = list(read.cards) if read else []
        self.note = read.note if read else ""
        self.grouping_skipped = read.grouping_skipped if read else False
        self._shown = 0
        self._text = [c.search_text() for c in self.cards]
        self._index_cards()
        self._filter()
        self.endResetModel()
        if read:
            self.names_read.emit(read.collection_id, {c.key: c.name for c in self.cards if c.kind == "person"})

    def _index_cards(self) -> None:
        self._where = {(c.kind, c.key): i for i, c in enumerate(self.cards)}

    def _filter(self) -> None:
        """The rows that pass the filter: one pass over the prepared names."""
        needle = self.filter_text
        self._rows = [i for i, t in enumerate(self._text) if needle in t] if needle else list(range(len(self.cards)))
        self._row_at = {i: r for r, i in enumerate(self._rows)}
        self._shown = min(len(self._rows), max(FIRST_ROWS, self._shown if self._shown <= len(self._rows) else 0))

    def set_filter(self, text: str) -> None:
        """Show only the cards whose display name or UserId holds `text` (any case)."""
        text = text.strip().lower()
        if text == self.filter_text:
            return
        self.beginResetModel()  # a new set of rows to look at, not an edit
        self.filter_text = text
        self._shown = 0
        self._filter()
        self.endResetModel()

    # -- the view asks for more as it scrolls ------------------------------------------------------
    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return not parent.isValid() and self._shown < len(self._rows)

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if not self.canFetchMore(parent):
            return
        more = min(len(self._rows), 2 * max(self._shown, FIRST_ROWS // 2))
        self.beginInsertRows(QModelIndex(), self._shown, more - 1)
        self._shown = more
        self.endInsertRows()

    # -- in place, after an edit -----------------------------------------------------------------
    def update_people(self, update: PeopleUpdate) -> None:
        """The touched people's cards as read after an edit (changed, new or gone), and the groups if read."""
        if update.collection_id != self.collection_id:
            return
        for uid in update.gone:
            self._remove_card(("person", uid))
        for card in update.people:
            at = self._where.get(("person", card.key))
            if at is None:
                persons = sum(1 for c in self.cards if c.kind == "person")
                self._insert_card(persons, card)
                continue
            self.cards[at] = card
            text = card.search_text()
            if text != self._text[at] and (self.filter_text in text) != (self.filter_text in self._text[at]):
                self._remove_card(("person", card.key))  # it moves in or out of the filter: take it out, put it back
                self._insert_card(at, card)
                continue
            self._text[at] = text
            row = self._row_at.get(at)
            if row is not None and row < self._shown:
                index = self.index(row)
                self.dataChanged.emit(index, index)
        if update.people:
            self.names_read.emit(update.collection_id, {c.key: c.name for c in update.people})
        if update.groups is not None:
            self.set_groups(update.groups)
        if update.too_many:
            self.note, self.grouping_skipped = update.too_many, True
            self.notes_changed.emit()

    def set_groups(self, groups: list[PersonCard]) -> None:
        """Replace the unknown groups, all at once (they are the tail of the cards); the people's cards and
        the selection among them stay."""
        first = next((i for i, c in enumerate(self.cards) if c.kind == "group"), len(self.cards))
        # as many rows as the view had fetched; all of them if it had fetched all
        allowed = len(self.cards) + len(groups) if self._shown == len(self._rows) else max(self._shown, FIRST_ROWS)
        start = bisect_left(self._rows, first)  # the first group's row
        removed = start < self._shown  # some groups are shown: they leave the view
        if removed:
            self.beginRemoveRows(QModelIndex(), start, self._shown - 1)
        shown = start if removed else self._shown
        del self.cards[first:], self._text[first:]
        self._index_cards()
        self._filter()
        self._shown = min(shown, len(self._rows))
        if removed:
            self.endRemoveRows()
        everything_shown = self._shown == len(self._rows)
        self.cards += groups
        self._text += [c.search_text() for c in groups]
        self._index_cards()
        shown = self._shown
        self._filter()
        self._shown = shown
        more = min(len(self._rows), allowed) - shown if everything_shown else 0
        if more > 0:
            self.beginInsertRows(QModelIndex(), shown, shown + more - 1)
            self._shown = shown + more
            self.endInsertRows()
        if self.grouping_skipped or self.note:
            self.grouping_skipped, self.note = False, ""
            self.notes_changed.emit()

    def _remove_card(self, key: tuple[str, str]) -> None:
        at = self._where.get(key)
        if at is None:
            return
        row = self._row_at.get(at)
        visible = row is not None and row < self._shown
        if visible:
            assert row is not None
            self.beginRemoveRows(QModelIndex(), row, row)
        del self.cards[at]
        del self._text[at]
        shown = self._shown - (1 if visible else 0)
        self._index_cards()
        self._filter()
        self._shown = min(shown, len(self._rows)) if shown >= 0 else 0
        if visible:
            self.endRemoveRows()

    def _insert_card(self, at: int, card: PersonCard) -> None:
        text = card.search_text()
        passes = self.filter_text in text
        row = bisect_left(self._rows, at) if passes else None
        visible = row is not None and (row < self._shown or self._shown == len(self._rows))
        if visible:
            assert row is not None
            self.beginInsertRows(QModelIndex(), row, row)
        self.cards.insert(at, card)
        self._text.insert(at, text)
        shown = self._shown + (1 if visible else 0)
        self._index_cards()
        self._filter()
        self._shown = min(shown, len(self._rows))
        if visible:
            self.endInsertRows()

    # -- lookups ---------------------------------------------------------------------------------
    def card(self, row: int) -> PersonCard:
        """The card at a row of the model (the filtered, fetched rows)."""
        return self.cards[self._rows[row]]

    def row_of(self, kind: str, key: str) -> int | None:
        """The row of a card, or None if the filter hides it or the view has not fetched it yet."""
        at = self._where.get((kind, key))
        row = self._row_at.get(at) if at is not None else None
        return row if row is not None and row < self._shown else None

    def find(self, kind: str, key: str) -> PersonCard | None:
        """A card whether shown or not."""
        at = self._where.get((kind, key))
        return self.cards[at] if at is not None else None

    def face_counts(self) -> dict[str, int]:
        return {c.key: c.face_count for c in self.cards if c.kind == "person" and c.face_count is not None}

    # -- Qt model interface ------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._shown

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < self._shown:
            return None
        c = self.cards[self._rows[index.row()]]
        if role == Qt.ItemDataRole.DisplayRole:
            return c.title()
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return c.title().replace("·", ",")
        if role == Qt.ItemDataRole.ToolTipRole:
            if c.kind == "group":
                return f"{count(c.face_count or 0, 'face')} no user holds yet, that look alike (group {c.key})"
            cover = "\nCover chosen automatically: the face most like the others" if c.cover_automatic else ""
            return f"User {c.key}" + (f" ({c.name})" if c.name else "") + cover
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
        if collection_id != self.collection_id or not self._shown:
            return
        ready = set(face_ids)
        rows = [r for r in range(self._shown) if self.cards[self._rows[r]].cover_face_id in ready]
        for row in rows:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
