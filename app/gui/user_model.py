"""Users of one collection as a list model: id, status, face budget "n / 100", pinned key."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt, Signal

from app.core.association_plan import MAX_FACES_PER_USER
from app.core.capabilities import CapabilityUnavailable

from .curation_jobs import face_count
from .face_delegate import user_colour
from .owner_colours import OWNER_COLOURS

UPDATING = "UPDATING"  # what a user shows while a worker associates or disassociates its faces


class UserRole(IntEnum):
    UserId = Qt.ItemDataRole.UserRole + 1
    FaceCount = Qt.ItemDataRole.UserRole + 2
    Status = Qt.ItemDataRole.UserRole + 3
    PinnedKey = Qt.ItemDataRole.UserRole + 4  # 1..9, or None


@dataclass
class UserEntry:
    user_id: str
    face_count: int | None  # None until counted (counting runs in the background for big collections)
    listed_status: str = "CREATED"  # what ListUsers said
    busy: int = 0  # workers running on this user now

    @property
    def status(self) -> str:
        if self.busy:
            return UPDATING
        if self.face_count is None:
            return self.listed_status
        return "ACTIVE" if self.face_count else "CREATED"

    @property
    def budget(self) -> str:
        return f"{'…' if self.face_count is None else self.face_count} / {MAX_FACES_PER_USER}"


def read_users(engine, collection_id: str, worker=None) -> list[dict]:
    """Every user of a collection, as ListUsers gives them (creation order)."""
    users: list[dict] = []
    params: dict = {"CollectionId": collection_id, "MaxResults": 500}
    while True:
        page = engine.list_users(**params)
        users += page["Users"]
        if not page.get("NextToken"):
            return users
        params["NextToken"] = page["NextToken"]


def count_faces(engine, collection_id: str, user_ids, worker=None) -> dict[str, int]:
    """Face count per user (a background job): one DescribePeople for all of them where the backend has
    it, else one ListFaces per user (a remote endpoint)."""
    return count_and_name(engine, collection_id, user_ids, worker)[0]


def count_and_name(engine, collection_id: str, user_ids, worker=None) -> tuple[dict[str, int], dict[str, str]]:
    """Face counts and display names per user (a background job), from one DescribePeople; a remote
    endpoint has no display names: one ListFaces per user counts the faces."""
    try:
        people = engine.describe_people(CollectionId=collection_id)["People"]
    except CapabilityUnavailable:
        pass
    else:
        wanted = set(user_ids)
        mine = [p for p in people if p["UserId"] in wanted]
        return ({p["UserId"]: int(p["FaceCount"]) for p in mine},
                {p["UserId"]: p["DisplayName"] for p in mine if p.get("DisplayName")})
    counts = {}
    for n, user_id in enumerate(user_ids):
        if worker is not None:
            worker.check_cancelled()
            worker.report(n, len(user_ids), "Counting faces per user")
        counts[user_id] = face_count(engine, collection_id, user_id)
    return counts, {}


class UserListModel(QAbstractListModel):
    names_changed = Signal()  # display names learnt or changed: views that show owners repaint

    def __init__(self, engine, parent=None):
        super().__init__(parent)
        self._names: dict[str, str] = {}  # UserId -> display name, for the users that have one
        self._engine = engine
        self.collection_id: str | None = None
        self._rows: list[UserEntry] = []
        self._pins: dict[int, str] = {}

    # -- loading and edits -------------------------------------------------------------------
    def load(self, collection_id: str | None, pins: dict[int, str] | None = None, counts: bool = True) -> None:
        """Read the users of a collection here (tests and tools; the window reads them in a worker
        with read_users and calls set_users). With counts=False the face counts are left for set_counts."""
        listing = read_users(self._engine, collection_id) if collection_id is not None else []
        names: dict[str, str] = {}
        if counts and collection_id is not None:
            found, names = count_and_name(self._engine, collection_id, [u["UserId"] for u in listing])
            listing = [{**u, "FaceCount": found[u["UserId"]]} for u in listing]
        self.set_users(collection_id, listing, pins)
        self.set_names(names)

    def set_users(self, collection_id: str | None, listing: list[dict], pins: dict[int, str] | None = None) -> None:
        """Show these users (ListUsers entries, with FaceCount where known): a load, the model is reset."""
        rows = [UserEntry(u["UserId"], u.get("FaceCount"), u.get("UserStatus", "CREATED")) for u in listing]
        self.beginResetModel()
        if collection_id != self.collection_id:
            self._names = {}
        self.collection_id = collection_id
        self._rows = rows
        known = {e.user_id for e in rows}
        self._pins = {k: u for k, u in (pins or {}).items() if u in known and 1 <= k <= 9}
        OWNER_COLOURS.assign(known)
        self.endResetModel()

    def add(self, user_id: str, face_count: int = 0) -> int:
        """Append a newly created user (ListUsers orders by creation); its row."""
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(UserEntry(user_id, face_count))
        OWNER_COLOURS.add(user_id)
        self.endInsertRows()
        return row

    def remove(self, user_id: str) -> None:
        row = self.row_of(user_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self.endRemoveRows()
        self._names.pop(user_id, None)
        self._pins = {k: u for k, u in self._pins.items() if u != user_id}

    def refresh_counts(self, user_ids) -> None:
        for user_id in set(user_ids):
            row = self.row_of(user_id)
            if row is None:
                continue
            assert self.collection_id is not None  # rows exist only for a loaded collection
            self._rows[row].face_count = face_count(self._engine, self.collection_id, user_id)
            self._changed(row, [UserRole.FaceCount, UserRole.Status])

    def apply_user_changes(self, collection_id: str, user_changes: list[dict]) -> list[str]:
        """A change set's users: created ones added, deleted ones removed, counts set; the users whose
        count the change set does not give (the caller counts them in a worker)."""
        if collection_id != self.collection_id:
            return []
        uncounted = []
        for change in user_changes:
            uid, row = change["UserId"], self.row_of(change["UserId"])
            if change["Change"] == "DELETE":
                self.remove(uid)
                continue
            count = change.get("FaceCount")
            if row is None:
                row = len(self._rows)
                self.beginInsertRows(QModelIndex(), row, row)
                self._rows.append(UserEntry(uid, count))
                self.endInsertRows()
            elif count is not None:
                self._rows[row].face_count = count
                self._changed(row, [UserRole.FaceCount, UserRole.Status])
            if count is None:
                uncounted.append(uid)
        return uncounted

    def update_counts(self, counts: dict[str, int]) -> None:
        """Counts just read after an edit (they replace what the rows had)."""
        for user_id, count in counts.items():
            row = self.row_of(user_id)
            if row is not None:
                self._rows[row].face_count = count
                self._changed(row, [UserRole.FaceCount, UserRole.Status])

    def set_counts(self, counts: dict[str, int]) -> None:
        """Fill in counts from a background count; a count already refreshed after an edit is kept."""
        changed = []
        for row, entry in enumerate(self._rows):
            if entry.face_count is None and entry.user_id in counts:
                entry.face_count = counts[entry.user_id]
                changed.append(row)
        if changed:  # one signal for the span (10,000 users: not 10,000 signals)
            roles = [UserRole.FaceCount, UserRole.Status, Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole]
            self.dataChanged.emit(self.index(changed[0]), self.index(changed[-1]), roles)

    def set_counts_and_names(self, found: tuple[dict[str, int], dict[str, str]]) -> None:
        self.set_counts(found[0])
        self.set_names(found[1])

    def set_names(self, names: dict[str, str]) -> None:
        """Display names as just read (a name set to "" is taken away): one signal for the rows, one for owners."""
        changed = [uid for uid, name in names.items() if self._names.get(uid, "") != name]
        if not changed:
            return
        for uid in changed:
            if names[uid]:
                self._names[uid] = names[uid]
            else:
                self._names.pop(uid, None)
        rows = [r for r in (self.row_of(uid) for uid in changed) if r is not None] if len(changed) < 50 \
            else [i for i, e in enumerate(self._rows) if e.user_id in names]
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)),
                                  [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole])
        self.names_changed.emit()

    def shown_name(self, user_id: str) -> str:
        """A user as the curator knows them: the display name, else the UserId."""
        return self._names.get(user_id) or user_id

    def uncounted(self) -> list[str]:
        return [e.user_id for e in self._rows if e.face_count is None]

    def set_busy(self, user_ids, busy: bool) -> None:
        """Show UPDATING while a worker runs on these users (counted: workers may overlap)."""
        for user_id in set(user_ids):
            row = self.row_of(user_id)
            if row is None:
                continue
            entry = self._rows[row]
            entry.busy = max(0, entry.busy + (1 if busy else -1))
            self._changed(row, [UserRole.Status])

    # -- pins: number keys 1-9 ----------------------------------------------------------------
    def pins(self) -> dict[int, str]:
        return dict(self._pins)

    def pinned_user(self, key: int) -> str | None:
        return self._pins.get(key)

    def pin(self, user_id: str, key: int | None = None) -> int | None:
        """Pin a user to a number key (the first free one by default); the key, or None if all are taken."""
        if self.row_of(user_id) is None:
            raise KeyError(user_id)
        old = [k for k, u in self._pins.items() if u == user_id]
        if key is None:
            if old:
                return old[0]
            key = next((k for k in range(1, 10) if k not in self._pins), None)
            if key is None:
                return None
        if not 1 <= key <= 9:
            raise ValueError(f"pin keys are 1 to 9, not {key}")
        displaced = self._pins.get(key)
        for k in old:
            del self._pins[k]
        self._pins[key] = user_id
        for uid in (u for u in (user_id, displaced) if u is not None):
            row = self.row_of(uid)
            if row is not None:
                self._changed(row, [UserRole.PinnedKey])
        return key

    def unpin(self, user_id: str) -> None:
        self._pins = {k: u for k, u in self._pins.items() if u != user_id}
        row = self.row_of(user_id)
        if row is not None:
            self._changed(row, [UserRole.PinnedKey])

    # -- lookups ---------------------------------------------------------------------------
    def row_of(self, user_id: str) -> int | None:
        return next((i for i, e in enumerate(self._rows) if e.user_id == user_id), None)

    def user_ids(self) -> list[str]:
        return [e.user_id for e in self._rows]

    def entry(self, row: int) -> UserEntry:
        return self._rows[row]

    def _changed(self, row: int, roles: list) -> None:
        index = self.index(row)
        self.dataChanged.emit(index, index, [*roles, Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole])

    # -- Qt model interface ----------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index):
        base = super().flags(index)
        # drops land on a user row (the view handles them; the model only says it may)
        return base | Qt.ItemFlag.ItemIsDropEnabled if index.isValid() else base

    def _key_of(self, user_id: str) -> int | None:
        return next((k for k, u in self._pins.items() if u == user_id), None)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        e = self._rows[index.row()]
        key = self._key_of(e.user_id)
        name = self._names.get(e.user_id)
        if role == Qt.ItemDataRole.DisplayRole:
            prefix = f"[{key}] " if key else ""
            return f"{prefix}{name or e.user_id}   {e.budget}   {e.status.capitalize()}"
        if role == Qt.ItemDataRole.DecorationRole:  # the colour of the user's band in the face grid
            return user_colour(e.user_id)
        if role == Qt.ItemDataRole.ToolTipRole:
            pin = f"\nPress {key} in the face grid to associate selected faces" if key else ""
            who = f"{name} (UserId {e.user_id})" if name else e.user_id
            return f"{who}: {e.budget} faces, {e.status.capitalize()}{pin}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"User {name or e.user_id}, {e.budget} faces, {e.status.capitalize()}"
        if role == UserRole.UserId:
            return e.user_id
        if role == UserRole.FaceCount:
            return e.face_count
        if role == UserRole.Status:
            return e.status
        if role == UserRole.PinnedKey:
            return key
        return None

    def roleNames(self) -> dict:
        names = dict(super().roleNames())
        names.update({int(r): QByteArray(r.name.encode()) for r in UserRole})
        return names
