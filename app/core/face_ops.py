"""IndexFaces, ListFaces, DeleteFaces, and the batched storage path behind IndexFaces."""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from . import erasure, face_keys, journal
from .analysis import ImageAnalysis
from .detail_codec import encode_detail
from .errors import InvalidPaginationTokenException, InvalidParameterException, InvalidS3ObjectException
from .ids import face_ids, image_id
from .model_versions import numeric_version
from .pagination import decode_token, encode_token
from .quality import select_faces
from .records import FACE_COLUMNS, FACE_FROM, bump_generation, face_from_row, get_collection
from .store import BUSY_TIMEOUT_MS

DEFAULT_PAGE_SIZE = 1000  # ours: ListFaces MaxResults absent or 0


def image_bytes(p: dict) -> bytes:
    """The request's Image.Bytes; exactly one image source must be given."""
    image = p["Image"]
    if "S3Object" in image and "Bytes" in image:
        raise InvalidParameterException("Image: give either Bytes or S3Object, not both")
    if "S3Object" in image:
        raise InvalidS3ObjectException("Image.S3Object: the local engine cannot read S3 objects; send the photo as Image.Bytes")
    if "Bytes" not in image:
        raise InvalidParameterException("Image: Bytes is required (the local engine reads image bytes only)")
    return bytes(image["Bytes"])


@dataclass
class AnalyzedImage:
    """One image ready to store: its digest, ExternalImageId and what the analyzer found."""

    sha256: str
    external_image_id: str | None
    analysis: ImageAnalysis
    request: dict | None = None  # what the journal records as the request


def index_faces(engine, p: dict) -> dict:
    data = image_bytes(p)
    with engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
    analysis = engine.analyzer_for(coll).analyze(data)  # outside any transaction: it is slow
    item = AnalyzedImage(hashlib.sha256(data).hexdigest(), p.get("ExternalImageId"), analysis, p)
    return store_analyzed(engine, p["CollectionId"], [item], p.get("QualityFilter", "AUTO"), p.get("MaxFaces"))[0]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a call stores a batch.

    A batch allocates a few dicts per face (responses, journal entries) and frees them all at the
    end; the collector, triggered by the allocations alone, took 8 % of the bulk storage path
    (py-spy at 1.1e6 faces) and finds nothing to free here. Reference counting still frees as
    usual; the collector runs again afterwards (unless it was off already).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def descriptor_matrix(faces: list, dim: int | None) -> np.ndarray:
    """The faces' descriptors as one float32 matrix, checked once for shape and finiteness."""
    if not faces:
        return np.zeros((0, dim or 0), np.float32)
    try:
        vectors = np.asarray([f.descriptor for f in faces], dtype=np.float32)
    except ValueError:
        raise InvalidParameterException("Analyzer produced descriptors of different lengths") from None
    if vectors.ndim != 2 or (dim is not None and vectors.shape[1] != dim) or not np.isfinite(vectors).all():
        raise InvalidParameterException(
            f"Analyzer produced invalid descriptors (shape {vectors.shape}, expected length {dim}, all finite)")
    return vectors


def _inserted_pks(conn, collection_pk: int, fids: list[str], pk_before: int) -> list[int]:
    """The pks of the faces just inserted, in order, by one executemany in this write transaction.

    AUTOINCREMENT hands out consecutive rowids inside one write transaction, so they end at
    last_insert_rowid(); the first and last are checked by primary key, and anything unexpected
    falls back to reading the rows above the largest pk before the insert.
    """
    last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
    first = last - len(fids) + 1
    # by primary key only: with "AND collection_pk = ?" SQLite may walk faces_by_collection instead
    ends = {pk: (coll, fid) for pk, coll, fid in conn.execute(
        "SELECT pk, collection_pk, face_id FROM faces WHERE pk IN (?, ?)", (first, last))}
    if first > pk_before and ends.get(first) == (collection_pk, fids[0]) and ends.get(last) == (collection_pk, fids[-1]):
        return list(range(first, last + 1))
    by_id = {fid: pk for pk, fid in conn.execute(
        "SELECT pk, face_id FROM faces WHERE pk > ? AND collection_pk = ?", (pk_before, collection_pk))}
    return [by_id[fid] for fid in fids]


_INSERT_FACE = (
    "INSERT INTO faces(collection_pk, face_id, image_pk, image_id, external_image_id, bbox_width, bbox_height,"
    " bbox_left, bbox_top, confidence, detail, model_version, descriptor, created_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")


def store_analyzed(engine, collection_id: str, items: list[AnalyzedImage], quality_filter: str = "AUTO",
                   max_faces: int | None = None) -> list[dict]:
    """Store many analysed images in ONE transaction; an IndexFaces response per image.

    The new faces of all images go in by one INSERT statement (executemany), their keys into
    face_keys at once; each image then gets its response and journal row, written by one more.
    """
    with _gc_paused(), engine.writing() as tx:
        conn = tx.conn
        coll = get_collection(conn, collection_id)
        model = coll.model_version
        dim_row = conn.execute("SELECT length(descriptor) FROM faces WHERE collection_pk = ? LIMIT 1", (coll.pk,)).fetchone()
        dim = dim_row[0] // 4 if dim_row else None
        now = time.time()
        planned, rows, fresh_ids, fresh_faces = [], [], [], []
        pending: set[str] = set()  # FaceIds this call inserts
        new_images: dict[str, int] = {}  # ImageId -> pk of the photos this call inserts
        img_ids = [image_id(model, item.sha256, item.external_image_id) for item in items]
        # the photos stored before, found by one lookup for the whole call (not one per photo)
        stored_images = face_keys.image_pks(conn, coll.pk, img_ids)
        keyed = face_keys.uses_keys(conn)
        for item, img_id in zip(items, img_ids, strict=True):
            a = item.analysis
            ext = item.external_image_id
            kept, unindexed = select_faces(a.faces, a.width, a.height, quality_filter, max_faces)
            # a photo is kept only for the faces indexed from it (see erasure.py): none, no photo
            image_pk, new_image = (_image_pk(conn, coll.pk, img_id, item, now, new_images, stored_images, keyed) if kept
                                   else (None, False))
            vectors = descriptor_matrix([face for _place, face in kept], dim)
            dim = dim or (vectors.shape[1] if len(vectors) else None)
            fids = face_ids(model, item.sha256, ext, [place for place, _face in kept])
            # faces indexed before keep what is stored (they may be on a user by now); a FaceId is
            # derived from its image's identity, so an image new to the collection has no stored faces
            # (skipping the lookup saves a random read per face on bulk imports). The same photo
            # twice in one call: its second copy finds the first one's faces among those pending.
            stored = {}
            if fids and not new_image:
                pks = face_keys.face_pks(conn, coll.pk, fids)
                if pks:
                    stored = {row[1]: row for row in conn.execute(
                        f"SELECT {FACE_COLUMNS} FROM {FACE_FROM} WHERE f.pk IN ({','.join('?' * len(pks))})",
                        list(pks.values()))}
            for fid, (_place, face), vector in zip(fids, kept, vectors, strict=True):
                if fid in stored or fid in pending:
                    continue
                pending.add(fid)
                box = face.bounding_box
                rows.append((coll.pk, fid, image_pk, img_id, ext, box["Width"], box["Height"], box["Left"], box["Top"],
                             float(face.confidence), encode_detail(face.landmarks, face.pose, face.quality), model,
                             vector.tobytes(), now))
                fresh_ids.append(fid)
                fresh_faces.append((face, vector))
            planned.append((item, img_id, fids, kept, unindexed, stored))
        new_pks: dict[str, int] = {}
        if rows:
            pk_before = conn.execute("SELECT COALESCE(MAX(pk), 0) FROM faces").fetchone()[0]
            conn.executemany(_INSERT_FACE, rows)
            # the count schema 7 keeps (deletions are counted by triggers; an insert trigger cost 7 µs a face)
            conn.execute("UPDATE collections SET face_count = face_count + ? WHERE pk = ?", (len(rows), coll.pk))
            pks_in_order = _inserted_pks(conn, coll.pk, fresh_ids, pk_before)
            new_pks = dict(zip(fresh_ids, pks_in_order, strict=True))
            face_keys.add(conn, coll.pk, new_pks.items())
            thumbs = [(pk, face.thumbnail) for pk, (face, _v) in zip(pks_in_order, fresh_faces, strict=True) if face.thumbnail]
            if thumbs:
                conn.executemany("INSERT INTO face_thumbnails(face_pk, jpeg) VALUES (?, ?)", thumbs)
        face_keys.add(conn, coll.pk, new_images.items(), "image_keys")
        answered = [_respond(coll, model, new_pks, *plan) for plan in planned]
        journal.record_many(conn, [entry for _response, entry in answered])
        responses = [response for response, _entry in answered]
        if rows:
            bump_generation(conn, coll)
            rowids = np.fromiter(new_pks.values(), dtype=np.int64, count=len(new_pks))
            vectors = np.stack([v for _face, v in fresh_faces])
            engine.after_write(tx, coll, lambda index: index.append(rowids, vectors))
    return responses


def _respond(coll, model: str, new_pks: dict[str, int], item: AnalyzedImage, img_id: str, fids: list[str],
             kept: list, unindexed: list, stored: dict) -> tuple[dict, tuple]:
    """One image's IndexFaces response and its journal row (written by the caller, in the call's transaction)."""
    a = item.analysis
    ext = item.external_image_id
    records = []
    for fid, (_place, face) in zip(fids, kept, strict=True):
        row = stored.get(fid)
        if row is None:
            box = face.bounding_box
            row = (new_pks[fid], fid, box["Width"], box["Height"], box["Left"], box["Top"], img_id, ext,
                   float(face.confidence), None)
        records.append({"Face": face_from_row(row), "FaceDetail": face.face_detail()})
    response = {
        "FaceRecords": records,
        "FaceModelVersion": model,
        "UnindexedFaces": [{"Reasons": reasons, "FaceDetail": f.face_detail()} for f, reasons in unindexed],
    }
    if a.orientation_correction:
        response["OrientationCorrection"] = a.orientation_correction
    # the journal keeps the outcome without FaceDetails (faces.detail holds them)
    outcome = {"FaceRecords": [{"Face": r["Face"]} for r in records], "FaceModelVersion": model,
               "UnindexedFaces": [{"Reasons": reasons} for _f, reasons in unindexed]}
    entry = journal.entry_row("IndexFaces", coll.collection_id, item.request or {
        "CollectionId": coll.collection_id, "ExternalImageId": ext, "ImageSha256": item.sha256}, outcome, model)
    return response, entry


def _image_pk(conn, collection_pk: int, img_id: str, item: AnalyzedImage, now: float,
              new_images: dict[str, int], stored_images: dict[str, int], keyed: bool) -> tuple[int, bool]:
    """The stored photo's row, inserted (with its preview) the first time one of its faces is indexed;
    and whether it is new to the collection (then none of its faces can be stored yet).

    `new_images`: ImageId -> pk of the photos this call inserted; their keys go into image_keys at
    the end of the call, all at once. `stored_images`: ImageId -> pk of those stored before the call.
    `keyed`: the workspace finds photos through image_keys (schema 6), so `stored_images` holds them all.
    """
    if img_id in new_images:
        return new_images[img_id], False
    if img_id in stored_images:
        return stored_images[img_id], False
    if keyed:
        cur = conn.execute("INSERT INTO images(collection_pk, image_id, external_image_id, sha256, width, height, "
                           "created_at) VALUES (?,?,?,?,?,?,?) RETURNING pk", _image_row(collection_pk, img_id, item, now)
                           ).fetchone()
    else:  # a pre-schema-6 workspace: its UNIQUE (collection_pk, image_id) index decides
        cur = conn.execute(
            "INSERT INTO images(collection_pk, image_id, external_image_id, sha256, width, height, created_at) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT(collection_pk, image_id) DO NOTHING RETURNING pk",
            _image_row(collection_pk, img_id, item, now)).fetchone()
        if not cur:
            return face_keys.image_pk(conn, collection_pk, img_id), False  # type: ignore[return-value]
    if item.analysis.preview:
        conn.execute("INSERT INTO image_previews(image_pk, jpeg) VALUES (?, ?)", (cur[0], item.analysis.preview))
    new_images[img_id] = cur[0]
    return cur[0], True


def _image_row(collection_pk: int, img_id: str, item: AnalyzedImage, now: float) -> tuple:
    a = item.analysis
    return (collection_pk, img_id, item.external_image_id, item.sha256, a.width, a.height, now)


def list_faces(engine, p: dict) -> dict:
    limit = p.get("MaxResults") or DEFAULT_PAGE_SIZE
    secret = engine.store.meta("pagination_secret")
    with engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        where, args = ["f.collection_pk = ?"], [coll.pk]
        if p.get("UserId") is not None:
            # by the user's pk, so SQLite walks faces_by_user instead of the whole collection
            user = conn.execute("SELECT pk FROM users WHERE collection_pk = ? AND user_id = ?",
                                (coll.pk, p["UserId"])).fetchone()
            where.append("f.user_pk = ?")
            args.append(user[0] if user else -1)
        if p.get("FaceIds"):
            pks = sorted(face_keys.face_pks(conn, coll.pk, p["FaceIds"]).values())
            where.append(f"f.pk IN ({','.join('?' * len(pks))})")
            args.extend(pks)
        scope = ["ListFaces", coll.pk, p.get("UserId"), sorted(p.get("FaceIds") or [])]
        after = decode_token(secret, p["NextToken"], scope) if p.get("NextToken") else 0
        if not isinstance(after, int):
            raise InvalidPaginationTokenException("Invalid pagination token")
        where.append("f.pk > ?")
        args.append(after)
        rows = conn.execute(
            f"SELECT {FACE_COLUMNS} FROM {FACE_FROM} WHERE {' AND '.join(where)} ORDER BY f.pk LIMIT ?", (*args, limit + 1)
        ).fetchall()
    numeric = numeric_version(coll.model_version)  # on every face, as AWS's ListFaces example shows
    response = {"Faces": [{**face_from_row(r), "IndexFacesModelVersion": numeric} for r in rows[:limit]],
                "FaceModelVersion": coll.model_version}
    if len(rows) > limit:
        response["NextToken"] = encode_token(secret, scope, rows[limit - 1][0])
    return response


def delete_faces(engine, p: dict) -> dict:
    """Faces on a user are not deleted (ASSOCIATED_TO_AN_EXISTING_USER); unknown ids: FACE_NOT_FOUND.

    A deleted face takes its descriptor, crop and marks with it, and its photo when no other face
    comes from that photo, in the same transaction; freed space is zeroed (see erasure.py).
    """
    face_ids = list(dict.fromkeys(p["FaceIds"]))
    with engine.writing() as tx:
        conn = tx.conn
        erasure.start_erasing(conn)
        coll = get_collection(conn, p["CollectionId"])
        found = face_keys.face_rows(conn, coll.pk, face_ids, "f.pk, u.user_id, f.image_pk",
                                    "LEFT JOIN users u ON u.pk = f.user_pk")
        deleted, unsuccessful, deleted_pks, image_pks = [], [], [], []
        for fid in face_ids:
            if fid not in found:
                unsuccessful.append({"FaceId": fid, "Reasons": ["FACE_NOT_FOUND"]})
            elif found[fid][1] is not None:
                unsuccessful.append({"FaceId": fid, "UserId": found[fid][1], "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]})
            else:
                deleted.append(fid)
                deleted_pks.append(found[fid][0])
                image_pks.append(found[fid][2])
        if deleted_pks:
            conn.executemany("DELETE FROM faces WHERE pk = ?", [(pk,) for pk in deleted_pks])
            face_keys.remove(conn, coll.pk, zip(deleted, deleted_pks, strict=True))
            erasure.drop_unneeded_images(conn, image_pks)
            bump_generation(conn, coll)
            engine.after_write(tx, coll, lambda index: index.remove(deleted_pks))
            tx.on_commit.append(lambda: erasure.scrub_log(conn, BUSY_TIMEOUT_MS))
        response = {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": unsuccessful}
        journal.record(conn, "DeleteFaces", coll.collection_id, p, response, coll.model_version)
    return response
