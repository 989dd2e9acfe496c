"""The JSON report: built from the journal, valid against resources/report.schema.json."""

import json
import uuid
from pathlib import Path

import jsonschema

from app.core.report import REPORT_VERSION, build_report

from .fakes import analyzed_face, face_of, identity_centres

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "resources" / "report.schema.json").read_text())


def test_report_of_a_curation_session(engine, analyzer, rng):
    engine.create_collection(CollectionId="c")
    centres = identity_centres(2, seed=2)
    ids = []
    for k in range(2):
        analyzer.register(f"p{k}".encode(), [analyzed_face(face_of(centres[k], rng), left=0.2 * i) for i in range(3)])
        ids.append([r["Face"]["FaceId"] for r in engine.index_faces(CollectionId="c", Image={"Bytes": f"p{k}".encode()})["FaceRecords"]])
    engine.create_user(CollectionId="c", UserId="amy")
    engine.associate_faces(CollectionId="c", UserId="amy", FaceIds=ids[0][:2])
    ghost = str(uuid.uuid4())
    engine.associate_faces(CollectionId="c", UserId="amy", FaceIds=[ids[0][2], ids[1][0], ghost], UserMatchThreshold=70)
    engine.disassociate_faces(CollectionId="c", UserId="amy", FaceIds=ids[0][:1])
    report = build_report(engine.journal_entries(), str(engine.workspace), {"CollectionId": "c"})
    jsonschema.validate(report, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert report["ReportVersion"] == REPORT_VERSION
    ops = [o["Operation"] for o in report["Operations"]]
    assert ops == ["CreateCollection", "IndexFaces", "IndexFaces", "CreateUser", "AssociateFaces", "AssociateFaces", "DisassociateFaces"]
    second = report["Operations"][5]
    assert second["UserMatchThreshold"] == 70
    outcome = {o["FaceId"]: o for o in second["FaceOutcomes"]}
    assert outcome[ids[0][2]]["Outcome"] == "ASSOCIATED"
    assert outcome[ids[1][0]]["Outcome"] == "NOT_ASSOCIATED" and outcome[ids[1][0]]["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
    assert 0 <= outcome[ids[1][0]]["Confidence"] < 70
    assert outcome[ghost]["Reasons"] == ["FACE_NOT_FOUND"] and "Confidence" not in outcome[ghost]
    [amy] = report["Summary"]["Users"]
    assert amy["Outcomes"] == {"ASSOCIATED": 3, "NOT_ASSOCIATED": 2, "DISASSOCIATED": 1}
    assert amy["Reasons"] == {"LOW_MATCH_CONFIDENCE": 1, "FACE_NOT_FOUND": 1}
    assert report["Summary"]["OperationCounts"]["IndexFaces"] == 2
    # image bytes never reach the report, only their digest
    index_request = report["Operations"][1]["Request"]
    assert set(index_request["Image"]["Bytes"]) == {"Sha256", "Size"}


def test_schema_rejects_a_broken_report(engine):
    engine.create_collection(CollectionId="c")
    report = build_report(engine.journal_entries(), "ws")
    report["Operations"][0]["FaceOutcomes"] = [{"FaceId": "x", "Outcome": "MAYBE"}]
    try:
        jsonschema.validate(report, SCHEMA)
    except jsonschema.ValidationError as exc:
        assert "MAYBE" in str(exc)
    else:
        raise AssertionError("schema accepted an unknown outcome")


SCHEMA_1_0 = json.loads((Path(__file__).resolve().parents[2] / "resources" / "report-1.0.schema.json").read_text())


def test_undo_and_redo_are_told_from_decisions(engine, analyzer, rng):
    """Report 1.1: an undo is ApplyChangeSet with Purpose UNDO, not an association at threshold 0."""
    from app.core import change_sets

    engine.create_collection(CollectionId="c")
    centre = identity_centres(1, seed=3)[0]
    analyzer.register(b"p", [analyzed_face(face_of(centre, rng), left=0.2 * i) for i in range(3)])
    ids = [r["Face"]["FaceId"] for r in engine.index_faces(CollectionId="c", Image={"Bytes": b"p"})["FaceRecords"]]
    engine.create_user(CollectionId="c", UserId="amy")
    engine.create_user(CollectionId="c", UserId="bo")
    engine.associate_faces(CollectionId="c", UserId="bo", FaceIds=ids[:1])
    moved = engine.move_faces(CollectionId="c", UserId="amy", FaceIds=ids[:2])
    undone = engine.apply_change_set(**change_sets.inverse(moved["ChangeSet"]))
    engine.apply_change_set(**change_sets.inverse(undone["ChangeSet"], "REDO"))
    report = build_report(engine.journal_entries(), str(engine.workspace))
    jsonschema.validate(report, SCHEMA, format_checker=jsonschema.FormatChecker())
    ops = [(o["Operation"], o["Purpose"]) for o in report["Operations"]][-3:]
    assert ops == [("MoveFaces", "EDIT"), ("ApplyChangeSet", "UNDO"), ("ApplyChangeSet", "REDO")]
    move, undo = report["Operations"][-3]["FaceOutcomes"], report["Operations"][-2]["FaceOutcomes"]
    assert move == [{"FaceId": ids[0], "UserId": "amy", "Outcome": "MOVED", "OwnerUserId": "bo"},
                    {"FaceId": ids[1], "UserId": "amy", "Outcome": "ASSOCIATED"}]
    assert undo == [{"FaceId": ids[0], "UserId": "bo", "Outcome": "MOVED", "OwnerUserId": "amy"},
                    {"FaceId": ids[1], "UserId": "amy", "Outcome": "DISASSOCIATED"}]
    assert "UserMatchThreshold" not in report["Operations"][-2]


def test_old_reports_still_validate_against_their_version(engine):
    engine.create_collection(CollectionId="c")
    report = build_report(engine.journal_entries(), "ws")
    # a 1.0 report as the previous release wrote it: no Purpose
    old = {**report, "ReportVersion": "1.0",
           "Operations": [{k: v for k, v in op.items() if k != "Purpose"} for op in report["Operations"]]}
    jsonschema.validate(old, SCHEMA_1_0)
    try:
        jsonschema.validate(old, SCHEMA)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the 1.1 schema took a 1.0 report")
