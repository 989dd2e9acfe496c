"""Every operation sub-command, run in-process against a workspace with the fake analyzer."""

import base64
import json
import uuid

from app.cli import model
from app.core import service_model


def test_one_command_per_operation_named_as_the_aws_cli():
    assert set(model.COMMANDS.values()) == set(service_model.OPERATIONS)
    assert {"associate-faces", "search-users-by-image", "search-faces-by-image", "list-collections"} <= set(model.COMMANDS)


def test_collection_lifecycle(cli, analyzer):
    created = cli("create-collection", "--collection-id", "c1", "--tags", "team=red,site=lab")
    assert created.rc == 0, created.err
    assert created.json["StatusCode"] == 200
    assert created.json["FaceModelVersion"] == analyzer.model_version
    assert cli("create-collection", "--collection-id", "c2", "--tags", '{"a": "1"}').rc == 0

    described = cli("describe-collection", "--collection-id", "c1").json
    assert described["FaceCount"] == 0 and described["UserCount"] == 0
    assert described["CollectionARN"].endswith("collection/c1")
    # epoch seconds become ISO 8601, as the aws CLI v2 prints timestamps
    assert described["CreationTimestamp"][:2] == "20" and "T" in described["CreationTimestamp"]

    assert cli("list-collections").json["CollectionIds"] == ["c1", "c2"]
    assert cli("delete-collection", "--collection-id", "c1").json == {"StatusCode": 200}
    assert cli("list-collections").json["CollectionIds"] == ["c2"]


def test_index_faces_from_fileb_and_from_base64_json(cli, photos):
    cli("create-collection", "--collection-id", "c")
    path = photos.make("two.jpg", 0, faces=2)
    by_file = cli("index-faces", "--collection-id", "c", "--image-bytes", f"fileb://{path}", "--max-faces", "1",
                  "--quality-filter", "NONE")
    assert by_file.rc == 0, by_file.err
    assert len(by_file.json["FaceRecords"]) == 1
    assert [u["Reasons"] for u in by_file.json["UnindexedFaces"]] == [["EXCEEDS_MAX_FACES"]]

    other = photos.make("one.jpg", 1)
    encoded = base64.b64encode(other.read_bytes()).decode()
    by_json = cli("index-faces", "--collection-id", "c", "--image", json.dumps({"Bytes": encoded}),
                  "--external-image-id", "one.jpg")
    assert by_json.rc == 0, by_json.err
    assert by_json.json["FaceRecords"][0]["Face"]["ExternalImageId"] == "one.jpg"

    raw = cli("index-faces", "--collection-id", "c", "--image", json.dumps({"Bytes": other.read_text()}),
              "--cli-binary-format", "raw-in-base64-out")
    assert raw.rc == 0, raw.err
    # same bytes -> the same deterministic image id as the base64 route (different ExternalImageId: new face)
    assert len(raw.json["FaceRecords"]) == 1


def test_list_and_delete_faces(cli, collection):
    listed = cli("list-faces", "--collection-id", "c").json
    assert sorted(f["FaceId"] for f in listed["Faces"]) == sorted(collection.values())
    assert "FaceModelVersion" in listed and "NextToken" not in listed

    some = cli("list-faces", "--collection-id", "c", "--face-ids", collection["amy1"], collection["bob1"]).json
    assert {f["ExternalImageId"] for f in some["Faces"]} == {"amy1", "bob1"}

    ghost = str(uuid.uuid4())
    deleted = cli("delete-faces", "--collection-id", "c", "--face-ids", collection["bob2"], ghost).json
    assert deleted["DeletedFaces"] == [collection["bob2"]]
    assert deleted["UnsuccessfulFaceDeletions"] == [{"FaceId": ghost, "Reasons": ["FACE_NOT_FOUND"]}]


def test_users_and_association(cli, collection):
    assert cli("create-user", "--collection-id", "c", "--user-id", "amy").out == ""  # {} prints nothing, as aws
    assert cli("create-user", "--collection-id", "c", "--user-id", "bob").rc == 0
    users = cli("list-users", "--collection-id", "c").json["Users"]
    assert [u["UserId"] for u in users] == ["amy", "bob"]

    # --face-ids as space-separated values
    first = cli("associate-faces", "--collection-id", "c", "--user-id", "amy", "--face-ids", collection["amy1"],
                collection["amy2"]).json
    assert sorted(f["FaceId"] for f in first["AssociatedFaces"]) == sorted([collection["amy1"], collection["amy2"]])
    assert first["UserStatus"] == "ACTIVE"

    # --face-ids as one JSON list; bob's face is below the threshold for amy
    second = cli("associate-faces", "--collection-id", "c", "--user-id", "amy", "--face-ids",
                 json.dumps([collection["amy3"], collection["bob1"]]), "--user-match-threshold", "70").json
    assert [f["FaceId"] for f in second["AssociatedFaces"]] == [collection["amy3"]]
    [low] = second["UnsuccessfulFaceAssociations"]
    assert low["FaceId"] == collection["bob1"] and low["Reasons"] == ["LOW_MATCH_CONFIDENCE"] and low["Confidence"] < 70

    faces_of_amy = cli("list-faces", "--collection-id", "c", "--user-id", "amy").json["Faces"]
    assert len(faces_of_amy) == 3

    dis = cli("disassociate-faces", "--collection-id", "c", "--user-id", "amy", "--face-ids", collection["amy3"]).json
    assert dis["DisassociatedFaces"] == [{"FaceId": collection["amy3"]}]

    assert cli("delete-user", "--collection-id", "c", "--user-id", "bob").rc == 0
    assert [u["UserId"] for u in cli("list-users", "--collection-id", "c").json["Users"]] == ["amy"]


def test_searches(cli, collection, photos):
    cli("create-user", "--collection-id", "c", "--user-id", "amy")
    cli("associate-faces", "--collection-id", "c", "--user-id", "amy", "--face-ids", collection["amy1"], collection["amy2"])

    by_face = cli("search-faces", "--collection-id", "c", "--face-id", collection["amy1"], "--max-faces", "2").json
    assert by_face["SearchedFaceId"] == collection["amy1"]
    assert by_face["FaceMatches"][0]["Face"]["ExternalImageId"] in {"amy2", "amy3"}

    users = cli("search-users", "--collection-id", "c", "--face-id", collection["amy3"]).json
    assert [m["User"]["UserId"] for m in users["UserMatches"]] == ["amy"]

    probe = photos.make("probe.jpg", 0)
    by_image = cli("search-faces-by-image", "--collection-id", "c", "--image-bytes", f"fileb://{probe}",
                   "--face-match-threshold", "50").json
    assert {m["Face"]["ExternalImageId"] for m in by_image["FaceMatches"]} == {"amy1", "amy2", "amy3"}

    users_by_image = cli("search-users-by-image", "--collection-id", "c", "--image-bytes", f"fileb://{probe}").json
    assert [m["User"]["UserId"] for m in users_by_image["UserMatches"]] == ["amy"]


def test_client_request_token_replays_through_the_cli(cli, collection):
    cli("create-user", "--collection-id", "c", "--user-id", "amy")
    args = ("associate-faces", "--collection-id", "c", "--user-id", "amy", "--client-request-token", "tok-1",
            "--face-ids", collection["amy1"])
    first, again = cli(*args), cli(*args)
    assert first.out == again.out and first.json["AssociatedFaces"]
    changed = cli("associate-faces", "--collection-id", "c", "--user-id", "amy", "--client-request-token", "tok-1",
                  "--face-ids", collection["amy2"])
    assert changed.rc == 254 and "IdempotentParameterMismatchException" in changed.err
