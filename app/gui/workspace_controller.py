"""What the window shows of the workspace: collections, users, the face grid; creating and deleting them.

Every read and write runs through the operation runner (a worker thread) and lands in the models by
signal; a result for a collection the window has since left is dropped. After an edit the models are
updated in place from its change set, and only what the change set does not tell is read again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.core.errors import ResourceNotFoundException

from .collection_model import describe_entry, read_collections
from .curation_jobs import face_counts, read_faces
from .face_model import FacePageQuery, read_face_pages
from .reason_text import count
from .settings import app_settings, last_collection_key, pins_key
from .user_model import count_and_name, read_users

if TYPE_CHECKING:
    from .main_window import MainWindow


class WorkspaceController(QObject):
    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.w = window
        self.engine = window.engine
        self.runner = window.runner
        window.face_model.page_loader = self._read_page
        self._first_listing = True  # the first read of the collections may offer the demo
        self.collection_id: str | None = None  # the collection shown (its users may still be on their way)
        self.users_loaded = False  # the users of collection_id have arrived (pins can be saved)

    # -- loading ---------------------------------------------------------------------------------
    def reload_collections(self, select: str | None = None):
        previous = select or self.w.current_collection() or self._remembered_collection()
        return self.runner.run("Reading the collections", partial(read_collections, self.engine),
                               partial(self._collections_read, previous), key="collections")

    def _collections_read(self, previous: str | None, entries) -> None:
        w = self.w
        w.collections_model.set_entries(entries)
        first, self._first_listing = self._first_listing, False
        if not entries:
            self.show_collection(None)
            if first:
                w.importer.offer_demo()
        else:
            row = w.collections_model.row_of(previous) if previous else None
            w.collections_view.setCurrentIndex(w.collections_model.index(row if row is not None else 0))
        w.update_state()

    def show_collection(self, collection_id: str | None) -> None:
        """Switch to a collection: its users and faces are read in the background."""
        w = self.w
        self.save_pins()
        self.collection_id, self.users_loaded = collection_id, False
        if collection_id is not None:  # the next start opens on it
            app_settings().setValue(last_collection_key(self.engine.workspace), collection_id)
        w.results_panel.show_collection(collection_id)
        w.users_model.set_users(None, [])
        w.face_model.load(None)
        if collection_id is None:
            w.update_state()
            return
        self.runner.run(f"Reading the users of {collection_id}", partial(read_users, self.engine, collection_id),
                        partial(self._users_read, collection_id), key="users", scope=collection_id)
        w.update_state()

    def _users_read(self, collection_id: str, listing) -> None:
        w = self.w
        user = w.current_user()
        w.users_model.set_users(collection_id, listing, self.load_pins(collection_id))
        self.users_loaded = True
        if user in w.users_model.user_ids():
            w.select_user(user)
        self.reload_faces()
        uncounted = w.users_model.uncounted()
        if uncounted:
            self.runner.run(f"Counting the faces of {count(len(uncounted), 'user')}",
                            partial(count_and_name, self.engine, collection_id, uncounted),
                            w.users_model.set_counts_and_names,
                            key="user-counts", scope=collection_id)
        w.update_state()

    def reload_faces(self) -> None:
        """Load the grid for the current collection, filter and user, in index order."""
        w = self.w
        w.similarity.unhide_rows()
        w.face_model.load(w.current_collection(), w.face_filter(), w.current_user())
        w.order_label.setText("in index order")
        self.refresh_rejected()
        w.update_state()

    def _read_page(self, query: FacePageQuery) -> None:
        model = self.w.face_model
        self.runner.run("Reading faces", partial(read_face_pages, self.engine, query), partial(model.add_page, query),
                        partial(self._page_failed, query), key="faces-page", scope=query.collection_id)

    def _page_failed(self, query: FacePageQuery, exc: BaseException) -> None:
        self.w.face_model.page_failed(query)
        self.w.report_error(f"Reading the faces of {query.collection_id}", exc)

    def refresh_rejected(self) -> None:
        cid, uid = self.w.current_collection(), self.w.current_user()
        if not (cid and uid):
            self.w.face_model.set_rejected(set())
            return
        self.runner.run("Reading “not this person” marks", partial(_rejected, self.engine, cid, uid),
                        self.w.face_model.set_rejected, key="rejected", scope=cid)

    # -- after an edit: update only what it touched ---------------------------------------------
    def apply_change_set(self, change_set: dict) -> None:
        """An edit's change set, applied to the models in place; what it does not tell is read in a worker."""
        w = self.w
        cid = change_set["CollectionId"]
        missing_faces: list[str] = []
        uncounted: list[str] = []
        if cid == w.current_collection():
            missing_faces = w.face_model.apply_change_set(change_set)
            uncounted = w.users_model.apply_user_changes(cid, change_set["UserChanges"])
            if any(u["UserId"] == w.current_user() for u in change_set["UserChanges"]):
                self.refresh_rejected()
        # the People cards of the users it touches; the groups only if the pool of unassigned faces changed
        touched = {u["UserId"] for u in change_set["UserChanges"]}
        touched |= {c[k] for c in change_set["FaceChanges"] for k in ("FromUserId", "ToUserId") if k in c}
        pool = any("FromUserId" not in c or "ToUserId" not in c for c in change_set["FaceChanges"])
        w.people.people_changed(cid, sorted(touched), pool)
        self.faces_changed(cid, missing_faces, uncounted, people=False)
        w.update_state()

    def faces_changed(self, collection_id: str, face_ids: list[str], user_ids: list[str], people: bool = True):
        """Re-read these faces, these users' counts and the collection's counts in a worker, then update in place
        (and the People cards of these users; the groups again if faces were named)."""
        if people:
            self.w.people.people_changed(collection_id, list(user_ids), bool(face_ids))
        return self.runner.run("Refreshing the window",
                               partial(read_changes, self.engine, collection_id, list(face_ids), list(user_ids)),
                               partial(self._changes_read, collection_id, list(face_ids)),
                               partial(self._changes_failed, collection_id))

    def _changes_read(self, collection_id: str, face_ids: list[str], read: dict) -> None:
        w = self.w
        if collection_id == w.current_collection():
            w.face_model.apply_faces(face_ids, read["faces"])
            w.users_model.update_counts(read["counts"])
        w.collections_model.set_entry(read["collection"])
        w.update_state()

    def _changes_failed(self, collection_id: str, exc: BaseException) -> None:
        if isinstance(exc, ResourceNotFoundException):
            self.reload_collections()
        else:
            self.w.report_error(f"Refreshing {collection_id}", exc)

    def reread_users(self) -> None:
        """Re-read the users of the collection in the background (one vanished or appeared), keeping the grid."""
        cid = self.w.current_collection()
        if cid is None:
            return
        self.runner.run(f"Reading the users of {cid}", partial(read_users, self.engine, cid),
                        partial(self._users_reread, cid), lambda _exc: self.reload_collections(), key="users",
                        scope=cid)

    def _users_reread(self, collection_id: str, listing) -> None:
        w = self.w
        user = w.current_user()
        counts = {e.user_id: e.face_count for e in (w.users_model.entry(r) for r in range(w.users_model.rowCount()))}
        w.users_model.set_users(collection_id, [{**u, "FaceCount": counts.get(u["UserId"])} for u in listing],
                                w.users_model.pins())
        w.select_user(user if user in w.users_model.user_ids() else None)
        w.update_state()

    # -- collections and users -------------------------------------------------------------------
    def create_collection(self, collection_id: str, then: Callable[[], object] | None = None,
                          failed: Callable[[BaseException], None] | None = None):
        """CreateCollection in the background; `then` runs once it is created and shown, `failed` if it is refused."""
        return self.runner.run(f"Creating collection {collection_id}",
                               partial(_create_collection, self.engine, collection_id),
                               partial(self._collection_created, then),
                               failed or partial(self.w.report_error, f"Creating collection {collection_id}"))

    def _collection_created(self, then: Callable[[], object] | None, entry) -> None:
        self.w.collections_model.add(entry)
        self.w.select_collection(entry.collection_id)
        self.w.update_state()
        if then is not None:
            then()

    def delete_collection(self, collection_id: str):
        return self.runner.run(f"Deleting collection {collection_id}",
                               partial(_delete_collection, self.engine, collection_id),
                               partial(self._collection_deleted, collection_id),
                               partial(self.w.report_error, f"Deleting collection {collection_id}"))

    def _collection_deleted(self, collection_id: str, _response) -> None:
        w = self.w
        w.undo_stack.clear()  # its commands name faces that no longer exist
        w.collections_model.remove(collection_id)
        if w.collections_model.rowCount():
            w.collections_view.setCurrentIndex(w.collections_model.index(0))
        else:
            self.show_collection(None)
        w.update_state()

    def create_user(self, user_id: str, failed: Callable[[BaseException], None] | None = None):
        cid = self.w.current_collection()
        if cid is None:
            return None
        return self.runner.run(f"Creating user {user_id}", partial(_create_user, self.engine, cid, user_id),
                               partial(self._user_created, cid, user_id),
                               failed or partial(self.w.report_error, f"Creating user {user_id}"), scope=cid)

    def _user_created(self, collection_id: str, user_id: str, _response) -> None:
        w = self.w
        row = w.users_model.add(user_id)
        w.users_view.setCurrentIndex(w.users_model.index(row))
        self.faces_changed(collection_id, [], [user_id])

    def delete_user(self, user_id: str):
        cid = self.w.current_collection()
        if cid is None:
            return None
        return self.runner.run(f"Deleting user {user_id}", partial(_delete_user, self.engine, cid, user_id),
                               partial(self._user_deleted, cid, user_id),
                               partial(self.w.report_error, f"Deleting user {user_id}"), scope=cid)

    def _user_deleted(self, collection_id: str, user_id: str, freed: list[str]) -> None:
        self.w.users_model.remove(user_id)
        self.faces_changed(collection_id, freed, [user_id])

    def _remembered_collection(self) -> str | None:
        value = app_settings().value(last_collection_key(self.engine.workspace))
        return value if isinstance(value, str) and value else None

    # -- number-key pins (kept per workspace and collection) ---------------------------------------
    def save_pins(self) -> None:
        cid = self.w.users_model.collection_id
        if cid is None or not self.users_loaded:
            return
        app_settings().setValue(pins_key(self.engine.workspace, cid),
                                {str(k): u for k, u in self.w.users_model.pins().items()})

    def load_pins(self, collection_id: str) -> dict[int, str]:
        raw = app_settings().value(pins_key(self.engine.workspace, collection_id), {}) or {}
        items = raw.items() if isinstance(raw, dict) else ()
        return {int(k): u for k, u in items if str(k).isdigit() and isinstance(u, str)}


# -- the jobs (run in a worker) -------------------------------------------------------------------
def read_changes(engine, collection_id: str, face_ids: list[str], user_ids: list[str], worker=None) -> dict:
    """What the window re-reads after an edit."""
    return {"faces": read_faces(engine, collection_id, face_ids), "counts": face_counts(engine, collection_id, user_ids),
            "collection": describe_entry(engine, collection_id)}


def _rejected(engine, collection_id: str, user_id: str, worker=None) -> set[str]:
    try:
        return set(engine.rejected_face_ids(collection_id, user_id))
    except ResourceNotFoundException:
        return set()


def _create_collection(engine, collection_id: str, worker=None):
    engine.create_collection(CollectionId=collection_id)
    return describe_entry(engine, collection_id)


def _delete_collection(engine, collection_id: str, worker=None) -> dict:
    return engine.delete_collection(CollectionId=collection_id)


def _create_user(engine, collection_id: str, user_id: str, worker=None) -> dict:
    return engine.create_user(CollectionId=collection_id, UserId=user_id)


def _delete_user(engine, collection_id: str, user_id: str, worker=None) -> list[str]:
    """DeleteUser; the faces it freed (read first: a user holds at most 100)."""
    owned = [f["FaceId"] for f in engine.list_faces(CollectionId=collection_id, UserId=user_id, MaxResults=100)["Faces"]]
    engine.delete_user(CollectionId=collection_id, UserId=user_id)
    return owned

