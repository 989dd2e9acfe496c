"""The engine: one service object whose methods are the Rekognition operations.

`engine.call("AssociateFaces", {...})` and `engine.associate_faces(CollectionId=..., ...)` take
and return dicts with the AWS member names, like a boto3 client. The GUI, CLI and HTTP server
are thin adapters over it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from . import (
    association,
    change_sets,
    collection_ops,
    curation,
    curation_ops,
    face_groups,
    face_ops,
    journal,
    people,
    search_ops,
    suggestions,
    user_ops,
)
from . import capabilities as capabilities_module
from .analysis import FaceAnalyzer
from .analyzed_plan import plan_analyzed as _plan_analyzed
from .backend import Backend
from .compressed_index import CompressedIndex, load_sidecar
from .errors import InvalidParameterException
from .extension_model import EXTENSIONS
from .index_file import DamagedIndexError
from .null_members import drop_null_members
from .records import CollectionRow, get_collection, get_user, user_face_count, user_status
from .service_model import OPERATIONS
from .store import Store
from .validation import validate_request
from .vector_index import CollectionIndex, StaleIndexError
from .workspace import PRIVATE_FILE_MODE, make_private_dirs, resolve_workspace

_ANY_FACE_ID = "00000000-0000-0000-0000-000000000000"  # stands in for FaceIds when checking a request early

# The default face model: dlib ResNet descriptors on YuNet detections (see app.vision).
DEFAULT_FACE_MODEL_VERSION = "dlib_resnet_v1+yunet_2023mar"
# Collections at least this large keep their descriptor matrix in a sidecar file
# (<workspace>/index/collection-<pk>.index) so that opening them is one file read.
SIDECAR_MIN_FACES = 20_000
# Collections at least this large are searched through the compressed tier (compressed_index.py):
# int8 codes and error bounds in memory, descriptors read on demand from segment files, exact
# re-rank of the faces the bounds cannot rule out. Below it the descriptors fit in memory and the
# exact tier serves the full-scan reads (SuggestFaces) from memory (README, "compressed tier").
COMPRESSED_MIN_FACES = 1_000_000

_HANDLERS: dict[str, Callable] = {
    "CreateCollection": collection_ops.create_collection,
    "DeleteCollection": collection_ops.delete_collection,
    "DescribeCollection": collection_ops.describe_collection,
    "ListCollections": collection_ops.list_collections,
    "IndexFaces": face_ops.index_faces,
    "ListFaces": face_ops.list_faces,
    "DeleteFaces": face_ops.delete_faces,
    "CreateUser": user_ops.create_user,
    "DeleteUser": user_ops.delete_user,
    "ListUsers": user_ops.list_users,
    "AssociateFaces": association.associate_faces,
    "DisassociateFaces": association.disassociate_faces,
    "SearchUsers": search_ops.search_users,
    "SearchUsersByImage": search_ops.search_users_by_image,
    "SearchFaces": search_ops.search_faces,
    "SearchFacesByImage": search_ops.search_faces_by_image,
    # extensions (ours): see extension_model.py and the README
    "PlanAssociation": curation_ops.plan,
    "MoveFaces": curation_ops.move_faces,
    "PlanMerge": curation_ops.plan_merge,
    "MergeUsers": curation_ops.merge_users,
    "SplitUser": curation_ops.split_user,
    "ApplyChangeSet": change_sets.apply_change_set,
    # people and groups (ours): face_groups.py, people.py, suggestions.py
    "ClusterFaces": face_groups.cluster_faces,
    "NameGroup": face_groups.name_group,
    "SuggestUsers": face_groups.suggest_users,
    "SuggestFaces": suggestions.suggest_faces,
    "DescribePeople": people.describe_people,
    "ProposeUserId": people.propose_user_id,
    "UpdatePerson": people.update_person,
}
assert set(_HANDLERS) == set(OPERATIONS) | set(EXTENSIONS)


def _close_index(index: CollectionIndex | None) -> None:
    if isinstance(index, CompressedIndex):
        index.close()


class WriteTransaction:
    """A write in progress: the connection, and index updates to apply once it commits."""

    def __init__(self, conn):
        self.conn = conn
        self.on_commit: list[Callable[[], None]] = []


class Engine(Backend):
    # everything beyond the API is here: crops, previews, dry runs, the journal, local analysis
    capabilities = capabilities_module.ALL

    def __init__(
        self,
        workspace: str | os.PathLike | None = None,
        analyzer: FaceAnalyzer | None = None,
        analyzer_factory: Callable[[], FaceAnalyzer] | None = None,
        face_model_version: str | None = None,
    ):
        self.store = Store(resolve_workspace(workspace))
        self.workspace = self.store.workspace
        self._analyzer = analyzer
        self._analyzer_factory = analyzer_factory
        self.face_model_version = face_model_version or (analyzer.model_version if analyzer else DEFAULT_FACE_MODEL_VERSION)
        self.lock = threading.RLock()
        self._indexes: dict[int, CollectionIndex] = {}
        self._saved_generation: dict[int, int] = {}  # collection pk -> generation of its sidecar file

    # -- calling ---------------------------------------------------------------------------
    def call(self, operation: str, params: dict | None = None) -> dict:
        params = {} if params is None else drop_null_members(operation, params)
        validate_request(operation, params)
        return _HANDLERS[operation](self, params)

    def close(self) -> None:
        with self.lock:
            for pk, index in self._indexes.items():
                self._save_sidecar(pk, index)
                _close_index(index)
            self._indexes.clear()
            self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- pieces the operations share -------------------------------------------------------
    @property
    def analyzer(self) -> FaceAnalyzer:
        with self.lock:
            if self._analyzer is None:
                if self._analyzer_factory is None:
                    raise InvalidParameterException(
                        "This engine has no face analyzer, so it cannot read images; open it with an analyzer "
                        "(the applications use app.vision.default_analyzer)"
                    )
                # built on first use: loading the models takes a moment and only image operations need them
                self._analyzer = self._analyzer_factory()
            return self._analyzer

    def analyzer_for(self, collection: CollectionRow) -> FaceAnalyzer:
        analyzer = self.analyzer
        if analyzer.model_version != collection.model_version:
            raise InvalidParameterException(
                f"Collection {collection.collection_id} uses face model {collection.model_version}, but the loaded "
                f"analyzer is {analyzer.model_version}; faces from different models are never compared"
            )
        return analyzer

    @contextmanager
    def writing(self):
        """One write transaction; index updates queued on it run after the commit."""
        with self.lock:
            with self.store.write() as conn:
                tx = WriteTransaction(conn)
                yield tx
            for update in tx.on_commit:
                update()

    def index_for(self, conn, collection: CollectionRow) -> CollectionIndex | None:
        """The collection's in-memory index, loaded or brought up to date as needed.

        Call with the engine lock held. None while the collection has no face yet. Large
        collections are loaded from their sidecar file when it exists (then caught up with the
        database), else from the database (and the sidecar is written for next time).
        """
        index = self._indexes.get(collection.pk)
        if index is not None and index.generation == collection.generation:
            return index
        if index is not None:
            try:
                index.resync(conn, collection.pk, collection.generation)
                return index
            except (StaleIndexError, DamagedIndexError):
                self.forget_index(collection.pk, keep_file=True)
                index = None
        row = conn.execute("SELECT length(descriptor) FROM faces WHERE collection_pk = ? LIMIT 1", (collection.pk,)).fetchone()
        if row is None:
            return None
        dim = row[0] // 4
        # schema 7's face count (in this transaction's snapshot) instead of a COUNT(*) beside the file's
        # reads: at 1e7 faces, cold, loading took 2.13 s with it, 1.56 s without (bench_open_cold --count-ab)
        count = conn.execute("SELECT face_count FROM collections WHERE pk = ?", (collection.pk,)).fetchone()[0]
        loaded = load_sidecar(self._sidecar_path(collection.pk), collection.pk, dim)
        if loaded is not None:
            self._saved_generation[collection.pk] = loaded.generation
            try:
                if loaded.generation != collection.generation:
                    loaded.resync(conn, collection.pk, collection.generation)
                # a file that is intact but does not describe this database (restored from elsewhere,
                # or written by a buggy build) must not answer searches
                if loaded.live_count == count:
                    index = loaded
                    if getattr(loaded, "upgraded", False):  # an older format, converted on load
                        self._saved_generation.pop(collection.pk, None)
                        self._save_sidecar(collection.pk, loaded)
            except (StaleIndexError, DamagedIndexError):
                pass
            if index is None:
                _close_index(loaded)
                self._saved_generation.pop(collection.pk, None)
        if index is None:
            if count >= COMPRESSED_MIN_FACES:
                index = CompressedIndex.build(conn, collection.pk, dim, collection.generation,
                                              self._sidecar_path(collection.pk).parent,
                                              f"collection-{collection.pk}")
            else:
                index = CollectionIndex.load(conn, collection.pk, dim, collection.generation)
            self._save_sidecar(collection.pk, index)
        self._indexes[collection.pk] = index
        return index

    def search_index(self, conn, collection: CollectionRow, search: Callable[[CollectionIndex], object]):
        """`search(index)` on the collection's index (None if it has no face yet).

        An index file found damaged while searching (a block of descriptors on disk failing its checksum)
        is dropped and the search answered from an index rebuilt from the database.
        """
        index = self.index_for(conn, collection)
        if index is None:
            return None
        try:
            return search(index)
        except DamagedIndexError:
            self.forget_index(collection.pk)
            index = self.index_for(conn, collection)
            return None if index is None else search(index)

    def _sidecar_path(self, collection_pk: int) -> Path:
        return self.workspace / "index" / f"collection-{collection_pk}.index"

    def _save_sidecar(self, collection_pk: int, index: CollectionIndex) -> None:
        """Keep the matrix next to the database for a fast next open (large collections only)."""
        if self._saved_generation.get(collection_pk) == index.generation:
            return
        if index.live_count < SIDECAR_MIN_FACES and not isinstance(index, CompressedIndex):
            return
        try:
            make_private_dirs(self._sidecar_path(collection_pk).parent)
            index.save(self._sidecar_path(collection_pk), collection_pk)
            os.chmod(self._sidecar_path(collection_pk), PRIVATE_FILE_MODE)  # descriptors: owner-only
            self._saved_generation[collection_pk] = index.generation
        except OSError:
            pass  # a cache only: the database stays the source of truth

    def after_write(self, tx: WriteTransaction, collection: CollectionRow, update: Callable[[CollectionIndex], None]) -> None:
        """Apply `update` to the collection's index after commit, if the index is current.

        The transaction bumped the generation by one; an index that already lagged behind is
        left for index_for to resync.
        """

        def apply():
            index = self._indexes.get(collection.pk)
            if index is None:
                return
            if index.generation == collection.generation:
                try:
                    update(index)
                except DamagedIndexError:
                    self.forget_index(collection.pk)
                    return
                index.generation = collection.generation + 1
                if not isinstance(index, CompressedIndex) and index.live_count >= COMPRESSED_MIN_FACES:
                    # grown past the switch-over: hand the descriptors to segment files
                    self._indexes[collection.pk] = CompressedIndex.from_index(
                        index, self._sidecar_path(collection.pk).parent, f"collection-{collection.pk}")

        tx.on_commit.append(apply)

    def forget_index(self, collection_pk: int, keep_file: bool = False) -> None:
        """Drop a collection's in-memory index and (unless keep_file) its sidecar and segment files."""
        with self.lock:
            _close_index(self._indexes.pop(collection_pk, None))
            self._saved_generation.pop(collection_pk, None)
            if keep_file:
                return
            self._sidecar_path(collection_pk).unlink(missing_ok=True)
            for segment in self._sidecar_path(collection_pk).parent.glob(f"collection-{collection_pk}-*.seg"):
                try:
                    segment.unlink()
                except OSError:
                    pass  # still mapped by another process (Windows); unused segments go at a later save

    # -- curation extensions (ours, see curation.py) ----------------------------------------
    def face_thumbnails(self, collection_id: str, face_ids) -> dict[str, bytes]:
        return curation.face_thumbnails(self, collection_id, face_ids)

    def face_details(self, collection_id: str, face_ids) -> dict[str, dict]:
        return curation.face_details(self, collection_id, face_ids)

    def image_preview(self, collection_id: str, image_id: str) -> bytes | None:
        return curation.image_preview(self, collection_id, image_id)

    def set_not_this_person(self, collection_id: str, user_id: str, face_ids, rejected: bool = True) -> dict:
        return curation.set_not_this_person(self, collection_id, user_id, face_ids, rejected)

    def rejected_face_ids(self, collection_id: str, user_id: str) -> set[str]:
        return curation.rejected_face_ids(self, collection_id, user_id)

    def store_analyzed(self, collection_id: str, items, quality_filter: str = "AUTO", max_faces: int | None = None) -> list[dict]:
        """IndexFaces for many already-analysed images in one transaction (folder imports)."""
        options = {"QualityFilter": quality_filter, **({"MaxFaces": max_faces} if max_faces is not None else {})}
        validate_request("IndexFaces", {"CollectionId": collection_id, "Image": {"Bytes": b"-"}, **options})
        for item in items:
            if item.external_image_id is not None:
                validate_request("IndexFaces", {"CollectionId": collection_id, "Image": {"Bytes": b"-"},
                                                "ExternalImageId": item.external_image_id})
        return face_ops.store_analyzed(self, collection_id, items, quality_filter, max_faces)

    def plan_analyzed(self, collection_id: str, user_id: str, items, threshold: float | None = 75.0,
                      quality_filter: str = "AUTO", max_faces: int | None = None) -> dict:
        """What store_analyzed(items) and then AssociateFaces of the faces stored would do, decided by
        PlanAssociation's own rule (app/core/analyzed_plan.py); writes nothing."""
        options = {"QualityFilter": quality_filter, **({"MaxFaces": max_faces} if max_faces is not None else {})}
        validate_request("IndexFaces", {"CollectionId": collection_id, "Image": {"Bytes": b"-"}, **options})
        validate_request("PlanAssociation", {"CollectionId": collection_id, "UserId": user_id, "FaceIds": [_ANY_FACE_ID],
                                             **({"UserMatchThreshold": threshold} if threshold is not None else {})})
        return _plan_analyzed(self, collection_id, user_id, list(items), threshold, quality_filter, max_faces)

    @property
    def read_only(self) -> bool:
        """The workspace could only be opened for reading: writes are refused (AccessDeniedException)."""
        return self.store.read_only

    def analyzer_for_collection(self, collection_id: str) -> FaceAnalyzer:
        """The analyzer for a collection's face model (ResourceNotFoundException for an unknown
        collection, InvalidParameterException when the loaded analyzer is another model)."""
        validate_request("DescribeCollection", {"CollectionId": collection_id})
        with self.store.read() as conn:
            collection = get_collection(conn, collection_id)
        return self.analyzer_for(collection)

    def describe_user(self, collection_id: str, user_id: str) -> dict:
        """{"UserId", "FaceCount", "UserStatus"} of one user (ResourceNotFoundException if it does not exist)."""
        validate_request("CreateUser", {"CollectionId": collection_id, "UserId": user_id})
        with self.store.read() as conn:
            user = get_user(conn, get_collection(conn, collection_id), user_id)
            count = user_face_count(conn, user.pk)
        return {"UserId": user_id, "FaceCount": count, "UserStatus": user_status(count)}

    def journal_entries(self, after_seq: int = 0, collection_id: str | None = None, limit: int | None = None) -> list[dict]:
        with self.store.read() as conn:
            return journal.entries(conn, after_seq, collection_id, limit)
