"""Output formats against the aws CLI's own formatter classes (the `awscli` package, test extra)."""

import io
import json
import uuid
from argparse import Namespace

import jmespath
import pytest
import yaml

awscli_formatter = pytest.importorskip("awscli.formatter")

from botocore.paginate import Paginator  # noqa: E402
from botocore.session import Session  # noqa: E402

from app.cli import model  # noqa: E402
from app.cli.pagination import paginate  # noqa: E402
from app.cli.render import OutputOptions, render  # noqa: E402
from app.cli.table_output import format_table  # noqa: E402
from app.cli.text_output import format_text  # noqa: E402


def aws_render(kind: str, title: str, response, query=None) -> str:
    formatter = {"json": awscli_formatter.JSONFormatter, "text": awscli_formatter.TextFormatter,
                 "table": awscli_formatter.TableFormatter}[kind]
    stream = io.StringIO()
    formatter(Namespace(query=jmespath.compile(query) if query else None, color="off"))(title, response, stream)
    return stream.getvalue()


@pytest.fixture
def responses(cli, collection):
    """Real responses of three commands, each command repeatable with the same answer."""
    cli("create-user", "--collection-id", "c", "--user-id", "amy")
    cli("create-user", "--collection-id", "c", "--user-id", "bob")
    cli("associate-faces", "--collection-id", "c", "--user-id", "amy", "--face-ids", collection["amy1"], collection["amy2"])
    cli("associate-faces", "--collection-id", "c", "--user-id", "bob", "--face-ids", collection["bob2"])
    # a token makes the association replay its first answer for every output format
    association = ["associate-faces", "--collection-id", "c", "--user-id", "amy", "--client-request-token", "render",
                   "--user-match-threshold", "90", "--face-ids", collection["amy3"], collection["bob1"],
                   collection["bob2"], str(uuid.uuid4())]
    assert cli(*association).rc == 0  # the first answer; every later run replays it
    return {
        "AssociateFaces": association,
        "ListFaces": ["list-faces", "--collection-id", "c"],
        "DescribeCollection": ["describe-collection", "--collection-id", "c"],
    }


@pytest.mark.parametrize("kind", ["json", "text", "table"])
@pytest.mark.parametrize("operation", ["AssociateFaces", "ListFaces", "DescribeCollection"])
def test_output_matches_the_aws_cli(cli, responses, kind, operation):
    argv = responses[operation]
    response = cli(*argv).json
    if operation == "AssociateFaces":  # the fixture really produced every kind of outcome
        reasons = {r for f in response["UnsuccessfulFaceAssociations"] for r in f["Reasons"]}
        assert {"LOW_MATCH_CONFIDENCE", "ASSOCIATED_TO_A_DIFFERENT_USER", "FACE_NOT_FOUND"} <= reasons
    ours = cli(*argv, "--output", kind)
    assert ours.rc == 0, ours.err
    assert ours.out == aws_render(kind, operation, response)
    assert ours.out.strip()


@pytest.mark.parametrize("kind", ["json", "text", "table"])
def test_query_output_matches_the_aws_cli(cli, responses, kind):
    argv = responses["AssociateFaces"]
    query = "UnsuccessfulFaceAssociations[?Confidence].{Face: FaceId, Score: Confidence, Why: Reasons}"
    response = cli(*argv).json
    ours = cli(*argv, "--output", kind, "--query", query)
    assert ours.out == aws_render(kind, "AssociateFaces", response, query)


SHAPES = [
    {"a": "日本語テキスト", "b": True, "c": None, "d": 1.5},  # wide characters count twice in tables
    {"Long": "x" * 120, "Other": "y"},  # wider than the terminal: one-row sections turn vertical
    ["x", "y"],
    [["a", "b"], ["c", 1]],
    [{"a": 1}, {"b": 2, "c": [1, 2]}, {"a": 3, "n": {"deep": [{"k": "v"}]}}],
    {"only": "one"},
    {"empty": [], "none": {}},
    "scalar",
    {},
]


@pytest.mark.parametrize("data", SHAPES, ids=range(len(SHAPES)))
def test_text_and_table_rules_on_odd_shapes(data):
    assert format_text(json.loads(json.dumps(data))) == aws_render("text", "Op", json.loads(json.dumps(data)))
    assert format_table("Op", json.loads(json.dumps(data))) == aws_render("table", "Op", json.loads(json.dumps(data)))


def test_table_colour_wraps_cells_and_edges_only(cli, responses):
    plain = cli(*responses["DescribeCollection"], "--output", "table", "--color", "off").out
    coloured = cli(*responses["DescribeCollection"], "--output", "table", "--color", "on").out
    assert "\x1b[" in coloured
    stripped = coloured
    for code in ("\x1b[1m", "\x1b[34m", "\x1b[0m", "\x1b[2m", "\x1b[33m"):
        stripped = stripped.replace(code, "")
    assert stripped == plain


def test_yaml_output_follows_aws_cli_v2_conventions(cli, responses):
    response = cli(*responses["DescribeCollection"]).json
    out = cli(*responses["DescribeCollection"], "--output", "yaml").out
    assert yaml.safe_load(out) == response
    keys = [line.split(":")[0] for line in out.splitlines()]
    assert keys == sorted(keys)  # block style, keys sorted
    assert f"CreationTimestamp: '{response['CreationTimestamp']}'" in out  # ISO timestamps are quoted strings

    listed = cli(*responses["ListFaces"], "--output", "yaml").out
    assert listed.startswith("FaceModelVersion:") and "\nFaces:\n- BoundingBox:\n    Height:" in listed


def test_yaml_stream_prints_each_page_as_a_list_item(cli, collection):
    out = cli("list-faces", "--collection-id", "c", "--page-size", "2", "--output", "yaml-stream").out
    pages = yaml.safe_load(out)
    assert [len(p["Faces"]) for p in pages] == [2, 2, 1]
    assert all("NextToken" in p for p in pages[:2]) and "NextToken" not in pages[2]
    assert out.count("\n- ") + out.startswith("- ") == 3


def test_empty_response_prints_nothing_and_off_prints_nothing(cli, collection):
    assert cli("create-user", "--collection-id", "c", "--user-id", "zed", "--output", "yaml").out == ""
    assert cli("list-faces", "--collection-id", "c", "--output", "off").out == ""


# -- paginated output, against botocore's paginator driving the aws CLI's formatters -------------

PAGES = {
    None: {"Faces": [{"FaceId": "f1"}, {"FaceId": "f2"}], "FaceModelVersion": "m", "NextToken": "t1"},
    "t1": {"Faces": [{"FaceId": "f3"}, {"FaceId": "f4"}], "FaceModelVersion": "m", "NextToken": "t2"},
    "t2": {"Faces": [{"FaceId": "f5"}], "FaceModelVersion": "m"},
}


def fake_list_faces(**kwargs):
    return json.loads(json.dumps(PAGES[kwargs.get("NextToken")]))


@pytest.fixture(scope="module")
def list_faces_model():
    return Session().get_service_model("rekognition").operation_model("ListFaces")


@pytest.mark.parametrize("paging", [{}, {"max_items": 3}, {"max_items": 2}, {"max_items": 1, "starting_token": None}])
def test_pagination_matches_botocore(paging, list_faces_model):
    config = model.paginator("ListFaces")
    if "starting_token" in paging:  # resume from the token a --max-items 3 run printed
        first = paginate(lambda p: fake_list_faces(**p), {"CollectionId": "c"}, config, max_items=3)
        paging = {**paging, "starting_token": first.resume_token}
    ours = paginate(lambda p: fake_list_faces(**p), {"CollectionId": "c"}, config, **paging)
    theirs = Paginator(fake_list_faces, config, list_faces_model).paginate(
        CollectionId="c", PaginationConfig={"MaxItems": paging.get("max_items"), "StartingToken": paging.get("starting_token")})
    assert ours.full_result() == theirs.build_full_result()

    for kind in ("text", "json", "table"):
        again = Paginator(fake_list_faces, config, list_faces_model).paginate(
            CollectionId="c", PaginationConfig={"MaxItems": paging.get("max_items"),
                                                "StartingToken": paging.get("starting_token")})
        stream = io.StringIO()
        render("ListFaces", ours, OutputOptions(kind), stream)
        assert stream.getvalue() == aws_render(kind, "ListFaces", again)
