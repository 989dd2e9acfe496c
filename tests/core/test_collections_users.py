"""Collections, users, listing and pagination."""

import time

import pytest

from app.core.errors import (
    ConflictException,
    InvalidPaginationTokenException,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)

from .fakes import MODEL, analyzed_face, face_of, identity_centres


def test_collection_lifecycle(engine):
    out = engine.create_collection(CollectionId="team.a-1_b")
    assert out == {
        "StatusCode": 200,
        "CollectionArn": "arn:aws:rekognition:local:000000000000:collection/team.a-1_b",
        "FaceModelVersion": MODEL,
    }
    with pytest.raises(ResourceAlreadyExistsException, match="team.a-1_b"):
        engine.create_collection(CollectionId="team.a-1_b")
    desc = engine.describe_collection(CollectionId="team.a-1_b")
    assert desc["FaceCount"] == 0 and desc["UserCount"] == 0
    assert desc["FaceModelVersion"] == MODEL
    assert abs(desc["CreationTimestamp"] - time.time()) < 60
    assert engine.delete_collection(CollectionId="team.a-1_b") == {"StatusCode": 200}
    with pytest.raises(ResourceNotFoundException, match="team.a-1_b"):
        engine.describe_collection(CollectionId="team.a-1_b")
    with pytest.raises(ResourceNotFoundException):
        engine.delete_collection(CollectionId="team.a-1_b")


def test_collection_ids_are_case_sensitive(engine):
    engine.create_collection(CollectionId="Faces")
    engine.create_collection(CollectionId="faces")
    assert engine.list_collections()["CollectionIds"] == ["Faces", "faces"]


def test_invalid_collection_ids(engine):
    for bad in ["", "has space", "x" * 256, "slash/no"]:
        with pytest.raises(InvalidParameterException, match="CollectionId"):
            engine.create_collection(CollectionId=bad)
    with pytest.raises(InvalidParameterException, match="CollectionId"):
        engine.create_collection(CollectionId=5)
    with pytest.raises(InvalidParameterException, match="CollectionId"):
        engine.create_collection()
    assert engine.list_collections()["CollectionIds"] == []


def test_list_collections_pages(engine):
    names = [f"c{i:03d}" for i in range(7)]
    for name in names:
        engine.create_collection(CollectionId=name)
    seen, token = [], None
    while True:
        page = engine.list_collections(MaxResults=3, **({"NextToken": token} if token else {}))
        assert len(page["CollectionIds"]) == len(page["FaceModelVersions"]) <= 3
        seen += page["CollectionIds"]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names


def test_users_lifecycle_and_order(engine):
    engine.create_collection(CollectionId="c")
    for uid in ["zed", "amy", "mid:1"]:
        engine.create_user(CollectionId="c", UserId=uid)
    users = engine.list_users(CollectionId="c")["Users"]
    assert users == [{"UserId": u, "UserStatus": "CREATED"} for u in ["zed", "amy", "mid:1"]]  # creation order
    with pytest.raises(ConflictException, match="amy"):
        engine.create_user(CollectionId="c", UserId="amy")
    engine.delete_user(CollectionId="c", UserId="amy")
    with pytest.raises(ResourceNotFoundException, match="amy"):
        engine.delete_user(CollectionId="c", UserId="amy")
    assert [u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]] == ["zed", "mid:1"]
    assert engine.describe_collection(CollectionId="c")["UserCount"] == 2
    with pytest.raises(InvalidParameterException, match="UserId"):
        engine.create_user(CollectionId="c", UserId="bad user")
    with pytest.raises(ResourceNotFoundException):
        engine.create_user(CollectionId="nope", UserId="x")


def test_create_user_token_replay_instead_of_conflict(engine):
    engine.create_collection(CollectionId="c")
    assert engine.create_user(CollectionId="c", UserId="u", ClientRequestToken="t1") == {}
    assert engine.create_user(CollectionId="c", UserId="u", ClientRequestToken="t1") == {}
    with pytest.raises(ConflictException):
        engine.create_user(CollectionId="c", UserId="u", ClientRequestToken="t2")
    with pytest.raises(InvalidParameterException, match="ClientRequestToken"):
        engine.create_user(CollectionId="c", UserId="v", ClientRequestToken="x" * 65)
    with pytest.raises(InvalidParameterException, match="ClientRequestToken"):
        engine.create_user(CollectionId="c", UserId="v", ClientRequestToken="a.b")


def test_delete_user_frees_faces_but_keeps_them(engine, analyzer, rng):
    engine.create_collection(CollectionId="c")
    centre = identity_centres(1)[0]
    data = analyzer.register(b"img", [analyzed_face(face_of(centre, rng), left=0.1 * i) for i in range(3)])
    ids = [r["Face"]["FaceId"] for r in engine.index_faces(CollectionId="c", Image={"Bytes": data})["FaceRecords"]]
    engine.create_user(CollectionId="c", UserId="u")
    engine.associate_faces(CollectionId="c", UserId="u", FaceIds=ids)
    assert engine.list_users(CollectionId="c")["Users"] == [{"UserId": "u", "UserStatus": "ACTIVE"}]
    engine.delete_user(CollectionId="c", UserId="u")
    faces = engine.list_faces(CollectionId="c")["Faces"]
    assert sorted(f["FaceId"] for f in faces) == sorted(ids)
    assert all("UserId" not in f for f in faces)
    # the journal remembers which faces were freed
    last = engine.journal_entries()[-1]
    assert last["Operation"] == "DeleteUser" and sorted(last["Response"]["DisassociatedFaceIds"]) == sorted(ids)


def test_list_users_pagination_and_forged_tokens(engine):
    engine.create_collection(CollectionId="c")
    engine.create_collection(CollectionId="d")
    for i in range(5):
        engine.create_user(CollectionId="c", UserId=f"u{i}")
    page = engine.list_users(CollectionId="c", MaxResults=2)
    token = page["NextToken"]
    assert len(token) <= 255
    assert [u["UserId"] for u in engine.list_users(CollectionId="c", MaxResults=2, NextToken=token)["Users"]] == ["u2", "u3"]
    with pytest.raises(InvalidPaginationTokenException):
        engine.list_users(CollectionId="d", NextToken=token)  # another collection's listing
    with pytest.raises(InvalidPaginationTokenException):
        engine.list_faces(CollectionId="c", NextToken=token)  # another operation
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(InvalidPaginationTokenException):
        engine.list_users(CollectionId="c", NextToken=forged)
    with pytest.raises(InvalidPaginationTokenException):
        engine.list_users(CollectionId="c", NextToken="garbage")
    with pytest.raises(InvalidParameterException, match="MaxResults"):
        engine.list_users(CollectionId="c", MaxResults=501)


def test_token_of_a_recreated_collection_is_stale(engine):
    engine.create_collection(CollectionId="c")
    for i in range(3):
        engine.create_user(CollectionId="c", UserId=f"u{i}")
    token = engine.list_users(CollectionId="c", MaxResults=1)["NextToken"]
    engine.delete_collection(CollectionId="c")
    engine.create_collection(CollectionId="c")
    with pytest.raises(InvalidPaginationTokenException):
        engine.list_users(CollectionId="c", NextToken=token)


def test_expired_token(engine, monkeypatch):
    engine.create_collection(CollectionId="c")
    for i in range(3):
        engine.create_user(CollectionId="c", UserId=f"u{i}")
    token = engine.list_users(CollectionId="c", MaxResults=1)["NextToken"]
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 25 * 3600)
    with pytest.raises(InvalidPaginationTokenException, match="expired"):
        engine.list_users(CollectionId="c", NextToken=token)
