"""The JSON 1.1 codec on its own."""

from __future__ import annotations

import base64
import datetime
import json

import numpy as np
import pytest

from app.server import wire
from app.server.protocol_errors import SerializationException, UnknownOperationException, UnsupportedMediaTypeException


def test_blob_members_are_decoded_by_shape_and_strings_left_alone():
    raw = bytes(range(256))
    body = json.dumps({"CollectionId": "QUJD", "Image": {"Bytes": base64.b64encode(raw).decode()}, "ExternalImageId": "QUJD"})
    params = wire.decode_request("IndexFaces", body.encode())
    assert params["Image"]["Bytes"] == raw
    # strings that happen to be valid base64 stay strings: only blob shapes are decoded
    assert params["CollectionId"] == "QUJD" and params["ExternalImageId"] == "QUJD"


def test_operations_without_blobs_pass_through():
    assert wire.decode_request("AssociateFaces", b'{"FaceIds": ["a"], "UserMatchThreshold": 80}') == {
        "FaceIds": ["a"],
        "UserMatchThreshold": 80,
    }
    assert wire.decode_request("ListCollections", b"  \n") == {}


def test_invalid_base64_names_the_member():
    with pytest.raises(SerializationException, match=r"Image\.Bytes"):
        wire.decode_request("SearchFacesByImage", b'{"Image": {"Bytes": "abc"}}')  # bad padding


def test_non_string_blob_is_left_for_validation():
    assert wire.decode_request("IndexFaces", b'{"Image": {"Bytes": 5}}') == {"Image": {"Bytes": 5}}
    assert wire.decode_request("IndexFaces", b'{"Image": "x"}') == {"Image": "x"}


def test_response_encoding():
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=datetime.timezone.utc)
    body = wire.encode_response({"T": moment, "B": b"\x00\xff", "F": np.float32(0.5), "A": np.arange(2), "S": "é"})
    assert json.loads(body) == {"T": moment.timestamp(), "B": "AP8=", "F": 0.5, "A": [0, 1], "S": "é"}
    with pytest.raises(ValueError):
        wire.encode_response({"x": float("nan")})  # never invalid JSON on the wire
    with pytest.raises(TypeError):
        wire.encode_response({"x": object()})


@pytest.mark.parametrize(
    "target, expected",
    [("RekognitionService.AssociateFaces", "AssociateFaces"), (" RekognitionService.ListUsers ", "ListUsers")],
)
def test_targets(target, expected):
    assert wire.operation_from_target(target) == expected


@pytest.mark.parametrize("target", [None, "", "RekognitionService", "Rekognition.ListUsers", "RekognitionService.listUsers"])
def test_bad_targets(target):
    with pytest.raises(UnknownOperationException):
        wire.operation_from_target(target)


def test_content_types():
    for accepted in (None, "application/x-amz-json-1.1", "Application/JSON; charset=UTF-8", "application/x-amz-json-1.0"):
        wire.check_content_type(accepted)
    for refused in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
        with pytest.raises(UnsupportedMediaTypeException):
            wire.check_content_type(refused)
