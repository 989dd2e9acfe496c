"""A child process for crash and concurrency tests: it writes to a workspace in a loop.

Each round indexes one synthetic image of FACES faces (ExternalImageId "<tag>-<round>"),
creates user "<tag>-<round>" and associates the image's faces with it, printing the round
number after each call. Usage: python -m tests.core.writer_process WORKSPACE TAG ROUNDS
"""

from __future__ import annotations

import sys

import numpy as np

from app.core.engine import Engine

from .fakes import RegisteredAnalyzer, analyzed_face, face_of, identity_centres

FACES = 20


def main(workspace: str, tag: str, rounds: int) -> None:
    analyzer = RegisteredAnalyzer()
    rng = np.random.default_rng(abs(hash(tag)) % 2**32)
    with Engine(workspace, analyzer=analyzer) as engine:
        try:
            engine.create_collection(CollectionId="c")
        except Exception as exc:  # another writer created it first
            if type(exc).__name__ != "ResourceAlreadyExistsException":
                raise
        for i in range(rounds):
            name = f"{tag}-{i}"
            centre = identity_centres(1, seed=i)[0]
            faces = [analyzed_face(face_of(centre, rng), left=0.04 * k, size=0.03) for k in range(FACES)]
            data = analyzer.register(name.encode(), faces, width=4000, height=4000)
            out = engine.index_faces(CollectionId="c", Image={"Bytes": data}, ExternalImageId=name)
            ids = [r["Face"]["FaceId"] for r in out["FaceRecords"]]
            print(f"indexed {name}", flush=True)
            engine.create_user(CollectionId="c", UserId=name)
            print(f"user {name}", flush=True)
            engine.associate_faces(CollectionId="c", UserId=name, FaceIds=ids)
            print(f"associated {name}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
