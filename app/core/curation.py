"""What the curation window needs beyond the Rekognition API (ours, not AWS operations).

Face crops and photo previews stored at indexing time, the stored FaceDetail of faces, and "not
this person" marks, which are journaled like the API's write operations. (The drop preview is
PlanAssociation, in curation_ops.py.)
"""

from __future__ import annotations

import time

from . import face_keys, journal
from .association_plan import unique_ids
from .detail_codec import decode_detail
from .errors import InvalidParameterException
from .records import get_collection, get_user
from .validation import validate_request


def check_face_ids(face_ids) -> list[str]:
    """The FaceIds as a list without duplicates, each a valid FaceId (InvalidParameterException otherwise)."""
    if not isinstance(face_ids, (list, tuple)) or not face_ids:
        raise InvalidParameterException("FaceIds: give a non-empty list of FaceIds")
    validate_request("ListFaces", {"CollectionId": "x", "FaceIds": list(face_ids)})
    return unique_ids(face_ids)


def face_thumbnails(engine, collection_id: str, face_ids) -> dict[str, bytes]:
    """JPEG crops of the given faces (faces indexed without one are absent)."""
    face_ids = check_face_ids(face_ids)
    with engine.store.read() as conn:
        coll = get_collection(conn, collection_id)
        rows = face_keys.face_rows(conn, coll.pk, face_ids, "t.jpeg", "JOIN face_thumbnails t ON t.face_pk = f.pk")
        return {fid: bytes(jpeg) for fid, (jpeg,) in rows.items()}


def face_details(engine, collection_id: str, face_ids) -> dict[str, dict]:
    """The FaceDetail stored for each face at indexing time."""
    face_ids = check_face_ids(face_ids)
    with engine.store.read() as conn:
        coll = get_collection(conn, collection_id)
        rows = face_keys.face_rows(conn, coll.pk, face_ids,
                                   "f.bbox_width, f.bbox_height, f.bbox_left, f.bbox_top, f.confidence, f.detail")
        return {
            fid: {"BoundingBox": {"Width": w, "Height": h, "Left": left, "Top": top}, "Confidence": confidence,
                  **decode_detail(detail)}
            for fid, (w, h, left, top, confidence, detail) in rows.items()
        }


def image_preview(engine, collection_id: str, image_id: str) -> bytes | None:
    """A downscaled JPEG of the photo a face came from, or None if none was stored."""
    validate_request("ListFaces", {"CollectionId": collection_id})
    with engine.store.read() as conn:
        coll = get_collection(conn, collection_id)
        pk = face_keys.image_pk(conn, coll.pk, image_id)
        row = conn.execute("SELECT jpeg FROM image_previews WHERE image_pk = ?", (pk,)).fetchone() if pk else None
    return bytes(row[0]) if row else None


def set_not_this_person(engine, collection_id: str, user_id: str, face_ids, rejected: bool = True) -> dict:
    """Mark (or unmark) faces as "not this person" for a user; returns the faces changed."""
    face_ids = check_face_ids(face_ids)
    operation = "MarkNotThisPerson" if rejected else "UnmarkNotThisPerson"
    with engine.writing() as tx:
        conn = tx.conn
        coll = get_collection(conn, collection_id)
        user = get_user(conn, coll, user_id)
        found = face_keys.face_pks(conn, coll.pk, face_ids)
        missing = [fid for fid in face_ids if fid not in found]
        if missing:
            raise InvalidParameterException(f"FaceIds: not in collection {collection_id}: {', '.join(missing)}")
        changed = []
        for fid in face_ids:
            if rejected:
                cur = conn.execute("INSERT OR IGNORE INTO rejections(user_pk, face_pk, created_at) VALUES (?,?,?)",
                                   (user.pk, found[fid], time.time()))
            else:
                cur = conn.execute("DELETE FROM rejections WHERE user_pk = ? AND face_pk = ?", (user.pk, found[fid]))
            if cur.rowcount:
                changed.append(fid)
        response = {"ChangedFaceIds": changed}
        journal.record(conn, operation, coll.collection_id,
                       {"CollectionId": collection_id, "UserId": user_id, "FaceIds": face_ids}, response, coll.model_version)
    return response


def rejected_face_ids(engine, collection_id: str, user_id: str) -> set[str]:
    with engine.store.read() as conn:
        coll = get_collection(conn, collection_id)
        user = get_user(conn, coll, user_id)
        rows = conn.execute("SELECT f.face_id FROM rejections r JOIN faces f ON f.pk = r.face_pk WHERE r.user_pk = ?", (user.pk,))
        return {r[0] for r in rows}
