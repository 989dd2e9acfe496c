"""Option syntax, input documents, skeletons, global options, exit codes and pagination."""

import json
import pytest
import yaml

import app
from app.cli.pagination import decode_starting_token, encode_token
from app.core.errors import ResourceNotFoundException


# -- exit codes and messages -------------------------------------------------------------------

def test_service_error_is_printed_like_the_aws_cli(cli):
    result = cli("create-user", "--collection-id", "nope", "--user-id", "u")
    assert result.rc == 254
    assert result.out == ""
    assert result.err.startswith("\nAn error occurred (ResourceNotFoundException) when calling the CreateUser operation: ")
    assert result.err.endswith("\n")


def test_invalid_parameter_from_the_engine_is_a_service_error(cli):
    cli("create-collection", "--collection-id", "c")
    result = cli("associate-faces", "--collection-id", "c", "--user-id", "u", "--face-ids", "not-a-face-id")
    assert result.rc == 254
    assert "An error occurred (InvalidParameterException) when calling the AssociateFaces operation: " in result.err
    assert "FaceIds[0]" in result.err


@pytest.mark.parametrize("argv, expected", [
    (["list-faces", "--collection-id", "c", "--bogus", "x"], "Unknown options: --bogus, x"),
    (["associate-faces", "--collection-id", "c"], "the following arguments are required: --user-id, --face-ids"),
    (["associate-faces", "--collection-id", "c", "--user-id", "u", "--face-ids", "[\"x"], "Invalid JSON"),
    (["create-collection", "--collection-id", "c", "--tags", "{bad"], "Invalid JSON"),
    (["create-collection", "--collection-id", "c", "--tags", "a"], "expected Key="),
    (["list-faces", "--collection-id", "c", "--max-results", "many"], "invalid literal for int()"),
    (["search-faces", "--collection-id", "c", "--face-id", "f", "--face-match-threshold", "high"], "could not convert"),
    (["list-faces", "--output", "xml", "--collection-id", "c"], "argument --output"),
    (["index-faces", "--collection-id", "c", "--image", '{"Bytes": "!!not base64!!"}'], "Invalid base64"),
    (["list-faces", "--collection-id", "c", "--query", "Faces[?"], "Bad value for --query"),
    (["associate-faces", "--cli-input-json", '{"CollectionId": 5, "UserId": "u", "FaceIds": ["f"]}'],
     "Invalid type for parameter CollectionId"),
    (["list-faces", "--collection-id", "c", "--no-paginate", "--max-items", "2"],
     "Cannot specify --no-paginate along with pagination arguments: --max-items"),
    (["list-faces", "--cli-input-json", '{"CollectionId": "c", "Foo": 1}'], 'Unknown parameter in input: "Foo"'),
    (["list-faces", "--cli-input-json", "[1]"], "the input must be an object"),
    (["frobnicate"], "Invalid choice: 'frobnicate'"),
    ([], "the following arguments are required: command"),
])
def test_bad_command_lines_exit_252(cli, argv, expected):
    result = cli(*argv)
    assert result.rc == 252, result.err
    assert expected in result.err
    assert result.out == ""


def test_missing_file_is_252_and_bad_workspace_253(cli, tmp_path):
    cli("create-collection", "--collection-id", "c")
    missing = cli("index-faces", "--collection-id", "c", "--image-bytes", f"fileb://{tmp_path / 'missing.jpg'}")
    assert missing.rc == 252 and "Unable to load paramfile" in missing.err  # aws CLI v2: a parameter error

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "rekurator.sqlite3").write_bytes(b"this is not a database" * 100)
    result = cli("--workspace", damaged, "list-collections")
    assert result.rc == 253, result.err
    assert result.err.startswith("\nThe workspace cannot be used: ")
    assert (damaged / "rekurator.sqlite3").read_bytes() == b"this is not a database" * 100

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    assert cli("--workspace", not_a_folder, "list-collections").rc == 253


def test_text_file_parameter(cli, tmp_path):
    tags = tmp_path / "tags.json"
    tags.write_text('{"owner": "lab"}')
    assert cli("create-collection", "--collection-id", "c", "--tags", f"file://{tags}").rc == 0
    binary = tmp_path / "tags.bin"
    binary.write_bytes(b"\xff\xfe")
    result = cli("create-collection", "--collection-id", "d", "--tags", f"file://{binary}")
    assert result.rc == 252 and "fileb://" in result.err


# -- --query, --cli-input-json/yaml, skeletons ----------------------------------------------------

def test_query(cli, collection):
    ids = cli("list-faces", "--collection-id", "c", "--query", "Faces[].ExternalImageId").json
    assert sorted(ids) == ["amy1", "amy2", "amy3", "bob1", "bob2"]
    text = cli("list-faces", "--collection-id", "c", "--query", "sort(Faces[].ExternalImageId)", "--output", "text")
    assert text.out == "amy1\tamy2\tamy3\tbob1\tbob2\n"


def test_cli_input_json_with_override(cli, collection, tmp_path):
    cli("create-user", "--collection-id", "c", "--user-id", "amy")
    cli("create-user", "--collection-id", "c", "--user-id", "bob")
    document = {"CollectionId": "c", "UserId": "bob", "FaceIds": [collection["amy1"]]}
    result = cli("associate-faces", "--cli-input-json", json.dumps(document), "--user-id", "amy")
    assert result.rc == 0, result.err
    assert result.json["AssociatedFaces"] == [{"FaceId": collection["amy1"]}]
    assert cli("list-faces", "--collection-id", "c", "--user-id", "bob").json["Faces"] == []

    path = tmp_path / "input.json"
    path.write_text(json.dumps({**document, "FaceIds": [collection["bob1"]]}))
    assert cli("associate-faces", "--cli-input-json", f"file://{path}").json["AssociatedFaces"] == [
        {"FaceId": collection["bob1"]}]

    yaml_input = f"CollectionId: c\nUserId: bob\nFaceIds:\n- {collection['bob2']}\n"
    assert cli("associate-faces", "--cli-input-yaml", yaml_input).json["AssociatedFaces"] == [{"FaceId": collection["bob2"]}]

    both = cli("associate-faces", "--cli-input-json", "{}", "--cli-input-yaml", "{}")
    assert both.rc == 252 and "not allowed with" in both.err


def test_cli_input_json_blob_is_base64(cli, photos):
    import base64

    cli("create-collection", "--collection-id", "c")
    path = photos.make("p.jpg", 2)
    document = {"CollectionId": "c", "Image": {"Bytes": base64.b64encode(path.read_bytes()).decode()}}
    result = cli("index-faces", "--cli-input-json", json.dumps(document))
    assert result.rc == 0, result.err and len(result.json["FaceRecords"]) == 1


def test_generate_cli_skeleton_input(cli):
    skeleton = cli("associate-faces", "--generate-cli-skeleton").json  # no required options, nothing called
    assert skeleton == {"CollectionId": "", "UserId": "", "FaceIds": [""], "UserMatchThreshold": 0.0,
                        "ClientRequestToken": ""}
    assert cli("associate-faces", "--generate-cli-skeleton", "input").json == skeleton

    text = cli("associate-faces", "--generate-cli-skeleton", "yaml-input").out
    assert yaml.safe_load(text) == skeleton
    assert "CollectionId: ''  # [REQUIRED]" in text and "UserMatchThreshold: 0.0  # " in text


def test_generate_cli_skeleton_output_validates_then_prints_a_sample(cli):
    missing = cli("associate-faces", "--generate-cli-skeleton", "output")
    assert missing.rc == 252 and "--collection-id" in missing.err
    sample = cli("associate-faces", "--collection-id", "nowhere", "--user-id", "u", "--face-ids", "f",
                 "--generate-cli-skeleton", "output")
    assert sample.rc == 0, sample.err  # the collection does not exist: proof nothing was called
    assert sample.json == {
        "AssociatedFaces": [{"FaceId": "FaceId"}],
        "UnsuccessfulFaceAssociations": [{"FaceId": "FaceId", "UserId": "UserId", "Confidence": 0.0,
                                          "Reasons": ["UnsuccessfulFaceAssociationReason"]}],
        "UserStatus": "UserStatus",
    }
    described = cli("describe-collection", "--collection-id", "x", "--generate-cli-skeleton", "output",
                    "--output", "text")
    assert described.out == "CollectionARN\t1970-01-01T00:00:00\t0\tFaceModelVersion\t0\n"


# -- global options ---------------------------------------------------------------------------

def test_global_options_before_or_after_the_command(cli, collection):
    before = cli("--output", "text", "--query", "Faces[0].ExternalImageId", "list-faces", "--collection-id", "c")
    after = cli("list-faces", "--collection-id", "c", "--query", "Faces[0].ExternalImageId", "--output", "text")
    assert before.out == after.out and before.out.strip() in {"amy1", "amy2", "amy3", "bob1", "bob2"}


def test_version(cli):
    result = cli("--version")
    assert result.rc == 0
    assert result.out.startswith(f"rekurator {app.__version__} Python/")
    assert cli("list-collections", "--version").out == result.out


def test_workspace_option_wins_over_the_environment(cli, tmp_path, monkeypatch):
    chosen = tmp_path / "chosen"
    assert cli("--workspace", chosen, "create-collection", "--collection-id", "here").rc == 0
    assert (chosen / "rekurator.sqlite3").exists()
    assert cli("list-collections").json["CollectionIds"] == []
    assert cli("list-collections", "--workspace", chosen).json["CollectionIds"] == ["here"]


def test_options_without_effect_say_why_under_debug(cli):
    result = cli("list-collections", "--debug", "--no-verify-ssl", "--ca-bundle", "x.pem", "--cli-read-timeout", "5",
                 "--cli-connect-timeout", "5", "--no-sign-request", "--no-cli-pager", "--cli-auto-prompt",
                 "--cli-binary-format", "raw-in-base64-out", "--color", "on")
    assert result.rc == 0
    for flag in ("--no-verify-ssl", "--ca-bundle", "--cli-read-timeout", "--cli-connect-timeout", "--no-sign-request",
                 "--no-cli-pager", "--cli-auto-prompt", "--cli-binary-format", "--color"):
        assert f"{flag} ha" in result.err or f"{flag} changes nothing" in result.err, flag
    assert " - rekurator.cli - DEBUG - Calling ListCollections" in result.err
    quiet = cli("list-collections", "--no-verify-ssl")
    assert quiet.err == ""
    assert "not a paginated operation" in cli("describe-collection", "--collection-id", "x", "--debug",
                                              "--no-paginate").err


def test_help(cli):
    top = cli("help")
    assert top.rc == 0 and "associate-faces" in top.out and "index-folder" in top.out and "--endpoint-url" in top.out
    op = cli("associate-faces", "help")
    assert op.rc == 0 and "--user-match-threshold" in op.out and "--image-bytes" not in op.out
    assert "--image-bytes" in cli("index-faces", "help").out
    for flag in ("--help", "-h"):
        assert cli(flag).rc == 0 and cli(flag).out == top.out


# -- pagination through the command line --------------------------------------------------------

def test_list_commands_merge_every_page(cli, collection):
    merged = cli("list-faces", "--collection-id", "c", "--page-size", "2", "--debug")
    assert len(merged.json["Faces"]) == 5 and "NextToken" not in merged.json
    assert "3 page(s) fetched" in merged.err

    single = cli("list-faces", "--collection-id", "c", "--max-results", "2")  # manual paging: one call, as aws
    assert len(single.json["Faces"]) == 2 and single.json["NextToken"]
    resumed = cli("list-faces", "--collection-id", "c", "--max-results", "2", "--next-token", single.json["NextToken"])
    assert len(resumed.json["Faces"]) == 2
    assert cli("list-faces", "--collection-id", "c", "--max-results", "2", "--no-paginate").json["NextToken"]


def test_max_items_and_starting_token(cli, collection):
    everything = [f["FaceId"] for f in cli("list-faces", "--collection-id", "c").json["Faces"]]
    first = cli("list-faces", "--collection-id", "c", "--page-size", "2", "--max-items", "3").json
    assert [f["FaceId"] for f in first["Faces"]] == everything[:3]
    token = first["NextToken"]
    assert decode_starting_token(token, "NextToken")[1] == 1  # one item into the second page
    rest = cli("list-faces", "--collection-id", "c", "--page-size", "2", "--starting-token", token).json
    assert [f["FaceId"] for f in rest["Faces"]] == everything[3:]

    text = cli("list-faces", "--collection-id", "c", "--page-size", "2", "--max-items", "2", "--output", "text").out
    assert text.splitlines()[-1] == f"NEXTTOKEN\t{encode_token({'NextToken': json_token(cli)})}"


def json_token(cli):
    return cli("list-faces", "--collection-id", "c", "--max-results", "2").json["NextToken"]


def test_list_collections_and_users_paginate(cli):
    for name in ("a", "b", "c"):
        cli("create-collection", "--collection-id", name)
    assert cli("list-collections", "--page-size", "1").json == {
        "CollectionIds": ["a", "b", "c"], "FaceModelVersions": [cli("describe-collection", "--collection-id", "a")
                                                                .json["FaceModelVersion"]] * 3}
    for user in ("u1", "u2", "u3"):
        cli("create-user", "--collection-id", "a", "--user-id", user)
    users = cli("list-users", "--collection-id", "a", "--page-size", "1", "--query", "Users[].UserId").json
    assert users == ["u1", "u2", "u3"]


# -- the remote backend ------------------------------------------------------------------------

class FakeRemote:
    instances = []

    def __init__(self, **settings):
        self.settings = settings
        self.calls = []
        self.closed = False
        FakeRemote.instances.append(self)

    def call(self, operation, params):
        self.calls.append((operation, params))
        if params.get("CollectionId") == "missing":
            raise ResourceNotFoundException("The collection id: missing does not exist")
        return {"FaceCount": 1, "FaceModelVersion": "7.0", "CollectionARN": "arn", "CreationTimestamp": 0, "UserCount": 0}

    def close(self):
        self.closed = True


def test_endpoint_url_profile_or_region_use_the_remote_backend(cli, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    FakeRemote.instances.clear()
    result = cli("--endpoint-url", "http://127.0.0.1:9", "describe-collection", "--collection-id", "c", "--no-verify-ssl",
                 "--cli-read-timeout", "7", "--region", "eu-west-1", remote_backend_factory=FakeRemote)
    assert result.rc == 0, result.err
    [remote] = FakeRemote.instances
    assert remote.settings == {"endpoint_url": "http://127.0.0.1:9", "region_name": "eu-west-1", "profile_name": None,
                               "verify": False, "read_timeout": 7}
    assert remote.calls == [("DescribeCollection", {"CollectionId": "c"})] and remote.closed
    assert result.json["CreationTimestamp"].startswith("1970-01-01T")

    error = cli("--profile", "p", "describe-collection", "--collection-id", "missing", "--ca-bundle", "ca.pem",
                remote_backend_factory=FakeRemote)
    assert error.rc == 254 and "(ResourceNotFoundException) when calling the DescribeCollection operation" in error.err
    assert FakeRemote.instances[-1].settings["verify"] == "ca.pem"
    assert FakeRemote.instances[-1].settings["profile_name"] == "p"

    local_only = cli("--region", "x", "export-report", remote_backend_factory=FakeRemote)
    assert local_only.rc == 253 and "local workspace" in local_only.err


def test_settings_the_backend_cannot_take_are_named_under_debug(cli):
    made = []

    def backend(endpoint_url=None, region_name=None, profile_name=None, unsigned=None, read_timeout=60.0):
        made.append(dict(endpoint_url=endpoint_url, unsigned=unsigned, read_timeout=read_timeout))
        return FakeRemote()

    result = cli("--endpoint-url", "http://h:1", "--no-sign-request", "--cli-read-timeout", "0", "--ca-bundle", "c.pem",
                 "--cli-connect-timeout", "3", "describe-collection", "--collection-id", "c", "--debug",
                 remote_backend_factory=backend)
    assert result.rc == 0
    assert made == [{"endpoint_url": "http://h:1", "unsigned": True, "read_timeout": None}]  # 0: no timeout, as aws
    assert "--no-verify-ssl/--ca-bundle has no effect: the remote backend takes no 'verify' setting" in result.err
    assert "--cli-connect-timeout has no effect" in result.err


def test_unreachable_endpoint_with_the_real_backend_exits_255(cli):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = cli("--endpoint-url", f"http://127.0.0.1:{port}", "list-collections", "--no-sign-request")
    assert result.rc == 255, result.err
    assert "Could not connect to the endpoint URL" in result.err and result.out == ""


def test_serve_delegates_to_the_server(cli, monkeypatch):
    import sys
    import types

    seen = []
    module = types.ModuleType("app.server.main")
    module.serve_main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "app.server.main", module)
    result = cli("--workspace", "/tmp/ws", "--no-verify-ssl", "--debug", "--no-cli-auto-prompt", "serve", "--port", "0",
                 "--debug")
    assert result.rc == 0
    assert seen == [["--workspace", "/tmp/ws", "--port", "0", "--debug"]]  # after `serve`: the server's own options
    assert "--no-verify-ssl has no effect on serve" in result.err
    assert "--no-cli-auto-prompt has no effect on serve" in result.err
