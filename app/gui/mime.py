"""The drag-and-drop payload for faces: a custom MIME type carrying JSON face ids.

A custom type (not text/plain) so that only Rekurator views accept the drop, and the
collection travels with the ids: a drop into another collection's users is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from PySide6.QtCore import QMimeData

FACE_IDS_MIME = "application/x-rekurator-face-ids"


class FacePayloadError(ValueError):
    """The MIME data does not hold a well-formed face-id payload."""


@dataclass(frozen=True)
class FacePayload:
    collection_id: str
    face_ids: tuple[str, ...]


def encode_faces(collection_id: str, face_ids) -> QMimeData:
    face_ids = list(face_ids)
    if not face_ids:
        raise FacePayloadError("a face drag needs at least one FaceId")
    mime = QMimeData()
    body = json.dumps({"CollectionId": collection_id, "FaceIds": face_ids})
    mime.setData(FACE_IDS_MIME, body.encode("utf-8"))
    return mime


def has_faces(mime: QMimeData | None) -> bool:
    return mime is not None and mime.hasFormat(FACE_IDS_MIME)


def decode_faces(mime: QMimeData) -> FacePayload:
    if not has_faces(mime):
        raise FacePayloadError(f"the dropped data is not of type {FACE_IDS_MIME}")
    try:
        body = json.loads(bytes(mime.data(FACE_IDS_MIME).data()).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FacePayloadError(f"the dropped face data is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise FacePayloadError("the dropped face data must be a JSON object")
    collection_id, face_ids = body.get("CollectionId"), body.get("FaceIds")
    if not isinstance(collection_id, str) or not collection_id:
        raise FacePayloadError("the dropped face data has no CollectionId")
    if not isinstance(face_ids, list) or not face_ids or not all(isinstance(f, str) for f in face_ids):
        raise FacePayloadError("the dropped face data needs FaceIds: a non-empty list of strings")
    return FacePayload(collection_id, tuple(face_ids))
