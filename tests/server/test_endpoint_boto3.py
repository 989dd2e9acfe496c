"""All 16 operations and the engine's error cases, driven through the endpoint by boto3."""

from __future__ import annotations

import datetime
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.core.fakes import MODEL

from .endpoint_fixtures import boto3_client, running_endpoint
from .photos import register_people


def plain(response: dict) -> dict:
    """A boto3 response as the engine returns it: no ResponseMetadata, epoch seconds."""

    def convert(value):
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items() if k != "ResponseMetadata"}
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        return value

    return convert(response)


def client_error(call, *args, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value


def test_every_operation_round_trips_and_matches_the_engine(endpoint, client, rng):
    photos = register_people(endpoint.analyzer, rng)
    engine = endpoint.engine

    created = client.create_collection(CollectionId="people", Tags={"team": "qa"})
    assert created["StatusCode"] == 200
    assert created["FaceModelVersion"] == MODEL
    assert created["CollectionArn"].endswith("collection/people")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert uuid.UUID(created["ResponseMetadata"]["RequestId"]).version == 4

    described = client.describe_collection(CollectionId="people")
    assert isinstance(described["CreationTimestamp"], datetime.datetime)
    assert abs(described["CreationTimestamp"].timestamp() - time.time()) < 60
    assert (described["FaceCount"], described["UserCount"]) == (0, 0)

    assert client.list_collections()["CollectionIds"] == ["people"]

    # blobs travel base64 and reach the analyzer as the very bytes given
    indexed = client.index_faces(CollectionId="people", Image={"Bytes": photos["group"]}, ExternalImageId="group.jpg")
    assert len(indexed["FaceRecords"]) == 2 and indexed["UnindexedFaces"] == []
    alice, bob = (r["Face"]["FaceId"] for r in indexed["FaceRecords"])
    alice2 = client.index_faces(CollectionId="people", Image={"Bytes": photos["alice2"]})["FaceRecords"][0]["Face"]["FaceId"]
    alice3 = client.index_faces(CollectionId="people", Image={"Bytes": photos["alice3"]})["FaceRecords"][0]["Face"]["FaceId"]
    # the same image again gives the same ids (deterministic ids survive the wire)
    again = client.index_faces(CollectionId="people", Image={"Bytes": photos["group"]}, ExternalImageId="group.jpg")
    assert [r["Face"]["FaceId"] for r in again["FaceRecords"]] == [alice, bob]

    assert plain(client.create_user(CollectionId="people", UserId="alice")) == {}
    # a user with no face takes the whole first batch (AWS behaviour)
    first = client.associate_faces(CollectionId="people", UserId="alice", FaceIds=[alice, alice2])
    assert [f["FaceId"] for f in first["AssociatedFaces"]] == [alice, alice2]
    assert first["UnsuccessfulFaceAssociations"] == []
    assert first["UserStatus"] == "ACTIVE"
    # then candidates are scored against the user: Bob's face is refused with its score
    second = client.associate_faces(CollectionId="people", UserId="alice", FaceIds=[bob, alice3])
    assert [f["FaceId"] for f in second["AssociatedFaces"]] == [alice3]
    (refused,) = second["UnsuccessfulFaceAssociations"]
    assert refused["FaceId"] == bob and refused["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
    assert 0 <= refused["Confidence"] < 75

    read_only = [
        ("DescribeCollection", {"CollectionId": "people"}),
        ("ListCollections", {}),
        ("ListFaces", {"CollectionId": "people"}),
        ("ListFaces", {"CollectionId": "people", "UserId": "alice"}),
        ("ListUsers", {"CollectionId": "people"}),
        ("SearchUsers", {"CollectionId": "people", "FaceId": alice3}),
        ("SearchUsers", {"CollectionId": "people", "UserId": "alice", "UserMatchThreshold": 0}),
        ("SearchUsersByImage", {"CollectionId": "people", "Image": {"Bytes": photos["alice2"]}}),
        ("SearchUsersByImage", {"CollectionId": "people", "Image": {"Bytes": photos["nobody"]}}),
        ("SearchFaces", {"CollectionId": "people", "FaceId": alice, "FaceMatchThreshold": 0}),
        ("SearchFacesByImage", {"CollectionId": "people", "Image": {"Bytes": photos["bob2"]}, "FaceMatchThreshold": 0}),
    ]
    for operation, params in read_only:
        remote = plain(getattr(client, _snake(operation))(**params))
        local = engine.call(operation, params)
        if "CreationTimestamp" in local:  # botocore's datetime keeps microseconds only
            assert remote.pop("CreationTimestamp") == pytest.approx(local.pop("CreationTimestamp"), abs=1e-5)
        assert remote == local, operation

    assert client.search_users(CollectionId="people", FaceId=alice3)["UserMatches"][0]["User"]["UserId"] == "alice"
    by_image = client.search_users_by_image(CollectionId="people", Image={"Bytes": photos["alice2"]})
    assert by_image["UserMatches"][0]["User"]["UserId"] == "alice"
    assert "SearchedFace" in by_image
    nobody = client.search_users_by_image(CollectionId="people", Image={"Bytes": photos["nobody"]})
    assert nobody["UserMatches"] == [] and "SearchedFace" not in nobody
    matches = client.search_faces(CollectionId="people", FaceId=alice)["FaceMatches"]
    assert {m["Face"]["FaceId"] for m in matches} >= {alice2, alice3}
    assert all(isinstance(m["Similarity"], float) for m in matches)
    by_face_image = client.search_faces_by_image(CollectionId="people", Image={"Bytes": photos["bob2"]})
    assert [m["Face"]["FaceId"] for m in by_face_image["FaceMatches"]] == [bob]

    listed = client.list_users(CollectionId="people")["Users"]
    assert listed == [{"UserId": "alice", "UserStatus": "ACTIVE"}]

    dis = client.disassociate_faces(CollectionId="people", UserId="alice", FaceIds=[alice3])
    assert [f["FaceId"] for f in dis["DisassociatedFaces"]] == [alice3]
    deleted = client.delete_faces(CollectionId="people", FaceIds=[alice3, alice])
    assert deleted["DeletedFaces"] == [alice3]
    assert deleted["UnsuccessfulFaceDeletions"][0]["Reasons"] == ["ASSOCIATED_TO_AN_EXISTING_USER"]
    assert deleted["UnsuccessfulFaceDeletions"][0]["UserId"] == "alice"

    assert plain(client.delete_user(CollectionId="people", UserId="alice")) == {}
    assert client.list_users(CollectionId="people")["Users"] == []
    assert client.delete_collection(CollectionId="people")["StatusCode"] == 200
    assert client.list_collections()["CollectionIds"] == []


def _snake(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation)


def test_pattern_and_maximum_violations_are_invalid_parameter(client):
    # boto3 checks neither patterns nor maximums: the server must
    error = client_error(client.create_collection, CollectionId="not a valid id!")
    assert error.response["Error"]["Code"] == "InvalidParameterException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "CollectionId" in error.response["Error"]["Message"]
    assert "pattern" in error.response["Error"]["Message"]

    client.create_collection(CollectionId="c")
    client.create_user(CollectionId="c", UserId="u")
    too_many = [str(uuid.uuid4()) for _ in range(101)]
    error = client_error(client.associate_faces, CollectionId="c", UserId="u", FaceIds=too_many)
    assert error.response["Error"]["Code"] == "InvalidParameterException"
    assert "FaceIds" in error.response["Error"]["Message"]
    error = client_error(client.search_users, CollectionId="c", UserId="u", UserMatchThreshold=100.5)
    assert error.response["Error"]["Code"] == "InvalidParameterException"
    assert "UserMatchThreshold" in error.response["Error"]["Message"]


def test_engine_errors_keep_their_codes(endpoint, client, rng):
    photos = register_people(endpoint.analyzer, rng)
    error = client_error(client.describe_collection, CollectionId="missing")
    assert error.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "missing" in error.response["Error"]["Message"]

    client.create_collection(CollectionId="c")
    error = client_error(client.create_collection, CollectionId="c")
    assert error.response["Error"]["Code"] == "ResourceAlreadyExistsException"

    client.create_user(CollectionId="c", UserId="u1", ClientRequestToken="token-1")
    # same token, same call: the stored answer again; same token, other parameters: a mismatch
    client.create_user(CollectionId="c", UserId="u1", ClientRequestToken="token-1")
    error = client_error(client.create_user, CollectionId="c", UserId="u2", ClientRequestToken="token-1")
    assert error.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    error = client_error(client.list_faces, CollectionId="c", NextToken="forged-token")
    assert error.response["Error"]["Code"] == "InvalidPaginationTokenException"

    error = client_error(client.index_faces, CollectionId="c", Image={"Bytes": b"\x89PNG not registered"})
    assert error.response["Error"]["Code"] == "InvalidImageFormatException"
    error = client_error(client.search_faces_by_image, CollectionId="c", Image={"Bytes": photos["nobody"]})
    assert error.response["Error"]["Code"] == "InvalidParameterException"


def test_image_over_5_mib_is_image_too_large_not_a_transport_error(client):
    client.create_collection(CollectionId="c")
    error = client_error(client.index_faces, CollectionId="c", Image={"Bytes": b"\xff" * (5 * 1024 * 1024 + 1)})
    assert error.response["Error"]["Code"] == "ImageTooLargeException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_body_over_the_limit_is_413_and_not_retried(tmp_path):
    with running_endpoint(tmp_path / "ws", max_body_bytes=64 * 1024) as small:
        c = boto3_client(small.url, retries={"max_attempts": 5, "mode": "standard"})
        c.create_collection(CollectionId="c")
        error = client_error(c.index_faces, CollectionId="c", Image={"Bytes": b"\x00" * 100_000})
        assert error.response["Error"]["Code"] == "RequestEntityTooLargeException"
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert error.response["ResponseMetadata"]["RetryAttempts"] == 0
        assert "65536" in error.response["Error"]["Message"]
        # the connection survived: the body was drained, not left in the socket
        assert c.list_collections()["CollectionIds"] == ["c"]
        c.close()


def test_concurrent_clients_share_one_engine(endpoint, rng):
    import threading

    photos = register_people(endpoint.analyzer, rng)
    setup = boto3_client(endpoint.url)
    setup.create_collection(CollectionId="c")
    face = setup.index_faces(CollectionId="c", Image={"Bytes": photos["alice2"]})["FaceRecords"][0]["Face"]["FaceId"]
    setup.index_faces(CollectionId="c", Image={"Bytes": photos["alice3"]})
    errors, results = [], {}

    shared = boto3_client(endpoint.url, max_pool_connections=8)  # boto3 clients are thread-safe

    def worker(n):
        try:
            shared.create_user(CollectionId="c", UserId=f"user-{n}")
            for _ in range(5):
                found = shared.search_faces(CollectionId="c", FaceId=face, FaceMatchThreshold=0)["FaceMatches"]
                results.setdefault(n, []).append(len(found))
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted(u["UserId"] for u in setup.list_users(CollectionId="c")["Users"]) == sorted(f"user-{n}" for n in range(8))
    assert all(counts == [1] * 5 for counts in results.values()) and len(results) == 8
    setup.close()
    shared.close()
