"""Reading rows from the store (the row types themselves are in rows.py) and the response shapes built from them."""

from __future__ import annotations

import sqlite3

from .errors import ResourceNotFoundException
from .rows import ACCOUNT, REGION, CollectionRow, UserRow, user_status  # noqa: F401 - the row types live there


def get_collection(conn: sqlite3.Connection, collection_id: str) -> CollectionRow:
    row = conn.execute(
        "SELECT pk, collection_id, face_model_version, created_at, generation FROM collections WHERE collection_id = ?",
        (collection_id,),
    ).fetchone()
    if row is None:
        raise ResourceNotFoundException(f"The collection id: {collection_id} does not exist")
    return CollectionRow(*row)


def get_user(conn: sqlite3.Connection, collection: CollectionRow, user_id: str) -> UserRow:
    row = conn.execute(
        "SELECT pk, user_id, created_at FROM users WHERE collection_pk = ? AND user_id = ?", (collection.pk, user_id)
    ).fetchone()
    if row is None:
        raise ResourceNotFoundException(
            f"The user id: {user_id} does not exist in the collection: {collection.collection_id}"
        )
    return UserRow(*row)


def bump_generation(conn: sqlite3.Connection, collection: CollectionRow) -> None:
    conn.execute("UPDATE collections SET generation = generation + 1 WHERE pk = ?", (collection.pk,))


def user_face_count(conn: sqlite3.Connection, user_pk: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM faces WHERE user_pk = ?", (user_pk,)).fetchone()[0]



# Columns of `faces` that make up a Face response, in face_from_row's order.
FACE_COLUMNS = (
    "f.pk, f.face_id, f.bbox_width, f.bbox_height, f.bbox_left, f.bbox_top, f.image_id, "
    "f.external_image_id, f.confidence, u.user_id"
)
FACE_FROM = "faces f LEFT JOIN users u ON u.pk = f.user_pk"


def face_from_row(row) -> dict:
    _pk, face_id, w, h, left, top, image_id, external, confidence, user_id = row
    face = {
        "FaceId": face_id,
        "BoundingBox": {"Width": w, "Height": h, "Left": left, "Top": top},
        "ImageId": image_id,
    }
    if external is not None:
        face["ExternalImageId"] = external
    face["Confidence"] = confidence
    if user_id is not None:
        face["UserId"] = user_id
    return face
