"""IndexFaces storage, ListFaces, DeleteFaces and the four searches (with injected descriptors)."""

import uuid

import numpy as np
import pytest

from app.core.errors import (
    InvalidImageFormatException,
    InvalidParameterException,
    InvalidS3ObjectException,
    ResourceNotFoundException,
)
from app.core.similarity import DLIB_RESNET

from .fakes import analyzed_face, face_of, identity_centres


@pytest.fixture
def coll(engine):
    engine.create_collection(CollectionId="c")
    return "c"


def index(engine, analyzer, name, vectors, **kw):
    faces = [analyzed_face(v, left=0.05 + 0.15 * i, size=0.1) for i, v in enumerate(vectors)]
    data = analyzer.register(name.encode(), faces)
    return engine.index_faces(CollectionId="c", Image={"Bytes": data}, **kw)


def test_index_faces_response_and_deterministic_ids(engine, analyzer, coll, rng):
    centres = identity_centres(2)
    out = index(engine, analyzer, "photo", [face_of(centres[0], rng), face_of(centres[1], rng)], ExternalImageId="photo.jpg")
    assert out["FaceModelVersion"] == "dlib_resnet_v1+test"
    assert out["UnindexedFaces"] == []
    records = out["FaceRecords"]
    assert len(records) == 2
    face = records[0]["Face"]
    assert set(face) == {"FaceId", "BoundingBox", "ImageId", "ExternalImageId", "Confidence"}
    assert uuid.UUID(face["FaceId"]).version == 5
    assert records[0]["Face"]["ImageId"] == records[1]["Face"]["ImageId"]
    assert records[0]["FaceDetail"]["BoundingBox"] == face["BoundingBox"]
    # same image, same ExternalImageId: same ids, nothing new stored
    again = engine.index_faces(CollectionId="c", Image={"Bytes": b"photo"}, ExternalImageId="photo.jpg")
    assert [r["Face"]["FaceId"] for r in again["FaceRecords"]] == [r["Face"]["FaceId"] for r in records]
    assert engine.describe_collection(CollectionId="c")["FaceCount"] == 2
    # another ExternalImageId makes other faces
    other = engine.index_faces(CollectionId="c", Image={"Bytes": b"photo"}, ExternalImageId="copy.jpg")
    assert {r["Face"]["FaceId"] for r in other["FaceRecords"]}.isdisjoint({r["Face"]["FaceId"] for r in records})
    assert engine.describe_collection(CollectionId="c")["FaceCount"] == 4


def test_reindexed_face_reports_its_user(engine, analyzer, coll, rng):
    out = index(engine, analyzer, "p", [face_of(identity_centres(1)[0], rng)])
    fid = out["FaceRecords"][0]["Face"]["FaceId"]
    engine.create_user(CollectionId="c", UserId="u")
    engine.associate_faces(CollectionId="c", UserId="u", FaceIds=[fid])
    again = engine.index_faces(CollectionId="c", Image={"Bytes": b"p"})
    assert again["FaceRecords"][0]["Face"]["UserId"] == "u"


def test_quality_filter_and_max_faces(engine, analyzer, coll, rng):
    c = identity_centres(1)[0]
    faces = [
        analyzed_face(face_of(c, rng), left=0.0, size=0.3),  # large, good
        analyzed_face(face_of(c, rng), left=0.4, size=0.2),  # good
        analyzed_face(face_of(c, rng), left=0.7, size=0.1),  # good, smallest
        analyzed_face(face_of(c, rng), left=0.1, top=0.6, size=0.2, confidence=30.0),  # low confidence
        analyzed_face(face_of(c, rng), left=0.5, top=0.6, size=0.01),  # tiny (6 px)
        analyzed_face(face_of(c, rng), left=0.8, top=0.6, size=0.15, quality={"Brightness": 2.0, "Sharpness": 1.0}),
        analyzed_face(face_of(c, rng), left=0.3, top=0.8, size=0.15, pose={"Yaw": 85.0, "Pitch": 0.0, "Roll": 0.0}),
    ]
    analyzer.register(b"q", faces)
    out = engine.index_faces(CollectionId="c", Image={"Bytes": b"q"}, MaxFaces=2)
    kept = [r["Face"]["BoundingBox"]["Left"] for r in out["FaceRecords"]]
    assert kept == [0.0, 0.4]  # the two largest good faces, in image order
    reasons = sorted((u["FaceDetail"]["BoundingBox"]["Left"], tuple(u["Reasons"])) for u in out["UnindexedFaces"])
    assert reasons == [
        (0.1, ("LOW_CONFIDENCE",)),
        (0.3, ("EXTREME_POSE",)),
        (0.5, ("SMALL_BOUNDING_BOX",)),
        (0.7, ("EXCEEDS_MAX_FACES",)),
        (0.8, ("LOW_SHARPNESS", "LOW_BRIGHTNESS")),
    ]
    everything = engine.index_faces(CollectionId="c", Image={"Bytes": b"q"}, QualityFilter="NONE")
    assert len(everything["FaceRecords"]) == 7


def test_image_errors_write_nothing(engine, analyzer, coll):
    with pytest.raises(InvalidImageFormatException):
        engine.index_faces(CollectionId="c", Image={"Bytes": b"not registered"})
    with pytest.raises(InvalidS3ObjectException):
        engine.index_faces(CollectionId="c", Image={"S3Object": {"Bucket": "bkt", "Name": "a.jpg"}})
    with pytest.raises(InvalidParameterException, match="Image"):
        engine.index_faces(CollectionId="c", Image={})
    with pytest.raises(ResourceNotFoundException):
        engine.index_faces(CollectionId="missing", Image={"Bytes": b"x"})
    assert engine.describe_collection(CollectionId="c")["FaceCount"] == 0
    assert [e["Operation"] for e in engine.journal_entries()] == ["CreateCollection"]


def test_list_faces_filters_and_pages(engine, analyzer, coll, rng):
    c = identity_centres(1)[0]
    ids = [r["Face"]["FaceId"] for r in index(engine, analyzer, "a", [face_of(c, rng) for _ in range(5)])["FaceRecords"]]
    engine.create_user(CollectionId="c", UserId="u")
    engine.associate_faces(CollectionId="c", UserId="u", FaceIds=ids[:2])
    assert {f["FaceId"] for f in engine.list_faces(CollectionId="c", UserId="u")["Faces"]} == set(ids[:2])
    assert [f["FaceId"] for f in engine.list_faces(CollectionId="c", FaceIds=[ids[4], ids[1]])["Faces"]] == [ids[1], ids[4]]
    seen, token = [], None
    while True:
        page = engine.list_faces(CollectionId="c", MaxResults=2, **({"NextToken": token} if token else {}))
        seen += [f["FaceId"] for f in page["Faces"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == ids
    assert engine.list_faces(CollectionId="c", UserId="nobody")["Faces"] == []


def test_delete_faces(engine, analyzer, coll, rng):
    c = identity_centres(1)[0]
    ids = [r["Face"]["FaceId"] for r in index(engine, analyzer, "a", [face_of(c, rng) for _ in range(3)])["FaceRecords"]]
    engine.create_user(CollectionId="c", UserId="u")
    engine.associate_faces(CollectionId="c", UserId="u", FaceIds=ids[:1])
    ghost = str(uuid.uuid4())
    out = engine.delete_faces(CollectionId="c", FaceIds=[ids[0], ids[1], ghost])
    assert out == {
        "DeletedFaces": [ids[1]],
        "UnsuccessfulFaceDeletions": [
            {"FaceId": ids[0], "UserId": "u", "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]},
            {"FaceId": ghost, "Reasons": ["FACE_NOT_FOUND"]},
        ],
    }
    assert {f["FaceId"] for f in engine.list_faces(CollectionId="c")["Faces"]} == {ids[0], ids[2]}
    # a deleted face is no longer found by search
    matches = engine.search_faces(CollectionId="c", FaceId=ids[2], FaceMatchThreshold=0)["FaceMatches"]
    assert {m["Face"]["FaceId"] for m in matches} == {ids[0]}


def test_search_faces_ranks_by_similarity(engine, analyzer, coll, rng):
    centres = identity_centres(3, seed=11)
    ids = {}
    for k, c in enumerate(centres):
        out = index(engine, analyzer, f"p{k}", [face_of(c, rng) for _ in range(4)])
        ids[k] = [r["Face"]["FaceId"] for r in out["FaceRecords"]]
    out = engine.search_faces(CollectionId="c", FaceId=ids[0][0])
    assert out["SearchedFaceId"] == ids[0][0]
    found = [m["Face"]["FaceId"] for m in out["FaceMatches"]]
    assert set(found) == set(ids[0][1:])  # same person only, probe excluded
    sims = [m["Similarity"] for m in out["FaceMatches"]]
    assert sims == sorted(sims, reverse=True) and all(80 <= s <= 100 for s in sims)
    everyone = engine.search_faces(CollectionId="c", FaceId=ids[0][0], FaceMatchThreshold=0, MaxFaces=5)["FaceMatches"]
    assert len(everyone) == 5
    with pytest.raises(ResourceNotFoundException):
        engine.search_faces(CollectionId="c", FaceId=str(uuid.uuid4()))


def test_similarity_matches_the_calibrated_curve(engine, analyzer, coll):
    a = np.zeros(128, np.float32)
    b = np.zeros(128, np.float32)
    b[0] = 0.6  # exactly the dlib same-person distance
    out = index(engine, analyzer, "pair", [a, b])
    fa, fb = (r["Face"]["FaceId"] for r in out["FaceRecords"])
    [match] = engine.search_faces(CollectionId="c", FaceId=fa, FaceMatchThreshold=0)["FaceMatches"]
    assert match["Face"]["FaceId"] == fb
    assert match["Similarity"] == pytest.approx(80.0, abs=1e-3)
    assert DLIB_RESNET.similarity(0.0) == pytest.approx(100.0)


def test_search_faces_by_image(engine, analyzer, coll, rng):
    centres = identity_centres(2, seed=5)
    stored = index(engine, analyzer, "stored", [face_of(centres[0], rng), face_of(centres[1], rng)])
    probe = analyzer.register(b"probe", [analyzed_face(face_of(centres[1], rng), size=0.4), analyzed_face(face_of(centres[0], rng), size=0.1)])
    out = engine.search_faces_by_image(CollectionId="c", Image={"Bytes": probe})
    assert out["SearchedFaceBoundingBox"]["Width"] == 0.4  # the largest face is searched
    assert [m["Face"]["FaceId"] for m in out["FaceMatches"]] == [stored["FaceRecords"][1]["Face"]["FaceId"]]
    analyzer.register(b"empty", [])
    with pytest.raises(InvalidParameterException, match="no faces"):
        engine.search_faces_by_image(CollectionId="c", Image={"Bytes": b"empty"})


def test_search_users(engine, analyzer, coll, rng):
    centres = identity_centres(3, seed=9)
    ids = []
    for k, c in enumerate(centres):
        ids.append([r["Face"]["FaceId"] for r in index(engine, analyzer, f"u{k}", [face_of(c, rng) for _ in range(5)])["FaceRecords"]])
        engine.create_user(CollectionId="c", UserId=f"user{k}")
        engine.associate_faces(CollectionId="c", UserId=f"user{k}", FaceIds=ids[k][:4])
    out = engine.search_users(CollectionId="c", FaceId=ids[1][4])
    assert out["SearchedFace"] == {"FaceId": ids[1][4]}
    assert [m["User"] for m in out["UserMatches"]] == [{"UserId": "user1", "UserStatus": "ACTIVE"}]
    assert out["UserMatches"][0]["Similarity"] > 90
    loose = engine.search_users(CollectionId="c", FaceId=ids[1][4], UserMatchThreshold=0)["UserMatches"]
    assert [m["User"]["UserId"] for m in loose][0] == "user1" and len(loose) == 3
    sims = [m["Similarity"] for m in loose]
    assert sims == sorted(sims, reverse=True)
    by_user = engine.search_users(CollectionId="c", UserId="user1", UserMatchThreshold=0)
    assert by_user["SearchedUser"] == {"UserId": "user1"}
    assert "user1" not in [m["User"]["UserId"] for m in by_user["UserMatches"]]  # excludes itself
    with pytest.raises(InvalidParameterException, match="exactly one"):
        engine.search_users(CollectionId="c", FaceId=ids[0][0], UserId="user0")
    with pytest.raises(InvalidParameterException, match="exactly one"):
        engine.search_users(CollectionId="c")
    with pytest.raises(ResourceNotFoundException):
        engine.search_users(CollectionId="c", UserId="ghost")


def test_search_users_by_image(engine, analyzer, coll, rng):
    centre = identity_centres(2, seed=4)
    ids = [r["Face"]["FaceId"] for r in index(engine, analyzer, "a", [face_of(centre[0], rng) for _ in range(3)])["FaceRecords"]]
    engine.create_user(CollectionId="c", UserId="amy")
    engine.associate_faces(CollectionId="c", UserId="amy", FaceIds=ids)
    analyzer.register(b"two", [analyzed_face(face_of(centre[0], rng), size=0.3), analyzed_face(face_of(centre[1], rng), left=0.6, size=0.1)])
    out = engine.search_users_by_image(CollectionId="c", Image={"Bytes": b"two"})
    assert [m["User"]["UserId"] for m in out["UserMatches"]] == ["amy"]
    assert out["SearchedFace"]["FaceDetail"]["BoundingBox"]["Width"] == 0.3
    assert [u["Reasons"] for u in out["UnsearchedFaces"]] == [["FACE_NOT_LARGEST"]]
    analyzer.register(b"none", [])
    empty = engine.search_users_by_image(CollectionId="c", Image={"Bytes": b"none"})
    assert empty["UserMatches"] == [] and "SearchedFace" not in empty


def test_index_follows_writes_from_another_engine(tmp_path, analyzer, rng):
    """Two engines on one workspace (two processes' worth): searches see each other's writes."""
    from app.core.engine import Engine

    centre = identity_centres(1)[0]
    with Engine(tmp_path / "w", analyzer=analyzer) as a, Engine(tmp_path / "w", analyzer=analyzer) as b:
        a.create_collection(CollectionId="c")
        analyzer.register(b"one", [analyzed_face(face_of(centre, rng))])
        first = a.index_faces(CollectionId="c", Image={"Bytes": b"one"})["FaceRecords"][0]["Face"]["FaceId"]
        assert b.search_faces(CollectionId="c", FaceId=first)["FaceMatches"] == []  # b loads its index now
        analyzer.register(b"two", [analyzed_face(face_of(centre, rng))])
        second = a.index_faces(CollectionId="c", Image={"Bytes": b"two"})["FaceRecords"][0]["Face"]["FaceId"]
        assert [m["Face"]["FaceId"] for m in b.search_faces(CollectionId="c", FaceId=first)["FaceMatches"]] == [second]
        a.create_user(CollectionId="c", UserId="u")
        a.associate_faces(CollectionId="c", UserId="u", FaceIds=[second])
        assert [m["User"]["UserId"] for m in b.search_users(CollectionId="c", FaceId=first)["UserMatches"]] == ["u"]
        a.delete_user(CollectionId="c", UserId="u")
        a.delete_faces(CollectionId="c", FaceIds=[second])
        assert b.search_faces(CollectionId="c", FaceId=first, FaceMatchThreshold=0)["FaceMatches"] == []
        assert b.search_users(CollectionId="c", FaceId=first, UserMatchThreshold=0)["UserMatches"] == []


def test_batch_storage_validates_its_options(engine, coll, rng):
    from app.core.analysis import ImageAnalysis
    from app.core.face_ops import AnalyzedImage

    item = AnalyzedImage("ab" * 32, "ok.jpg", ImageAnalysis(640, 480, [analyzed_face(face_of(identity_centres(1)[0], rng))]))
    with pytest.raises(InvalidParameterException, match="QualityFilter"):
        engine.store_analyzed("c", [item], quality_filter="SOMETIMES")
    with pytest.raises(InvalidParameterException, match="MaxFaces"):
        engine.store_analyzed("c", [item], max_faces=0)
    bad = AnalyzedImage("cd" * 32, "bad name!", item.analysis)
    with pytest.raises(InvalidParameterException, match="ExternalImageId"):
        engine.store_analyzed("c", [item, bad])
    assert engine.describe_collection(CollectionId="c")["FaceCount"] == 0
    [out] = engine.store_analyzed("c", [item])
    assert len(out["FaceRecords"]) == 1
