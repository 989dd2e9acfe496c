"""The faces of one collection as a list model, paged in through ListFaces with NextToken.

A thin adapter: rows hold what ListFaces returned. Pages are read by `read_face_pages` (no Qt);
in the window they are read in a worker (the model's `page_loader`, set by the window, runs the
read through the operation runner and hands the page to `add_page`), so scrolling never calls the
backend on the GUI thread. Edits never reset the model: change sets and `apply_faces` update the
rows they touch in place, so the selection and the scroll position stay.

A QStringListModel underneath: the icon view lays out every loaded row again on each insertion and
asks the row count twice per row; a Python rowCount made that a stall growing with the faces loaded.
Its list of empty strings, kept as long as the rows, gives Qt the count in C++; rows and roles stay here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from PySide6.QtCore import QByteArray, QModelIndex, QPersistentModelIndex, QStringListModel, Qt, Signal, Slot

from .curation_jobs import read_faces
from .mime import FACE_IDS_MIME, encode_faces

MAX_PAGES_PER_FETCH = 8  # a filtered fetch reads at most this many pages before yielding to the GUI


class FaceFilter(StrEnum):
    ALL = "all"
    UNASSIGNED = "unassigned"
    USER = "user"  # assigned to one user


class FaceRole(IntEnum):
    FaceId = Qt.ItemDataRole.UserRole + 1
    UserId = Qt.ItemDataRole.UserRole + 2
    ExternalImageId = Qt.ItemDataRole.UserRole + 3
    ImageId = Qt.ItemDataRole.UserRole + 4
    Confidence = Qt.ItemDataRole.UserRole + 5
    Thumbnail = Qt.ItemDataRole.UserRole + 6  # QPixmap, or None until loaded / when there is none
    Similarity = Qt.ItemDataRole.UserRole + 7  # to the face or user the grid is sorted by, or None
    Rejected = Qt.ItemDataRole.UserRole + 8  # marked "not this person" for the context user


@dataclass
class FaceEntry:
    face_id: str
    user_id: str | None
    external_image_id: str | None
    image_id: str
    confidence: float
    similarity: float | None = None

    @classmethod
    def from_face(cls, face: dict) -> FaceEntry:
        return cls(face["FaceId"], face.get("UserId"), face.get("ExternalImageId"), face["ImageId"], face["Confidence"])


@dataclass(frozen=True)
class FacePageQuery:
    """What to read for the grid's next page; `generation` ties the answer to the load that asked."""

    collection_id: str
    face_filter: FaceFilter
    filter_user: str | None
    token: str | None
    known: frozenset
    page_size: int
    generation: int


def face_matches(face: dict, face_filter: FaceFilter, filter_user: str | None) -> bool:
    if face_filter is FaceFilter.UNASSIGNED:
        return face.get("UserId") is None
    if face_filter is FaceFilter.USER:
        return face.get("UserId") == filter_user
    return True


def read_face_pages(engine, query: FacePageQuery, worker=None) -> tuple[list[FaceEntry], str | None]:
    """Read pages until some faces pass the filter or the pages run out: (new entries, next token)."""
    found: list[FaceEntry] = []
    token = query.token
    first = token is None
    for _ in range(MAX_PAGES_PER_FETCH):
        if not first and not token:
            break
        params: dict = {"CollectionId": query.collection_id, "MaxResults": query.page_size}
        if query.face_filter is FaceFilter.USER:
            params["UserId"] = query.filter_user
        if token:
            params["NextToken"] = token
        page = engine.list_faces(**params)
        first = False
        token = page.get("NextToken")
        found += [FaceEntry.from_face(f) for f in page["Faces"]
                  if face_matches(f, query.face_filter, query.filter_user) and f["FaceId"] not in query.known]
        if found or not token:
            break
    return found, token


_ITEM_FLAGS = (Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren
               | Qt.ItemFlag.ItemIsDragEnabled)
_ITEM_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole,
               Qt.ItemDataRole.AccessibleTextRole, *FaceRole)


class FaceListModel(QStringListModel):
    """A list model of faces; the inherited string list only carries the row count (see the module doc)."""

    page_added = Signal()  # a page of faces arrived (the window updates its counts and hints)

    def __init__(self, engine, thumbnails=None, page_size: int = 500, parent=None):
        super().__init__(parent)
        # first in line for rowsRemoved, so every other listener already sees the rows gone
        self.rowsRemoved.connect(self._drop_removed_rows)
        self.page_loader: Callable[[FacePageQuery], None] | None = None  # reads pages in the background
        self.generation = 0
        self.loading = False
        self._engine = engine
        self._thumbnails = thumbnails
        self._page_size = page_size
        self.collection_id: str | None = None
        self.face_filter = FaceFilter.ALL
        self.filter_user: str | None = None
        self._rows: list[FaceEntry] = []
        self._rows_by_id: dict[str, int] | None = {}
        self._token: str | None = None
        self._rejected: set[str] = set()
        self.sorted_by: str | None = None  # what the similarities are to, for the window's label
        self._names: dict[str, str] = {}  # photo names of the collection's faces seen so far (kept across filters)
        if thumbnails is not None:
            thumbnails.ready.connect(self._on_thumbnails_ready)

    # -- loading -------------------------------------------------------------------------------
    def load(self, collection_id: str | None, face_filter: FaceFilter = FaceFilter.ALL, user_id: str | None = None) -> None:
        """Show a collection's faces under a filter (a load, not an edit: the model is reset).

        With a page_loader the first page arrives later (add_page); without one (tests, tools) it
        is read here.
        """
        if face_filter is FaceFilter.USER and not user_id:
            face_filter = FaceFilter.ALL
        if collection_id != self.collection_id:
            self._names = {}
        self.collection_id = collection_id
        self.face_filter = FaceFilter(face_filter)
        self.filter_user = user_id if face_filter is FaceFilter.USER else None
        self._rows = []
        self._rows_by_id = {}
        self._token = None
        self._rejected = set()
        self.sorted_by = None
        self.generation += 1
        self.loading = collection_id is not None
        self.setStringList([])  # the reset: no rows
        if collection_id is not None:
            self._request_page(first=True)

    def page_query(self, first: bool = False) -> FacePageQuery:
        return FacePageQuery(self.collection_id or "", self.face_filter, self.filter_user, None if first else self._token,
                             frozenset(self._ids()), self._page_size, self.generation)

    def _request_page(self, first: bool = False) -> None:
        self.loading = True
        query = self.page_query(first)
        if self.page_loader is not None:
            self.page_loader(query)
        else:
            self.add_page(query, read_face_pages(self._engine, query))

    def add_page(self, query: FacePageQuery, page: tuple[list[FaceEntry], str | None]) -> None:
        """A page read for `query`; dropped if the model was re-loaded since."""
        if query.generation != self.generation:
            return
        entries, token = page
        self.loading = False
        self._token = token
        known = self._ids()
        self._append_entries([e for e in entries if e.face_id not in known], notify=True)
        self.page_added.emit()

    def page_failed(self, query: FacePageQuery) -> None:
        if query.generation == self.generation:
            self.loading = False

    def _matches(self, face: dict) -> bool:
        return face_matches(face, self.face_filter, self.filter_user)

    # -- Qt paging -------------------------------------------------------------------------------
    def canFetchMore(self, parent=QModelIndex()) -> bool:
        return not parent.isValid() and self.collection_id is not None and bool(self._token) and not self.loading

    def fetchMore(self, parent=QModelIndex()) -> None:
        if self.canFetchMore(parent):
            self._request_page()

    def _append_entries(self, entries: list[FaceEntry], notify: bool) -> list[FaceEntry]:
        if not entries:
            return entries
        first = len(self._rows)
        # appended before the rows are announced: rows past Qt's count are not asked for until then
        self._rows.extend(entries)
        self._names.update({e.face_id: e.external_image_id for e in entries if e.external_image_id})
        if self._rows_by_id is not None:
            for i, e in enumerate(entries, start=first):
                self._rows_by_id[e.face_id] = i
        if notify:
            super().insertRows(first, len(entries))
        return entries

    def _ids(self) -> dict[str, int]:
        if self._rows_by_id is None:
            self._rows_by_id = {e.face_id: i for i, e in enumerate(self._rows)}
        return self._rows_by_id

    # -- edits -----------------------------------------------------------------------------------
    def sync_faces(self, face_ids) -> None:
        """Re-read these faces and bring their rows up to date (tests and tools; the window reads in a
        worker and calls apply_faces)."""
        if self.collection_id is None:
            return
        self.apply_faces(face_ids, read_faces(self._engine, self.collection_id, face_ids))

    def apply_faces(self, face_ids, current: dict[str, dict]) -> None:
        """Bring the rows of `face_ids` up to date from `current` (ListFaces entries by FaceId; a face
        missing there was deleted). Rows that still pass the filter get dataChanged; faces that now
        pass it are appended; rows that no longer do are removed."""
        ids = self._ids()
        changed, gone, new = [], [], []
        for fid in dict.fromkeys(face_ids):
            face, row = current.get(fid), ids.get(fid)
            if face is not None and self._matches(face):
                if row is None:
                    new.append(FaceEntry.from_face(face))
                else:
                    entry = self._rows[row]
                    entry.user_id = face.get("UserId")
                    entry.external_image_id = face.get("ExternalImageId")
                    changed.append(row)
            elif row is not None:
                gone.append(row)
        self._owners_changed(changed)
        self._remove_rows(gone)
        self._append_entries(new, notify=True)

    def apply_change_set(self, change_set: dict) -> list[str]:
        """Apply a change set's new owners in place; the faces that now pass the filter but are not
        loaded (the caller reads them in a worker and passes them to apply_faces)."""
        if change_set["CollectionId"] != self.collection_id:
            return []
        ids = self._ids()
        changed, gone, missing = [], [], []
        for c in change_set["FaceChanges"]:
            owner = c.get("ToUserId")
            passes = self._matches({"UserId": owner})
            row = ids.get(c["FaceId"])
            if row is None:
                if passes:
                    missing.append(c["FaceId"])
            elif passes:
                self._rows[row].user_id = owner
                changed.append(row)
            else:
                gone.append(row)
        self._owners_changed(changed)
        self._remove_rows(gone)
        return missing

    def _owners_changed(self, rows: list[int]) -> None:
        for row in rows:
            index = self.index(row)
            self.dataChanged.emit(index, index, [FaceRole.UserId, Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole])

    def _remove_rows(self, rows: list[int]) -> None:
        if not rows:
            return
        rows = sorted(set(rows))
        # contiguous runs, removed from the bottom up so earlier row numbers stay valid
        runs, start, prev = [], rows[0], rows[0]
        for r in rows[1:]:
            if r != prev + 1:
                runs.append((start, prev))
                start = r
            prev = r
        runs.append((start, prev))
        for first, last in reversed(runs):
            QStringListModel.removeRows(self, first, last - first + 1)  # _drop_removed_rows takes them out of _rows

    @Slot(QModelIndex, int, int)
    def _drop_removed_rows(self, parent: QModelIndex, first: int, last: int) -> None:
        if not parent.isValid():
            del self._rows[first : last + 1]
            self._rows_by_id = None

    def set_rejected(self, face_ids) -> None:
        """The faces marked "not this person" for the user in context (the selected user)."""
        new = set(face_ids)
        flipped = self._rejected ^ new
        self._rejected = new
        ids = self._ids()
        for fid in flipped:
            row = ids.get(fid)
            if row is not None:
                index = self.index(row)
                self.dataChanged.emit(index, index, [FaceRole.Rejected, Qt.ItemDataRole.ToolTipRole])

    def set_similarities(self, similarities: dict, sorted_by: str | None) -> None:
        """Record each face's similarity (faces not given get None) and order rows by it, best first.

        A layout change, not a reset: persistent indexes (the selection, the current face) move
        with their faces.
        """
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        keyed = [(p, self._rows[p.row()].face_id) for p in persistent if p.isValid()]
        for e in self._rows:
            e.similarity = similarities.get(e.face_id)
        order = sorted(range(len(self._rows)),
                       key=lambda i: (self._rows[i].similarity is None, -(self._rows[i].similarity or 0.0), i))
        self._rows = [self._rows[i] for i in order]
        self._rows_by_id = None
        self.sorted_by = sorted_by
        ids = self._ids()
        self.changePersistentIndexList([p for p, _ in keyed], [self.index(ids[fid]) for _, fid in keyed])
        self.layoutChanged.emit()

    # -- lookups ---------------------------------------------------------------------------------
    def row_of(self, face_id: str) -> int | None:
        return self._ids().get(face_id)

    def entry(self, row: int) -> FaceEntry:
        return self._rows[row]

    def face_ids(self, indexes=None) -> list[str]:
        if indexes is None:
            return [e.face_id for e in self._rows]
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return [self._rows[r].face_id for r in rows]

    def photo_name(self, face_id: str) -> str | None:
        """The name of the photo a face of this collection came from, if the grid has seen the face."""
        return self._names.get(face_id)

    def is_rejected(self, face_id: str) -> bool:
        return face_id in self._rejected

    def label(self, row: int) -> str:
        e = self._rows[row]
        label = e.external_image_id or e.face_id[:8]
        return f"{label}  {e.similarity:.0f}" if e.similarity is not None else label

    def thumbnail(self, row: int):
        """The row's thumbnail (QPixmap), or None while it loads or when the face has none."""
        if self._thumbnails is None:
            return None
        return self._thumbnails.pixmap(self.collection_id, self._rows[row].face_id)

    def thumbnail_missing(self, row: int) -> bool:
        """The face has no stored crop (a remote endpoint returns none): not merely still loading."""
        return self._thumbnails is not None and self._thumbnails.missing(self.collection_id, self._rows[row].face_id)

    @Slot(str, object)
    def _on_thumbnails_ready(self, collection_id: str, face_ids) -> None:
        if collection_id != self.collection_id:
            return
        ids = self._ids()
        rows = [ids[f] for f in face_ids if f in ids]
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)),
                                  [FaceRole.Thumbnail, Qt.ItemDataRole.DecorationRole])

    # -- Qt model interface ----------------------------------------------------------------------
    # rowCount is the string list's (C++): kept as long as _rows by _append_entries and _remove_rows

    def insertRows(self, row: int, count: int, parent=QModelIndex()) -> bool:
        return False  # rows come from the backend only, never empty ones from a view

    def removeRows(self, row: int, count: int, parent=QModelIndex()) -> bool:
        return False  # nor do views remove them: a face leaves the grid when the backend says so

    def setData(self, index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        return False  # read-only: edits go through the backend and come back as change sets

    def moveRows(self, source_parent, source_row: int, count: int, destination_parent, destination_child: int) -> bool:
        return False  # the order is the index order or a similarity order (set_similarities)

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:  # not the string list's: see set_similarities
        return None

    def flags(self, index):
        return _ITEM_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def itemData(self, index) -> dict:
        """Every role `data` answers (QStringListModel's own would give the empty strings)."""
        values = {int(role): self.data(index, role) for role in _ITEM_ROLES} if index.isValid() else {}
        return {role: value for role, value in values.items() if value is not None}

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        e = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.label(index.row())
        if role in (FaceRole.Thumbnail, Qt.ItemDataRole.DecorationRole):
            return self.thumbnail(index.row())
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"Face {e.face_id}", f"Photo {e.external_image_id or e.image_id}",
                     f"User: {e.user_id}" if e.user_id else "Not assigned to a user"]
            if e.similarity is not None:
                lines.append(f"Similarity {e.similarity:.1f} to {self.sorted_by}")
            if e.face_id in self._rejected:
                lines.append("Marked: not this person")
            if self.thumbnail_missing(index.row()):
                lines.append("No face crop stored for this face")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            owner = f"assigned to {e.user_id}" if e.user_id else "unassigned"
            return f"Face from {e.external_image_id or e.image_id}, {owner}"
        if role == FaceRole.FaceId:
            return e.face_id
        if role == FaceRole.UserId:
            return e.user_id
        if role == FaceRole.ExternalImageId:
            return e.external_image_id
        if role == FaceRole.ImageId:
            return e.image_id
        if role == FaceRole.Confidence:
            return e.confidence
        if role == FaceRole.Similarity:
            return e.similarity
        if role == FaceRole.Rejected:
            return e.face_id in self._rejected
        return None

    def roleNames(self) -> dict:
        names = dict(super().roleNames())
        names.update({int(r): QByteArray(r.name.encode()) for r in FaceRole})
        return names

    # -- drag ------------------------------------------------------------------------------------
    def mimeTypes(self) -> list[str]:
        return [FACE_IDS_MIME]

    def mimeData(self, indexes):
        ids = self.face_ids(indexes)
        if not ids or self.collection_id is None:
            return None
        return encode_faces(self.collection_id, ids)

    def supportedDragActions(self):
        return Qt.DropAction.CopyAction

    def supportedDropActions(self):
        return Qt.DropAction.CopyAction
