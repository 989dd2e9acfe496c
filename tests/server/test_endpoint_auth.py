"""SigV4 end to end: boto3 against an endpoint configured with a key pair."""

from __future__ import annotations

import datetime
import http.client
import json

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from .endpoint_fixtures import TEST_KEY_ID, TEST_SECRET, boto3_client, running_endpoint


@pytest.fixture
def signed_endpoint(tmp_path):
    with running_endpoint(tmp_path / "ws", credentials={TEST_KEY_ID: TEST_SECRET, "AKIDSECOND": "other"}) as ep:
        yield ep


def error_of(client, call="list_collections", **params):
    with pytest.raises(ClientError) as info:
        getattr(client, call)(**params)
    return info.value.response


def test_right_keys_work(signed_endpoint):
    for key, secret in ((TEST_KEY_ID, TEST_SECRET), ("AKIDSECOND", "other")):
        client = boto3_client(signed_endpoint.url, key, secret)
        client.create_collection(CollectionId=f"made-by-{key}")
        client.close()
    client = boto3_client(signed_endpoint.url, TEST_KEY_ID, TEST_SECRET)
    assert client.list_collections()["CollectionIds"] == ["made-by-AKIDREKURATORTEST", "made-by-AKIDSECOND"]
    client.close()


def test_wrong_secret_is_invalid_signature(signed_endpoint):
    response = error_of(boto3_client(signed_endpoint.url, TEST_KEY_ID, "wrong"), "create_collection", CollectionId="x")
    assert response["Error"]["Code"] == "InvalidSignatureException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert signed_endpoint.engine.list_collections()["CollectionIds"] == []  # nothing happened


def test_unknown_key_is_unrecognized_client(signed_endpoint):
    response = error_of(boto3_client(signed_endpoint.url, "AKIDNOBODY", TEST_SECRET))
    assert response["Error"]["Code"] == "UnrecognizedClientException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unsigned_is_missing_authentication_token(signed_endpoint):
    response = error_of(boto3_client(signed_endpoint.url, signature_version=UNSIGNED))
    assert response["Error"]["Code"] == "MissingAuthenticationTokenException"
    # a raw request without any header too
    conn = http.client.HTTPConnection("127.0.0.1", signed_endpoint.port, timeout=10)
    conn.request("POST", "/", b"{}", {"X-Amz-Target": "RekognitionService.ListCollections"})
    reply = conn.getresponse()
    assert reply.status == 400
    assert json.loads(reply.read())["__type"] == "MissingAuthenticationTokenException"
    conn.close()


def test_region_other_than_the_served_one_is_rejected(signed_endpoint):
    import boto3

    session = boto3.session.Session(aws_access_key_id=TEST_KEY_ID, aws_secret_access_key=TEST_SECRET, region_name="eu-west-1")
    client = session.client("rekognition", endpoint_url=signed_endpoint.url)
    response = error_of(client)
    assert response["Error"]["Code"] == "InvalidSignatureException"
    assert "eu-west-1" in response["Error"]["Message"]


@pytest.mark.parametrize("minutes, message", [(-10, "Signature expired"), (10, "Signature not yet current")])
def test_request_signed_10_minutes_away_is_rejected(signed_endpoint, monkeypatch, minutes, message):
    skewed = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=minutes)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: skewed)
    response = error_of(boto3_client(signed_endpoint.url, TEST_KEY_ID, TEST_SECRET))
    assert response["Error"]["Code"] == "InvalidSignatureException"
    assert response["Error"]["Message"].startswith(message)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_signature_is_checked_before_the_body_is_parsed(signed_endpoint):
    # an unsigned garbage body learns nothing but "sign your request"
    conn = http.client.HTTPConnection("127.0.0.1", signed_endpoint.port, timeout=10)
    conn.request("POST", "/", b"{garbage", {"X-Amz-Target": "RekognitionService.Nope"})
    reply = conn.getresponse()
    assert json.loads(reply.read())["__type"] == "MissingAuthenticationTokenException"
    conn.close()
