"""A JSON null for any optional member is the member left out, in every operation (issue 13.2).

The optional member paths are generated from the service model (every depth, through
structures), each is sent as null over HTTP next to the same request without it, and the two
answers must agree: same status, same error type. None may be 5xx. The test also fails when the
model holds an optional member path that no request below reaches, so a botocore upgrade that
adds one is noticed.
"""

from __future__ import annotations

import base64
import copy
import http.client
import itertools
import json

import numpy as np
import pytest

from app.core import service_model
from app.core.null_members import drop_null_members
from tests.core.fakes import analyzed_face, identity_centres

from .endpoint_fixtures import running_endpoint

IMAGE = b"\x89PNG registered test image"
S3_IMAGE = {"S3Object": {"Bucket": "bucket", "Name": "photo.jpg", "Version": "1"}}


def optional_paths(shape: dict, prefix: tuple = ()) -> list[tuple]:
    """Every optional member path of a structure shape, nested structures included."""
    paths = []
    required = set(shape.get("required", ()))
    for name, member in shape["members"].items():
        path = prefix + (name,)
        if name not in required:
            paths.append(path)
        member_shape = service_model.shape(member["shape"])
        if member_shape["type"] == "structure":
            paths.extend(optional_paths(member_shape, path))
    return paths


def _get(document: dict, path: tuple):
    for name in path[:-1]:
        document = document.get(name)
        if not isinstance(document, dict):
            return None
    return document


_counter = itertools.count()


def baselines(operation: str, face_id: str) -> list[dict]:
    """Requests for `operation` that reach its handler; fresh names where a call creates something."""
    n = next(_counter)
    image = {"Bytes": base64.b64encode(IMAGE).decode()}
    requests = {
        "CreateCollection": [{"CollectionId": f"new-{n}", "Tags": {"team": "a"}}],
        "DeleteCollection": [{"CollectionId": "missing"}],
        "DescribeCollection": [{"CollectionId": "c"}],
        "ListCollections": [{"MaxResults": 10, "NextToken": None}],
        "IndexFaces": [{"CollectionId": "c", "Image": image, "ExternalImageId": "x", "MaxFaces": 2,
                        "QualityFilter": "NONE", "DetectionAttributes": ["DEFAULT"]},
                       {"CollectionId": "c", "Image": copy.deepcopy(S3_IMAGE)}],
        "ListFaces": [{"CollectionId": "c", "MaxResults": 10, "UserId": "u", "FaceIds": [face_id]}],
        "DeleteFaces": [{"CollectionId": "c", "FaceIds": ["00000000-0000-0000-0000-000000000000"]}],
        "CreateUser": [{"CollectionId": "c", "UserId": f"user-{n}", "ClientRequestToken": f"tok-{n}"}],
        "DeleteUser": [{"CollectionId": "c", "UserId": "nobody", "ClientRequestToken": f"tok-{n}"}],
        "ListUsers": [{"CollectionId": "c", "MaxResults": 10}],
        "AssociateFaces": [{"CollectionId": "c", "UserId": "u", "FaceIds": [face_id],
                            "UserMatchThreshold": 70, "ClientRequestToken": f"tok-{n}"}],
        "DisassociateFaces": [{"CollectionId": "c", "UserId": "v", "FaceIds": [face_id],
                               "ClientRequestToken": f"tok-{n}"}],
        "SearchUsers": [{"CollectionId": "c", "FaceId": face_id, "UserMatchThreshold": 50, "MaxUsers": 5},
                        {"CollectionId": "c", "UserId": "u", "UserMatchThreshold": 50, "MaxUsers": 5}],
        "SearchUsersByImage": [{"CollectionId": "c", "Image": image, "UserMatchThreshold": 50, "MaxUsers": 5,
                                "QualityFilter": "NONE"},
                               {"CollectionId": "c", "Image": copy.deepcopy(S3_IMAGE)}],
        "SearchFaces": [{"CollectionId": "c", "FaceId": face_id, "FaceMatchThreshold": 50, "MaxFaces": 5}],
        "SearchFacesByImage": [{"CollectionId": "c", "Image": image, "FaceMatchThreshold": 50, "MaxFaces": 5,
                                "QualityFilter": "NONE"},
                               {"CollectionId": "c", "Image": copy.deepcopy(S3_IMAGE)}],
    }
    result = []
    for request in requests[operation]:
        result.append({k: v for k, v in request.items() if v is not None})
    return result


def _post(port: int, operation: str, document: dict) -> tuple[int, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/", body=json.dumps(document), headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"RekognitionService.{operation}"})
        response = conn.getresponse()
        payload = json.loads(response.read() or b"{}")
    finally:
        conn.close()
    return response.status, payload.get("__type")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with running_endpoint(tmp_path_factory.mktemp("nulls") / "ws") as ep:
        centre = identity_centres(1)[0]
        ep.analyzer.register(IMAGE, [analyzed_face(centre)])
        ep.engine.create_collection(CollectionId="c")
        first = ep.engine.index_faces(CollectionId="c", Image={"Bytes": IMAGE})
        face_id = first["FaceRecords"][0]["Face"]["FaceId"]
        other = ep.engine.index_faces(CollectionId="c", Image={"Bytes": IMAGE}, ExternalImageId="other")
        other_id = other["FaceRecords"][0]["Face"]["FaceId"]
        ep.engine.create_user(CollectionId="c", UserId="u")
        ep.engine.create_user(CollectionId="c", UserId="v")
        ep.engine.associate_faces(CollectionId="c", UserId="v", FaceIds=[other_id])
        assert np.isfinite(centre).all()
        yield ep, face_id


@pytest.mark.parametrize("operation", service_model.OPERATIONS)
def test_null_optional_member_is_the_member_left_out(served, operation):
    ep, face_id = served
    wanted = set(optional_paths(service_model.input_shape(operation)))
    covered = set()
    for path in wanted:
        for request in baselines(operation, face_id):
            parent = _get(request, path)
            if parent is None:
                continue
            covered.add(path)
            absent = copy.deepcopy(request)
            _get(absent, path).pop(path[-1], None)
            null = copy.deepcopy(request)
            _get(null, path)[path[-1]] = None
            # a call that creates something needs a fresh name each time
            if operation in ("CreateCollection", "CreateUser"):
                key = "CollectionId" if operation == "CreateCollection" else "UserId"
                null[key] += "-null"
            status_absent, type_absent = _post(ep.port, operation, absent)
            status_null, type_null = _post(ep.port, operation, null)
            assert status_null < 500, (operation, path, type_null)
            assert (status_null, type_null) == (status_absent, type_absent), (operation, path)
    assert covered == wanted, f"no request reaches {sorted(wanted - covered)}"


def test_required_member_as_null_is_still_an_error(served):
    ep, _ = served
    answer = _post(ep.port, "SearchFaces", {"CollectionId": "c", "FaceId": None})
    assert answer == (400, "InvalidParameterException")


def test_nulls_are_dropped_at_every_depth_without_touching_the_caller_dict():
    request = {"CollectionId": "c", "Image": {"Bytes": b"x", "S3Object": None}, "MaxFaces": None}
    before = copy.deepcopy(request)
    assert drop_null_members("IndexFaces", request) == {"CollectionId": "c", "Image": {"Bytes": b"x"}}
    assert request == before
    clean = {"CollectionId": "c", "Image": {"Bytes": b"x"}}
    assert drop_null_members("IndexFaces", clean) is clean
    # lists keep their nulls: validation reports them with the index
    assert drop_null_members("DeleteFaces", {"CollectionId": "c", "FaceIds": [None]}) == {
        "CollectionId": "c", "FaceIds": [None]}
