"""Unusable and read-only workspaces on the command line and in `serve` (issue 13.7)."""

from __future__ import annotations

import http.client
import json
import socket

from app.logs import log_file
from app.server.main import serve_main
from tests.core.test_workspace_access import filled_workspace, read_only


def test_a_workspace_path_that_is_a_file_exits_253_in_plain_words(cli, tmp_path):
    path = tmp_path / "a-file"
    path.write_text("x")
    result = cli("list-collections", "--workspace", path)
    assert result.rc == 253
    assert "is a file, not a folder" in result.err
    assert "Errno" not in result.err and "Traceback" not in result.err


def test_a_new_workspace_in_a_read_only_folder_exits_253(cli, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        result = cli("create-collection", "--collection-id", "c", "--workspace", folder)
    assert result.rc == 253
    assert "Choose a folder you can write to" in result.err and "Traceback" not in result.err


def test_a_read_only_workspace_lists_and_reports_but_refuses_changes(cli, tmp_path):
    workspace = tmp_path / "ws"
    filled_workspace(workspace)
    with read_only(workspace):
        listed = cli("list-collections", "--workspace", workspace)
        report = cli("export-report", "--workspace", workspace)
        refused = cli("create-user", "--collection-id", "c", "--user-id", "v", "--workspace", workspace)
    assert listed.rc == 0 and listed.json["CollectionIds"] == ["c"]
    assert report.rc == 0 and json.loads(report.out)["Operations"]
    assert refused.rc == 253
    assert "read-only" in refused.err and "reports still work" in refused.err
    assert "cannot be read as a database" not in refused.err  # it is not damaged


def test_serve_a_read_only_workspace_answers_reads_and_refuses_writes(tmp_path):
    from tests.server.endpoint_fixtures import running_endpoint

    workspace = tmp_path / "ws"
    filled_workspace(workspace)
    with read_only(workspace), running_endpoint(workspace) as ep:
        answers = {}
        for target, body in (("ListCollections", {}), ("CreateCollection", {"CollectionId": "new"})):
            conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=10)
            headers = {"X-Amz-Target": f"RekognitionService.{target}"}
            conn.request("POST", "/", body=json.dumps(body), headers=headers)
            response = conn.getresponse()
            answers[target] = (response.status, json.loads(response.read()))
            conn.close()
    assert answers["ListCollections"][0] == 200
    status, error = answers["CreateCollection"]
    assert status == 400 and error["__type"] == "AccessDeniedException" and "read-only" in error["Message"]


def test_serve_unusable_workspace_exits_253_in_plain_words(tmp_path, capsys):
    path = tmp_path / "a-file"
    path.write_text("x")
    assert serve_main(["--port", "0", "--workspace", str(path)]) == 253
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err


def test_serve_logs_started_only_after_it_has_bound(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve_main(["--port", str(port), "--workspace", str(tmp_path / "ws")]) == 253
    text = log_file("server").read_text() if log_file("server").exists() else ""
    assert "started" not in text
    assert "cannot listen" in capsys.readouterr().err


def test_serve_usage_errors_exit_252():
    assert serve_main(["--no-such-option"]) == 252
    assert serve_main(["--port", "nope"]) == 252
