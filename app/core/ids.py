"""Deterministic FaceIds and ImageIds (name-based version-5 UUIDs).

Re-indexing the same image with the same ExternalImageId under the same model gives the same
ids, which is how IndexFaces knows it has nothing new to store.
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed namespace of Rekurator ids; changing it would change every id ever issued.
_NAMESPACE = uuid.UUID("6f1c2d0e-5a4b-5c3d-9e8f-7a6b5c4d3e2f")
_PREFIX = _NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """str(uuid.uuid5(_NAMESPACE, name)), without building a UUID object (bulk indexing)."""
    return _formatted(hashlib.sha1(_PREFIX + name.encode("utf-8")).digest())


def _formatted(digest: bytes) -> str:
    b = bytearray(digest[:16])
    b[6] = (b[6] & 0x0F) | 0x50  # version 5
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def image_id(model_version: str, image_sha256: str, external_image_id: str | None) -> str:
    return _uuid5(f"image|{model_version}|{image_sha256}|{external_image_id or ''}")


def face_id(model_version: str, image_sha256: str, external_image_id: str | None, place: int) -> str:
    """`place` is the face's position in the analyzer's deterministic order for that image."""
    return _uuid5(f"face|{model_version}|{image_sha256}|{external_image_id or ''}|{place}")


def face_ids(model_version: str, image_sha256: str, external_image_id: str | None, places) -> list[str]:
    """[face_id(..., place) for place in places]: the image's part of the name is hashed once."""
    common = hashlib.sha1(_PREFIX + f"face|{model_version}|{image_sha256}|{external_image_id or ''}|".encode())
    out = []
    for place in places:
        h = common.copy()
        h.update(str(place).encode("ascii"))
        out.append(_formatted(h.digest()))
    return out
