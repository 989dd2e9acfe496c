"""`rekurator export-report`: the journal as a versioned JSON report."""

import json
import uuid
from pathlib import Path

import jsonschema

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "resources" / "report.schema.json").read_text())


def curate(cli, collection):
    cli("create-user", "--collection-id", "c", "--user-id", "amy")
    cli("associate-faces", "--collection-id", "c", "--user-id", "amy", "--face-ids", collection["amy1"], collection["amy2"])
    cli("associate-faces", "--collection-id", "c", "--user-id", "amy", "--face-ids", collection["bob1"], str(uuid.uuid4()),
        "--user-match-threshold", "90")
    cli("disassociate-faces", "--collection-id", "c", "--user-id", "amy", "--face-ids", collection["amy2"])


def test_report_file_holds_every_operation_and_a_per_user_summary(cli, collection, tmp_path):
    curate(cli, collection)
    cli("create-collection", "--collection-id", "other")
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    result = cli("export-report", "--output-file", target)
    assert result.rc == 0 and result.out == ""
    report = json.loads(target.read_text(encoding="utf-8"))
    jsonschema.validate(report, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert report["ReportVersion"] == "1.1" and report["Workspace"] == str(tmp_path / "workspace")
    counts = report["Summary"]["OperationCounts"]
    assert counts == {"CreateCollection": 2, "IndexFaces": 5, "CreateUser": 1, "AssociateFaces": 2, "DisassociateFaces": 1}
    [amy] = report["Summary"]["Users"]
    assert (amy["CollectionId"], amy["UserId"]) == ("c", "amy")
    assert amy["Outcomes"] == {"ASSOCIATED": 2, "NOT_ASSOCIATED": 2, "DISASSOCIATED": 1}
    assert amy["Reasons"] == {"LOW_MATCH_CONFIDENCE": 1, "FACE_NOT_FOUND": 1}
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]  # no temporary file left behind


def test_report_scope_and_stdout_with_query(cli, collection):
    curate(cli, collection)
    only_c = cli("export-report", "--collection-id", "c").json
    assert only_c["Scope"] == {"CollectionId": "c"} and {o["CollectionId"] for o in only_c["Operations"]} == {"c"}
    last_seq = only_c["Operations"][-1]["Seq"]
    later = cli("export-report", "--since-seq", last_seq - 1, "--query", "Operations[].Operation").json
    assert later == ["DisassociateFaces"]
    assert cli("export-report", "--since-seq", "-1").rc == 252


def test_report_file_that_cannot_be_written_exits_253(cli, tmp_path):
    result = cli("export-report", "--output-file", tmp_path / "missing-dir" / "r.json")
    assert result.rc == 253 and "Cannot write the report" in result.err
