"""The journal report: one builder, one writer, the same bytes from every surface."""

import json
from pathlib import Path

import jsonschema
import pytest

from app.workflows import journal_report as reports
from app.workflows.journal_report import journal_report, last_journal_seq, report_bytes, write_report

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "resources" / "report.schema.json").read_text())


@pytest.fixture
def journal(engine):
    for cid in ("c", "d"):
        engine.create_collection(CollectionId=cid)
        engine.create_user(CollectionId=cid, UserId="amy")
    return engine


def test_scope_and_entries(journal):
    everything = journal_report(journal, generated_at=0.0)
    jsonschema.validate(everything, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert everything["Scope"] == {} and len(everything["Operations"]) == 4
    assert everything["GeneratedAt"] == "1970-01-01T00:00:00.000+00:00"
    session = journal_report(journal, since_seq=2, kind="session")
    assert session["Scope"] == {"Kind": "session", "SinceSeq": 2} and [o["Seq"] for o in session["Operations"]] == [3, 4]
    only_d = journal_report(journal, collection_id="d")
    assert only_d["Scope"] == {"CollectionId": "d"} and {o["CollectionId"] for o in only_d["Operations"]} == {"d"}


def test_bytes_keep_names_readable_and_the_clock_is_one_place(journal, monkeypatch):
    monkeypatch.setattr(reports, "report_clock", lambda: 1_700_000_000.25)
    report = journal_report(journal)
    assert report["GeneratedAt"] == "2023-11-14T22:13:20.250+00:00"
    report["Workspace"] = "/home/zoë/faces"
    data = report_bytes(report)
    assert "/home/zoë/faces".encode() in data and data.endswith(b"}\n") and b"\n  \"ReportVersion\"" in data
    assert json.loads(data) == report


def test_write_replaces_in_one_step_and_leaves_nothing_behind(journal, tmp_path):
    report = journal_report(journal, generated_at=0.0)
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    target.write_text("old")
    assert write_report(report, target) == target
    assert target.read_bytes() == report_bytes(report) and [p.name for p in target.parent.iterdir()] == ["report.json"]
    with pytest.raises(OSError):
        write_report(report, tmp_path / "missing" / "r.json")
    with pytest.raises(OSError):
        write_report(report, target.parent)  # a folder cannot be replaced by a file
    assert [p.name for p in target.parent.iterdir()] == ["report.json"] and not list(tmp_path.glob(".*.tmp"))


def test_last_journal_seq(engine):
    assert last_journal_seq(engine) == 0
    engine.create_collection(CollectionId="c")
    for n in range(10):
        engine.create_user(CollectionId="c", UserId=f"u{n}")
    assert last_journal_seq(engine) == 11
