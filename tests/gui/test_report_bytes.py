"""The window's File ▸ Export and `rekurator export-report --output-file` write the same bytes."""

from __future__ import annotations

import json

from app.cli.main import main
from app.workflows import journal_report as reports
from tests.core.fakes import analyzed_face, face_of, identity_centres

from .conftest import open_window
from .gui_actions import done


def test_window_and_cli_reports_are_byte_identical(qtbot, tmp_path, analyzer, rng, people, engine, monkeypatch, capsys):
    monkeypatch.setattr(reports, "report_clock", lambda: 1_733_300_000.5)  # one GeneratedAt for both
    w = open_window(qtbot, engine)
    start = w.session_start_seq
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:3])
    engine.disassociate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:1])
    # a name the report must keep as written (the window used to escape it, the CLI did not)
    photo = tmp_path / "Zoë in Köln.jpg"
    photo.write_bytes(analyzer.register(b"zoe", [analyzed_face(face_of(identity_centres(1, seed=3)[0], rng))]))
    assert main(["--workspace", str(engine.workspace), "index-folder", "--collection-id", "c", "--folder", str(tmp_path),
                 "--quality-filter", "NONE"], analyzer=analyzer) == 0
    capsys.readouterr()

    calls = [w.export_report(tmp_path / "window-all.json", "workspace"),
             w.export_report(tmp_path / "window-session.json", "session")]
    assert all(done(w, call) for call in calls)  # written in the background
    window_all, window_session = (call.result[0] for call in calls)
    cli_all, cli_since = tmp_path / "cli-all.json", tmp_path / "cli-since.json"
    for target, extra in ((cli_all, []), (cli_since, ["--since-seq", str(start)])):
        assert main(["--workspace", str(engine.workspace), "export-report", "--output-file", str(target), *extra]) == 0
    w.close()

    assert window_all.read_bytes() == cli_all.read_bytes()
    assert "Zoë in Köln.jpg".encode() in cli_all.read_bytes()  # SourceFile, written as it is
    session, since = json.loads(window_session.read_bytes()), json.loads(cli_since.read_bytes())
    assert session["Scope"] == {"Kind": "session", "SinceSeq": start} and since["Scope"] == {"SinceSeq": start}
    since["Scope"]["Kind"] = "session"
    assert session == since and [o["Operation"] for o in session["Operations"]] == \
        ["AssociateFaces", "DisassociateFaces", "IndexFaces"]
