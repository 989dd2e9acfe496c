"""Deterministic FaceIds and ImageIds (name-based version-5 UUIDs).

Re-indexing the same image with the same ExternalImageId under the same model gives the same
ids, which is how IndexFaces knows it has nothing new to store.
"""

from __future__ import annotations

import uuid

# Fixed namespace of Rekurator ids; changing it would change every id ever issued.
_NAMESPACE = uuid.UUID("6f1c2d0e-5a4b-5c3d-9e8f-7a6b5c4d3e2f")


def image_id(model_version: str, image_sha256: str, external_image_id: str | None) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"image|{model_version}|{image_sha256}|{external_image_id or ''}"))


def face_id(model_version: str, image_sha256: str, external_image_id: str | None, place: int) -> str:
    """`place` is the face's position in the analyzer's deterministic order for that image."""
    return str(uuid.uuid5(_NAMESPACE, f"face|{model_version}|{image_sha256}|{external_image_id or ''}|{place}"))
