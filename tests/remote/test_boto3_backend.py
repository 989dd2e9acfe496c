"""RemoteBackend: the engine's interface over boto3, checked against the engine itself."""

from __future__ import annotations

import re
import socket
import uuid

import numpy as np
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from app.core import errors
from app.core.engine import Engine
from app.core.service_model import OPERATIONS
from app.core.validation import UnknownOperationError
from app.remote.boto3_backend import RemoteBackend
from app.remote.remote_errors import (
    EndpointUnreachableError,
    RemoteConfigurationError,
    RemoteServiceError,
    error_from_client_error,
)
from tests.core.fakes import RegisteredAnalyzer
from tests.server.endpoint_fixtures import REGION, TEST_KEY_ID, TEST_SECRET, running_endpoint
from tests.server.photos import register_people

SEED = 99


def remote(url, **kw) -> RemoteBackend:
    kw.setdefault("aws_access_key_id", "dummy")
    kw.setdefault("aws_secret_access_key", "dummy")
    kw.setdefault("max_attempts", 1)
    return RemoteBackend(url, REGION, **kw)


def script(backend, photos) -> list:
    """A curation session; every step's answer or typed error, in order."""
    outcomes = []

    def step(operation, **params):
        try:
            outcomes.append((operation, normalized(backend.call(operation, params))))
        except errors.RekognitionError as exc:
            outcomes.append((operation, type(exc).__name__, exc.code, exc.message))
            return None
        return outcomes[-1][1]

    step("CreateCollection", CollectionId="c")
    step("CreateCollection", CollectionId="c")
    step("CreateCollection", CollectionId="bad id")
    step("DescribeCollection", CollectionId="missing")
    group = step("IndexFaces", CollectionId="c", Image={"Bytes": photos["group"]}, ExternalImageId="group.jpg")
    alice, bob = (r["Face"]["FaceId"] for r in group["FaceRecords"])
    alice2 = step("IndexFaces", CollectionId="c", Image={"Bytes": photos["alice2"]})["FaceRecords"][0]["Face"]["FaceId"]
    alice3 = step("IndexFaces", CollectionId="c", Image={"Bytes": photos["alice3"]})["FaceRecords"][0]["Face"]["FaceId"]
    step("IndexFaces", CollectionId="c", Image={"Bytes": photos["bob2"]}, MaxFaces=1, QualityFilter="NONE")
    step("IndexFaces", CollectionId="c", Image={"Bytes": b"never registered"})
    step("IndexFaces", CollectionId="c", Image={"Bytes": b"\x00" * (5 * 1024 * 1024 + 1)})
    step("CreateUser", CollectionId="c", UserId="alice", ClientRequestToken="t-1")
    step("CreateUser", CollectionId="c", UserId="alice", ClientRequestToken="t-1")
    step("CreateUser", CollectionId="c", UserId="bob", ClientRequestToken="t-1")
    step("CreateUser", CollectionId="c", UserId="bob")
    step("CreateUser", CollectionId="c", UserId="bob")
    step("AssociateFaces", CollectionId="c", UserId="alice", FaceIds=[alice, alice2])
    step("AssociateFaces", CollectionId="c", UserId="alice", FaceIds=[bob, alice3, alice3])
    step("AssociateFaces", CollectionId="c", UserId="bob", FaceIds=[alice2, bob, "11111111-1111-1111-1111-111111111111"])
    step("AssociateFaces", CollectionId="c", UserId="nobody", FaceIds=[bob])
    step("AssociateFaces", CollectionId="c", UserId="bob", FaceIds=[str(uuid.UUID(int=i)) for i in range(101)])
    first_page = step("ListFaces", CollectionId="c", MaxResults=2)
    assert first_page["NextToken"] == "<token>"
    step("ListFaces", CollectionId="c", MaxResults=2, NextToken=backend.last_token)
    step("ListFaces", CollectionId="c", NextToken="forged.token")
    step("ListFaces", CollectionId="c", UserId="alice")
    step("ListUsers", CollectionId="c")
    step("SearchUsers", CollectionId="c", FaceId=alice3)
    step("SearchUsers", CollectionId="c", UserId="alice", UserMatchThreshold=0)
    step("SearchUsers", CollectionId="c", UserId="alice", FaceId=alice)
    step("SearchUsersByImage", CollectionId="c", Image={"Bytes": photos["alice2"]}, MaxUsers=1)
    step("SearchUsersByImage", CollectionId="c", Image={"Bytes": photos["nobody"]})
    step("SearchFaces", CollectionId="c", FaceId=alice, FaceMatchThreshold=0, MaxFaces=3)
    step("SearchFacesByImage", CollectionId="c", Image={"Bytes": photos["bob2"]})
    step("SearchFacesByImage", CollectionId="c", Image={"Bytes": photos["nobody"]})
    step("DisassociateFaces", CollectionId="c", UserId="alice", FaceIds=[alice3, bob])
    step("DeleteFaces", CollectionId="c", FaceIds=[alice3, alice, "22222222-2222-2222-2222-222222222222"])
    step("DeleteUser", CollectionId="c", UserId="alice")
    step("DeleteUser", CollectionId="c", UserId="alice")
    step("DescribeCollection", CollectionId="c")
    step("ListCollections")
    step("DeleteCollection", CollectionId="c")
    step("DeleteCollection", CollectionId="c")
    return outcomes


def normalized(result: dict) -> dict:
    """Pagination tokens are sealed with each workspace's own secret: compare their presence only."""
    return {k: ("<token>" if k == "NextToken" else v) for k, v in result.items()}


class TokenKeeping:
    """Records the last NextToken a backend returned, so the script can page with it."""

    def __init__(self, backend):
        self.backend = backend
        self.last_token = None

    def call(self, operation, params):
        result = self.backend.call(operation, params)
        self.last_token = result.get("NextToken", self.last_token)
        return result


def run(backend, photos):
    return script(TokenKeeping(backend), photos)


def photos_for(analyzer):
    return register_people(analyzer, np.random.default_rng(SEED))


def compare(local: list, other: list) -> None:
    assert len(local) == len(other)
    for mine, theirs in zip(local, other, strict=True):
        mine, theirs = _comparable(mine), _comparable(theirs)
        assert theirs == mine


def _comparable(outcome):
    if len(outcome) == 2 and "CreationTimestamp" in outcome[1]:
        result = dict(outcome[1])  # two workspaces, created moments apart: compare the type only
        result["CreationTimestamp"] = type(result["CreationTimestamp"])
        return outcome[0], result
    return outcome


def test_remote_backend_gives_the_engine_s_answers_and_errors(tmp_path):
    analyzer = RegisteredAnalyzer()
    photos = photos_for(analyzer)
    with Engine(tmp_path / "local", analyzer=analyzer) as engine:
        local = run(engine, photos)
    assert sum(len(o) == 4 for o in local) >= 14  # the script does exercise errors
    codes = {o[2] for o in local if len(o) == 4}
    assert codes >= {
        "ResourceAlreadyExistsException", "InvalidParameterException", "ResourceNotFoundException",
        "InvalidImageFormatException", "ImageTooLargeException", "IdempotentParameterMismatchException",
        "ConflictException", "InvalidPaginationTokenException",
    }

    for validate_locally in (True, False):  # False: every error comes back over the wire
        served_analyzer = RegisteredAnalyzer()
        photos_for(served_analyzer)
        with running_endpoint(tmp_path / f"served-{validate_locally}", analyzer=served_analyzer) as ep:
            with remote(ep.url, validate_locally=validate_locally) as backend:
                compare(local, run(backend, photos))


def test_snake_case_methods_match_the_engine(endpoint):
    with remote(endpoint.url) as backend:
        for operation in OPERATIONS:
            name = xform_name(operation)
            assert callable(getattr(Engine, name)) and callable(getattr(RemoteBackend, name))
        assert backend.create_collection(CollectionId="snake")["StatusCode"] == 200
        described = backend.describe_collection(CollectionId="snake")
        assert isinstance(described["CreationTimestamp"], float)
        assert described["CreationTimestamp"] == pytest.approx(
            endpoint.engine.describe_collection(CollectionId="snake")["CreationTimestamp"], abs=1e-5
        )
        assert "ResponseMetadata" not in described
        with pytest.raises(UnknownOperationError):
            backend.call("DetectLabels", {})


def test_none_members_count_as_absent_like_the_engine(endpoint):
    endpoint.engine.create_collection(CollectionId="c")
    with remote(endpoint.url) as backend:
        assert backend.list_faces(CollectionId="c", NextToken=None, MaxResults=None) == endpoint.engine.list_faces(
            CollectionId="c", NextToken=None
        )


def test_bad_values_are_refused_locally_or_by_the_server_with_the_same_error(endpoint):
    with remote(endpoint.url) as checked, remote(endpoint.url, validate_locally=False) as unchecked:
        with pytest.raises(errors.InvalidParameterException) as local:
            checked.create_collection(CollectionId="bad id")
        with pytest.raises(errors.InvalidParameterException) as served:
            unchecked.create_collection(CollectionId="bad id")
    assert local.value.message == served.value.message
    assert getattr(local.value, "request_id", None) is None  # never sent
    assert uuid.UUID(served.value.request_id)  # answered by the server


def test_signed_backend_and_signing_errors(tmp_path):
    with running_endpoint(tmp_path / "ws", credentials={TEST_KEY_ID: TEST_SECRET}) as ep:
        with remote(ep.url, aws_access_key_id=TEST_KEY_ID, aws_secret_access_key=TEST_SECRET) as good:
            assert good.signed
            assert good.list_collections()["CollectionIds"] == []
        with remote(ep.url, aws_access_key_id=TEST_KEY_ID, aws_secret_access_key="wrong") as bad:
            with pytest.raises(RemoteServiceError) as info:
                bad.list_collections()
        assert info.value.code == "InvalidSignatureException"
        assert info.value.http_status == 400
        assert isinstance(info.value, errors.RekognitionError)
        assert info.value.to_dict()["__type"] == "InvalidSignatureException"
        with RemoteBackend(ep.url, REGION, unsigned=True, max_attempts=1) as anonymous:
            assert not anonymous.signed
            with pytest.raises(RemoteServiceError) as info:
                anonymous.list_collections()
        assert info.value.code == "MissingAuthenticationTokenException"


def test_no_credentials_anywhere_means_unsigned(endpoint, monkeypatch):
    with RemoteBackend(endpoint.url, max_attempts=1) as backend:  # the AWS environment is scrubbed
        assert not backend.signed
        assert backend.region_name == "us-east-1"
        assert backend.list_collections()["CollectionIds"] == []
    with pytest.raises(RemoteConfigurationError, match="no AWS credentials"):
        RemoteBackend(endpoint.url, unsigned=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env")
    with RemoteBackend(endpoint.url) as backend:
        assert backend.signed


def test_half_given_keys_are_refused():
    with pytest.raises(RemoteConfigurationError, match="together"):
        RemoteBackend("http://127.0.0.1:1", aws_access_key_id="only-the-id")


def test_unreachable_endpoint_is_a_typed_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    with RemoteBackend(f"http://127.0.0.1:{port}", REGION, unsigned=True, max_attempts=1, connect_timeout=2) as backend:
        with pytest.raises(EndpointUnreachableError) as info:
            backend.list_collections()
    assert f"127.0.0.1:{port}" in info.value.message
    assert isinstance(info.value, errors.RekognitionError)


def test_client_errors_map_to_engine_classes_by_code():
    def client_error(code, status=400):
        return ClientError(
            {"Error": {"Code": code, "Message": f"about {code}"},
             "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "r-1"}},
            "AssociateFaces",
        )

    for code, cls in errors.ERRORS_BY_CODE.items():
        typed = error_from_client_error(client_error(code))
        assert type(typed) is cls and typed.message == f"about {code}" and typed.request_id == "r-1"
    unknown = error_from_client_error(client_error("BrandNewException", 409))
    assert type(unknown) is RemoteServiceError
    assert (unknown.code, unknown.http_status, unknown.message) == ("BrandNewException", 409, "about BrandNewException")
    assert unknown.to_dict() == {"__type": "BrandNewException", "Message": "about BrandNewException"}


@pytest.mark.parametrize(
    "settings, fragment",
    [
        ({"profile_name": "no-such-profile"}, "no-such-profile"),
        ({"endpoint_url": "not a url"}, "Invalid endpoint"),
        ({"region_name": "bad region!"}, "bad region!"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"unsigned": False}, "no AWS credentials"),
    ],
)
def test_bad_settings_are_remote_configuration_errors(settings, fragment):
    settings = {"endpoint_url": "http://127.0.0.1:9", **settings}
    with pytest.raises(RemoteConfigurationError, match=re.escape(fragment)):
        RemoteBackend(**settings)


def test_timeouts_of_none_mean_no_timeout():
    with RemoteBackend("https://127.0.0.1:9", unsigned=True, connect_timeout=None, read_timeout=None, verify=False) as backend:
        config = backend._client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (None, None)
