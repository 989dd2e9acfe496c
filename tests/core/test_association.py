"""AssociateFaces / DisassociateFaces semantics (rekognition-semantics.md)."""

import json
import uuid

import numpy as np
import pytest

from app.core.errors import (
    IdempotentParameterMismatchException,
    InvalidParameterException,
    ResourceNotFoundException,
)

from .fakes import analyzed_face, face_of, identity_centres


def index_faces(engine, analyzer, vectors, name: str):
    """Index one synthetic image holding `vectors` as faces; returns their FaceIds in order."""
    faces = [analyzed_face(v, left=0.01 + 0.009 * i, top=0.1, size=0.008 + 0.0001 * (len(vectors) - i)) for i, v in enumerate(vectors)]
    data = analyzer.register(name.encode(), faces, width=40000, height=40000)
    out = engine.index_faces(CollectionId="c", Image={"Bytes": data}, QualityFilter="NONE")
    assert len(out["FaceRecords"]) == len(vectors)
    by_place = {r["Face"]["BoundingBox"]["Left"]: r["Face"]["FaceId"] for r in out["FaceRecords"]}
    return [by_place[f.bounding_box["Left"]] for f in faces]


@pytest.fixture
def people(engine, analyzer, rng):
    engine.create_collection(CollectionId="c")
    centres = identity_centres(3, seed=7)
    alice = index_faces(engine, analyzer, [face_of(centres[0], rng) for _ in range(6)], "alice")
    bob = index_faces(engine, analyzer, [face_of(centres[1], rng) for _ in range(4)], "bob")
    engine.create_user(CollectionId="c", UserId="alice")
    engine.create_user(CollectionId="c", UserId="bob")
    return {"alice": alice, "bob": bob, "centres": centres}


def test_first_batch_is_accepted_without_threshold(engine, people):
    # a user with no faces takes the first batch even if it mixes people (AWS behaviour)
    mixed = people["alice"][:2] + people["bob"][:1]
    out = engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=mixed, UserMatchThreshold=99.9)
    assert [f["FaceId"] for f in out["AssociatedFaces"]] == mixed
    assert out["UnsuccessfulFaceAssociations"] == []
    assert out["UserStatus"] == "ACTIVE"


def test_matching_faces_join_and_strangers_get_low_confidence(engine, people):
    alice, bob = people["alice"], people["bob"]
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=alice[:2])
    out = engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[alice[2], bob[0], alice[3]])
    assert [f["FaceId"] for f in out["AssociatedFaces"]] == [alice[2], alice[3]]
    [fail] = out["UnsuccessfulFaceAssociations"]
    assert fail["FaceId"] == bob[0]
    assert fail["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
    assert fail["UserId"] == "alice"
    assert 0 <= fail["Confidence"] < 75


def test_already_associated_face_is_silently_ignored(engine, people):
    alice = people["alice"]
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=alice[:2])
    out = engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[alice[0], alice[2]])
    assert out["AssociatedFaces"] == [{"FaceId": alice[2]}]
    assert out["UnsuccessfulFaceAssociations"] == []


def test_face_of_another_user_lists_owner_and_all_reasons(engine, people):
    alice, bob = people["alice"], people["bob"]
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=bob[:2])
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=alice[:2])
    out = engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[bob[0]])
    [fail] = out["UnsuccessfulFaceAssociations"]
    assert fail["UserId"] == "bob"
    assert fail["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER", "LOW_MATCH_CONFIDENCE"]
    assert "Confidence" in fail


def test_unknown_face_and_duplicates(engine, people):
    alice = people["alice"]
    ghost = str(uuid.uuid4())
    out = engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[alice[0], ghost, alice[0], alice[1]])
    assert [f["FaceId"] for f in out["AssociatedFaces"]] == [alice[0], alice[1]]
    assert out["UnsuccessfulFaceAssociations"] == [{"FaceId": ghost, "UserId": "alice", "Reasons": ["FACE_NOT_FOUND"]}]


def test_threshold_boundary_uses_reported_confidence(engine, people):
    alice = people["alice"]
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=alice[:1])
    probe = engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[alice[1]], UserMatchThreshold=100)
    confidence = probe["UnsuccessfulFaceAssociations"][0]["Confidence"]
    just_below = engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[alice[1]], UserMatchThreshold=confidence - 0.01)
    assert just_below["AssociatedFaces"] == [{"FaceId": alice[1]}]


def test_hundred_face_cap(engine, analyzer, rng):
    engine.create_collection(CollectionId="c")
    centre = identity_centres(1, seed=3)[0]
    ids = index_faces(engine, analyzer, [face_of(centre, rng, spread=0.1) for _ in range(60)], "many-1")
    ids += index_faces(engine, analyzer, [face_of(centre, rng, spread=0.1) for _ in range(45)], "many-2")
    engine.create_user(CollectionId="c", UserId="u")
    first = engine.associate_faces(CollectionId="c", UserId="u", FaceIds=ids[:98])
    assert len(first["AssociatedFaces"]) == 98
    out = engine.associate_faces(CollectionId="c", UserId="u", FaceIds=ids[98:103])
    assert [f["FaceId"] for f in out["AssociatedFaces"]] == ids[98:100]  # admitted in request order
    assert [f["FaceId"] for f in out["UnsuccessfulFaceAssociations"]] == ids[100:103]
    assert all(f["Reasons"] == ["USER_FACE_LIMIT_EXCEEDED"] for f in out["UnsuccessfulFaceAssociations"])
    listed = engine.list_faces(CollectionId="c", UserId="u", MaxResults=4096)["Faces"]
    assert len(listed) == 100


def test_unknown_user_or_collection(engine, people):
    with pytest.raises(ResourceNotFoundException, match="nobody"):
        engine.associate_faces(CollectionId="c", UserId="nobody", FaceIds=people["alice"][:1])
    with pytest.raises(ResourceNotFoundException, match="nope"):
        engine.associate_faces(CollectionId="nope", UserId="alice", FaceIds=people["alice"][:1])


def test_bad_parameters_rejected_before_anything_is_written(engine, people):
    before = engine.list_faces(CollectionId="c", UserId="alice")
    with pytest.raises(InvalidParameterException, match="FaceIds"):
        engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[people["alice"][0]] * 101)
    with pytest.raises(InvalidParameterException, match="FaceIds"):
        engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[])
    with pytest.raises(InvalidParameterException, match="UserMatchThreshold"):
        engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people["alice"][:1], UserMatchThreshold=100.5)
    with pytest.raises(InvalidParameterException, match="UserMatchThreshold"):
        engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people["alice"][:1], UserMatchThreshold=-1)
    with pytest.raises(InvalidParameterException, match="FaceIds"):
        engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=["NOT-A-UUID"])
    assert engine.list_faces(CollectionId="c", UserId="alice") == before


def test_client_request_token_replays_first_response(engine, people):
    alice, bob = people["alice"], people["bob"]
    args = dict(CollectionId="c", UserId="alice", FaceIds=alice[:2] + [str(uuid.uuid4())], ClientRequestToken="tok-1")
    first = engine.associate_faces(**args)
    engine.disassociate_faces(CollectionId="c", UserId="alice", FaceIds=alice[:2])
    # a fresh call would associate again; the replay returns the stored response, changes nothing
    again = engine.associate_faces(**args)
    assert json.dumps(again) == json.dumps(first)  # byte for byte, member order included
    assert engine.list_faces(CollectionId="c", UserId="alice")["Faces"] == []
    with pytest.raises(IdempotentParameterMismatchException, match="tok-1"):
        engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[bob[0]], ClientRequestToken="tok-1")
    # an explicit default threshold is the same request as an omitted one
    engine.associate_faces(**args, UserMatchThreshold=75)


def test_tokens_survive_restart(tmp_path, analyzer, rng):
    from app.core.engine import Engine

    with Engine(tmp_path / "w", analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        eng.create_user(CollectionId="c", UserId="u", ClientRequestToken="abc")
    with Engine(tmp_path / "w", analyzer=analyzer) as eng:
        assert eng.create_user(CollectionId="c", UserId="u", ClientRequestToken="abc") == {}
        with pytest.raises(IdempotentParameterMismatchException):
            eng.create_user(CollectionId="c", UserId="v", ClientRequestToken="abc")


def test_disassociate_rules(engine, people):
    alice, bob = people["alice"], people["bob"]
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=alice[:2])
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=bob[:1])
    ghost = str(uuid.uuid4())
    out = engine.disassociate_faces(CollectionId="c", UserId="alice", FaceIds=[alice[0], alice[3], bob[0], ghost])
    assert out["DisassociatedFaces"] == [{"FaceId": alice[0]}]
    assert out["UnsuccessfulFaceDisassociations"] == [
        {"FaceId": bob[0], "UserId": "bob", "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]},
        {"FaceId": ghost, "UserId": "alice", "Reasons": ["FACE_NOT_FOUND"]},
    ]
    assert out["UserStatus"] == "ACTIVE"
    out = engine.disassociate_faces(CollectionId="c", UserId="alice", FaceIds=[alice[1]])
    assert out["UserStatus"] == "CREATED"
    with pytest.raises(ResourceNotFoundException):
        engine.disassociate_faces(CollectionId="c", UserId="ghost", FaceIds=[alice[1]])


def test_user_scoring_uses_faces_before_the_call(engine, people):
    # a batch cannot vouch for itself: every candidate is scored against the user as it was
    alice, bob = people["alice"], people["bob"]
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=bob[:1])
    out = engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=alice[:3] + bob[1:2])
    assert [f["FaceId"] for f in out["AssociatedFaces"]] == bob[1:2]
    assert {f["FaceId"] for f in out["UnsuccessfulFaceAssociations"]} == set(alice[:3])


def test_same_person_scores_high_different_person_low(engine, people):
    alice, bob = people["alice"], people["bob"]
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=alice[:3])
    out = engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=alice[3:] + bob, UserMatchThreshold=100)
    scores = {f["FaceId"]: f["Confidence"] for f in out["UnsuccessfulFaceAssociations"]}
    assert min(scores[f] for f in alice[3:]) > 90
    assert max(scores[f] for f in bob) < 50
    assert np.all(np.array(list(scores.values())) <= 100)
