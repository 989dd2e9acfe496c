"""A child process for the crash test of the curation extensions: MoveFaces and MergeUsers in a loop.

Round i indexes one synthetic image of FACES faces, puts them on user a-i, moves them all to b-i
(MoveFaces) and merges b-i into c-i (MergeUsers, which deletes the emptied b-i), printing after
each call. Usage: python -m tests.core.curation_writer_process WORKSPACE ROUNDS
"""

from __future__ import annotations

import sys

import numpy as np

from app.core.engine import Engine

from .fakes import RegisteredAnalyzer, analyzed_face, face_of, identity_centres

FACES = 20


def main(workspace: str, rounds: int) -> None:
    analyzer = RegisteredAnalyzer()
    rng = np.random.default_rng(7)
    with Engine(workspace, analyzer=analyzer) as engine:
        if not engine.list_collections()["CollectionIds"]:
            engine.create_collection(CollectionId="c")
        # a killed run may have stopped mid-round: start after the highest round any user names
        names = [u["UserId"] for u in engine.list_users(CollectionId="c", MaxResults=500)["Users"]]
        start = max((int(n.split("-")[1]) for n in names), default=-1) + 1
        for i in range(start, start + rounds):
            centre = identity_centres(1, seed=i)[0]
            faces = [analyzed_face(face_of(centre, rng), left=0.04 * k, size=0.03) for k in range(FACES)]
            data = analyzer.register(f"img-{i}".encode(), faces, width=4000, height=4000)
            ids = [r["Face"]["FaceId"] for r in engine.index_faces(CollectionId="c", Image={"Bytes": data},
                                                                   ExternalImageId=f"img-{i}")["FaceRecords"]]
            for name in ("a", "b", "c"):
                engine.create_user(CollectionId="c", UserId=f"{name}-{i}")
            engine.associate_faces(CollectionId="c", UserId=f"a-{i}", FaceIds=ids)
            print(f"ready {i}", flush=True)
            engine.move_faces(CollectionId="c", UserId=f"b-{i}", FaceIds=ids, UserMatchThreshold=0)
            print(f"moved {i}", flush=True)
            engine.merge_users(CollectionId="c", UserId=f"c-{i}", SourceUserIds=[f"b-{i}"])
            print(f"merged {i}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
