"""`python -m app.server` / serve_main: options, credentials, start-up banner, clean stop."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from app.server.credentials import CredentialsError, collect_credentials, load_credentials_file
from app.server.main import serve_main

from tests.core.fakes import MODEL, RegisteredAnalyzer

from .endpoint_fixtures import TEST_KEY_ID, TEST_SECRET, boto3_client
from .photos import register_people

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start_subprocess(tmp_path, *args, env_extra=None):
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env_extra or {}))
    return subprocess.Popen(
        [sys.executable, "-m", "app.server", "--port", "0", "--workspace", str(tmp_path / "ws"), *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def read_banner(process) -> list[str]:
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            return lines
    process.kill()
    raise AssertionError(f"no banner: {lines} {process.stderr.read()}")


def url_of(banner: list[str]) -> str:
    return next(m.group(1) for line in banner if (m := re.search(r"listening on (http://\S+)", line)))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_module_entry_point_serves_and_stops_cleanly(tmp_path, stop_signal):
    process = start_subprocess(tmp_path)
    try:
        banner = read_banner(process)
        url = url_of(banner)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
        assert any("UNSIGNED" in line for line in banner)
        client = boto3_client(url)
        client.create_collection(CollectionId="served")
        client.close()
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Stopped." in out
    assert "Traceback" not in err
    assert "CreateCollection 200" in err  # the access log
    assert (tmp_path / "ws" / "rekurator.sqlite3").exists()


def test_keys_from_the_environment_require_signatures(tmp_path):
    process = start_subprocess(
        tmp_path, env_extra={"REKURATOR_ACCESS_KEY_ID": TEST_KEY_ID, "REKURATOR_SECRET_ACCESS_KEY": TEST_SECRET}
    )
    try:
        banner = read_banner(process)
        assert not any("UNSIGNED" in line for line in banner)
        assert any("SigV4" in line and TEST_KEY_ID in line for line in banner)
        assert not any(TEST_SECRET in line for line in banner)
        good = boto3_client(url_of(banner), TEST_KEY_ID, TEST_SECRET)
        assert good.list_collections()["CollectionIds"] == []
        good.close()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0


def run_in_thread(argv):
    """serve_main in a thread (no signal handlers there); returns (thread, stop_event, result)."""
    stop = threading.Event()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("rc", serve_main(argv, stop_event=stop)))
    thread.start()
    return thread, stop, result


def test_serve_main_in_a_thread_serves_images_with_the_chosen_analyzer(tmp_path, capsys, monkeypatch, rng):
    analyzer = RegisteredAnalyzer()
    photos = register_people(analyzer, rng)
    chosen = []

    def fake_choice(model_pack=None):
        chosen.append(model_pack)
        return (lambda: analyzer), MODEL

    monkeypatch.setattr("app.vision.analyzers.analyzer_choice", fake_choice)
    argv = ["--port", "0", "--workspace", str(tmp_path / "ws"), "--log-level", "warning", "--model-pack", "/packs/x"]
    thread, stop, result = run_in_thread(argv)
    printed = ""
    deadline = time.monotonic() + 20
    while "Press Ctrl-C" not in printed and time.monotonic() < deadline:
        time.sleep(0.05)
        printed += capsys.readouterr().out
    try:
        banner = printed.splitlines()
        assert f"models:    {MODEL}" in printed
        client = boto3_client(url_of(banner))
        assert client.create_collection(CollectionId="c")["FaceModelVersion"] == MODEL
        indexed = client.index_faces(CollectionId="c", Image={"Bytes": photos["group"]})
        assert len(indexed["FaceRecords"]) == 2
        client.close()
    finally:
        stop.set()
        thread.join(timeout=20)
    assert result["rc"] == 0
    assert chosen == ["/packs/x"]
    assert "Stopped." in capsys.readouterr().out


def test_unusable_model_pack_is_reported(tmp_path, capsys):
    argv = ["--port", "0", "--workspace", str(tmp_path / "ws"), "--model-pack", str(tmp_path / "no-pack")]
    assert serve_main(argv) == 253
    assert "cannot use the model pack" in capsys.readouterr().err


def test_preload_failure_exits_253_before_serving(tmp_path, capsys, monkeypatch):
    def broken():
        raise RuntimeError("model file truncated")

    monkeypatch.setattr("app.vision.analyzers.analyzer_choice", lambda model_pack=None: (broken, MODEL))
    assert serve_main(["--port", "0", "--workspace", str(tmp_path / "ws"), "--preload-models"]) == 253
    captured = capsys.readouterr()
    assert "cannot load the face models: model file truncated" in captured.err
    assert "listening" not in captured.out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--access-key", "AKID"], "--access-key and --secret-key must be given together"),
        (["--port", "70000"], "not a port number"),
        (["--max-body-bytes", "0"], "must be at least 1"),
        (["--host", "0.0.0.0"], "refusing to accept unsigned requests"),
        (["--credentials-file", "/nonexistent/creds"], "cannot read credentials file"),
    ],
)
def test_bad_options_exit_252_or_253_with_a_message(tmp_path, capsys, argv, fragment):
    expected = 253 if argv[0] == "--credentials-file" else 252  # a file that cannot be read: configuration
    assert serve_main(["--workspace", str(tmp_path / "ws"), *argv]) == expected
    assert fragment in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert serve_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--max-body-bytes" in out and "REKURATOR_ACCESS_KEY_ID" in out


def test_port_in_use_exits_253(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve_main(["--port", str(port), "--workspace", str(tmp_path / "ws")]) == 253
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_unusable_workspace_exits_253(tmp_path, capsys):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "rekurator.sqlite3").write_bytes(b"not a database at all" * 10)
    assert serve_main(["--port", "0", "--workspace", str(workspace)]) == 253
    assert "cannot open the workspace" in capsys.readouterr().err


def test_credentials_file_in_the_aws_layout(tmp_path):
    path = tmp_path / "credentials"
    path.write_text(
        "[default]\naws_access_key_id = AKIDONE\naws_secret_access_key = s1\n"
        "[other]\naws_access_key_id=AKIDTWO\naws_secret_access_key=s2\n[empty]\nregion = x\n"
    )
    assert load_credentials_file(path) == {"AKIDONE": "s1", "AKIDTWO": "s2"}
    merged = collect_credentials("AKIDCLI", "s3", path, environ={"REKURATOR_ACCESS_KEY_ID": "AKIDENV", "REKURATOR_SECRET_ACCESS_KEY": "s4"})
    assert merged == {"AKIDCLI": "s3", "AKIDONE": "s1", "AKIDTWO": "s2", "AKIDENV": "s4"}
    assert collect_credentials(environ={}) == {}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[a]\naws_access_key_id = K\n", "needs both"),
        ("no section header\n", "not an INI file"),
        ("[a]\nregion = x\n", "holds no"),
        ("[a]\naws_access_key_id = K/1\naws_secret_access_key = s\n", "must not contain"),
        ("[a]\naws_access_key_id = K\naws_secret_access_key = s\n[b]\naws_access_key_id = K\naws_secret_access_key = t\n", "twice"),
    ],
)
def test_bad_credentials_files_are_named(tmp_path, text, fragment):
    path = tmp_path / "credentials"
    path.write_text(text)
    with pytest.raises(CredentialsError, match=fragment) as info:
        collect_credentials(credentials_file=path, environ={})
    assert str(path) in str(info.value)


def test_half_configured_environment_is_an_error():
    with pytest.raises(CredentialsError, match="REKURATOR_SECRET_ACCESS_KEY"):
        collect_credentials(environ={"REKURATOR_ACCESS_KEY_ID": "K"})


def test_the_try_line_works_without_aws_credentials_and_started_is_logged_after_binding(tmp_path, capsys):
    from app.logs import log_file

    argv = ["--port", "0", "--workspace", str(tmp_path / "ws"), "--log-level", "info"]
    thread, stop, result = run_in_thread(argv)
    printed = ""
    deadline = time.monotonic() + 20
    while "Press Ctrl-C" not in printed and time.monotonic() < deadline:
        time.sleep(0.05)
        printed += capsys.readouterr().out
    try:
        try_line = next(line for line in printed.splitlines() if line.strip().startswith("try:"))
        assert "--no-sign-request" in try_line  # an unsigned server: no AWS credentials needed
        url = url_of(printed.splitlines())
        logged = log_file("server").read_text()
        assert f"server started (pid {os.getpid()}), listening on {url}" in logged
    finally:
        stop.set()
        thread.join(timeout=20)
    assert result["rc"] == 0
