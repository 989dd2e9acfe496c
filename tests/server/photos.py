"""Registered test photos: bytes the fake analyzer maps to faces of known identities."""

from __future__ import annotations

from tests.core.fakes import analyzed_face, face_of, identity_centres

ALICE, BOB = 0, 1


def register_people(analyzer, rng) -> dict[str, bytes]:
    """Photos by name: 'group' (Alice left, Bob right), 'alice2', 'alice3', 'bob2', 'nobody'."""
    centres = identity_centres(2, seed=7)
    layout = {
        "group": [(ALICE, 0.1), (BOB, 0.55)],
        "alice2": [(ALICE, 0.2)],
        "alice3": [(ALICE, 0.3)],
        "bob2": [(BOB, 0.2)],
        "nobody": [],
    }
    photos = {}
    for name, faces in layout.items():
        data = f"{name}.jpg:registered-bytes".encode()
        analyzer.register(data, [analyzed_face(face_of(centres[who], rng), left=left) for who, left in faces])
        photos[name] = data
    return photos
