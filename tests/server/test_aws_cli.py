"""The real aws CLI (awscli v1, a test dependency) against the endpoint, as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .endpoint_fixtures import TEST_KEY_ID, TEST_SECRET, running_endpoint
from .photos import register_people

pytest.importorskip("awscli", reason="the aws CLI (PyPI 'awscli') is part of the test extra")

SERVICE_ERROR_EXIT = 255  # awscli v1's status for an error answered by the service


def aws(endpoint, tmp_path, *args, key="test-key", secret="test-secret"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key,
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_CONFIG_FILE=str(tmp_path / "absent-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "absent-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
    )
    command = [sys.executable, "-m", "awscli", "rekognition", *args, "--endpoint-url", endpoint.url, "--region", "us-east-1"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def test_aws_cli_drives_the_endpoint(endpoint, tmp_path, rng):
    photos = register_people(endpoint.analyzer, rng)
    photo = tmp_path / "group.jpg"
    photo.write_bytes(photos["group"])

    rc, out, err = aws(endpoint, tmp_path, "create-collection", "--collection-id", "cli")
    assert rc == 0, err
    assert json.loads(out)["CollectionArn"].endswith("collection/cli")

    rc, out, err = aws(endpoint, tmp_path, "index-faces", "--collection-id", "cli", "--image-bytes", f"fileb://{photo}")
    assert rc == 0, err
    face_ids = [r["Face"]["FaceId"] for r in json.loads(out)["FaceRecords"]]
    assert len(face_ids) == 2
    endpoint.engine.create_user(CollectionId="cli", UserId="alice")

    rc, out, err = aws(
        endpoint, tmp_path, "associate-faces", "--collection-id", "cli", "--user-id", "alice",
        "--face-ids", face_ids[0], "00000000-0000-0000-0000-000000000000",
    )
    assert rc == 0, err
    answer = json.loads(out)
    assert answer["AssociatedFaces"] == [{"FaceId": face_ids[0]}]
    assert answer["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["FACE_NOT_FOUND"]
    assert answer["UserStatus"] == "ACTIVE"
    assert endpoint.engine.list_faces(CollectionId="cli", UserId="alice")["Faces"][0]["FaceId"] == face_ids[0]


def test_aws_cli_reports_service_errors(endpoint, tmp_path):
    rc, out, err = aws(endpoint, tmp_path, "describe-collection", "--collection-id", "absent")
    assert rc == SERVICE_ERROR_EXIT
    assert "An error occurred (ResourceNotFoundException) when calling the DescribeCollection operation:" in err
    assert out == ""

    rc, out, err = aws(endpoint, tmp_path, "create-collection", "--collection-id", "no spaces allowed")
    assert rc == SERVICE_ERROR_EXIT
    assert "An error occurred (InvalidParameterException) when calling the CreateCollection operation:" in err
    assert "CollectionId" in err


def test_aws_cli_signs_with_the_configured_key(tmp_path):
    with running_endpoint(tmp_path / "ws", credentials={TEST_KEY_ID: TEST_SECRET}) as signed:
        rc, out, err = aws(signed, tmp_path, "list-collections", key=TEST_KEY_ID, secret=TEST_SECRET)
        assert rc == 0, err
        assert json.loads(out)["CollectionIds"] == []
        rc, out, err = aws(signed, tmp_path, "list-collections", key=TEST_KEY_ID, secret="wrong")
        assert rc == SERVICE_ERROR_EXIT
        assert "(InvalidSignatureException) when calling the ListCollections operation" in err
