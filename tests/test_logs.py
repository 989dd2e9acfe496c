"""app.logs: one rotating log file per program in the user log folder; the CLI logs only there."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

import app
from app import logs


@pytest.fixture(autouse=True)
def restored_logging():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    logs.stop_logging()
    root.setLevel(level)
    root.handlers[:] = handlers


def own_handlers():
    return [h for h in logging.getLogger().handlers if logs.is_own_handler(h)]


def flush():
    for handler in own_handlers():
        handler.flush()


def test_log_dir_is_the_user_log_dir_unless_overridden(tmp_path, monkeypatch):
    # tests/conftest.py points XDG_STATE_HOME into tmp; platformdirs puts logs under it on Linux
    if os.name == "posix" and not os.uname().sysname == "Darwin":
        assert logs.log_dir() == Path(os.environ["XDG_STATE_HOME"]) / "rekurator" / "log"
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path / "mine"))
    assert logs.log_dir() == tmp_path / "mine"
    assert logs.log_file("gui") == tmp_path / "mine" / "gui.log"


def test_setup_writes_the_component_file(tmp_path, monkeypatch):
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path / "logs"))
    path = logs.setup_logging("cli")
    assert path == tmp_path / "logs" / "cli.log"
    logging.getLogger("app.test").info("hello %s", "there")
    logging.getLogger("app.test").debug("not at INFO")
    flush()
    text = path.read_text()
    assert f"rekurator {app.__version__} cli started (pid {os.getpid()})" in text
    assert "INFO app.test: hello there" in text
    assert "not at INFO" not in text


def test_last_setup_wins_and_handlers_do_not_pile_up(tmp_path, monkeypatch):
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path))
    logs.setup_logging("cli")
    logs.setup_logging("cli")
    assert len(own_handlers()) == 1
    logs.setup_logging("server")
    assert len(own_handlers()) == 1
    logging.getLogger("app.test").warning("after the switch")
    flush()
    assert "after the switch" in (tmp_path / "server.log").read_text()
    assert "after the switch" not in (tmp_path / "cli.log").read_text()


def test_console_only_when_nobody_else_configured_logging(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path))
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.handlers[:] = [foreign]  # an embedding program's handler
    logs.setup_logging("server", console=True)
    assert all(not isinstance(h, logging.StreamHandler) or isinstance(h, logging.FileHandler) for h in own_handlers())
    assert foreign in root.handlers  # kept

    root.handlers[:] = []
    logs.setup_logging("server", "warning", console=True)
    logging.getLogger("app.test").warning("to stderr too")
    logging.getLogger("app.test").info("below the level")
    err = capsys.readouterr().err
    assert "WARNING app.test: to stderr too" in err and "below the level" not in err


@pytest.mark.parametrize("component", ["", "GUI", "../x", "a b", "x" * 40, None])
def test_bad_component_names(component):
    with pytest.raises(ValueError, match="log component"):
        logs.setup_logging(component)


def test_bad_level():
    with pytest.raises(ValueError, match="unknown log level"):
        logs.setup_logging("cli", "loud")


def test_unwritable_log_folder_is_not_fatal(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(blocker / "logs"))
    assert logs.setup_logging("cli") is None
    assert own_handlers() == []
    assert capsys.readouterr() == ("", "")  # and silent about it


def test_rotation_keeps_a_bounded_number_of_files(tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(folder))
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    logs.setup_logging("gui")
    for i in range(400):
        logging.getLogger("app.test").info("line %04d %s", i, "x" * 40)
    flush()
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["gui.log"] + [f"gui.log.{n}" for n in range(1, logs.BACKUP_COUNT + 1)]
    assert all(p.stat().st_size <= 2_000 for p in folder.iterdir())
    assert "line 0399" in (folder / "gui.log").read_text()


# -- the programs ---------------------------------------------------------------------------------
def cli_log() -> Path:
    return logs.log_dir() / "cli.log"


def test_cli_logs_to_its_file_and_prints_only_the_answer(tmp_path, capsys):
    from app.cli.main import main

    assert main(["--workspace", str(tmp_path / "ws"), "list-collections"]) == 0
    out, err = capsys.readouterr()
    assert '"CollectionIds": []' in out and err == ""
    flush()
    assert "command list-collections" in cli_log().read_text()


def test_cli_unexpected_error_goes_to_the_log_with_its_traceback(tmp_path, capsys):
    from app.cli.main import main

    def broken_engine(workspace):
        raise RuntimeError("the disk caught fire")

    assert main(["--workspace", str(tmp_path / "ws"), "list-collections"], engine_factory=broken_engine) == 255
    out, err = capsys.readouterr()
    assert "the disk caught fire" in err and "Traceback" not in err and out == ""
    flush()
    text = cli_log().read_text()
    assert "list-collections failed" in text and "Traceback" in text and "RuntimeError: the disk caught fire" in text


def test_cli_version_writes_no_log(capsys):
    from app.cli.main import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith(f"rekurator {app.__version__} ")
    assert not cli_log().exists()


def test_server_logs_to_server_log(tmp_path, monkeypatch, capsys):
    from app.server.main import serve_main
    from tests.core.fakes import MODEL, RegisteredAnalyzer

    analyzer = RegisteredAnalyzer()
    monkeypatch.setattr("app.vision.analyzers.analyzer_choice", lambda model_pack=None: ((lambda: analyzer), MODEL))
    stop = threading.Event()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "rc", serve_main(["--port", "0", "--workspace", str(tmp_path / "ws")], stop_event=stop)))
    thread.start()
    printed = ""
    deadline = time.monotonic() + 20
    while "Press Ctrl-C" not in printed and time.monotonic() < deadline:
        time.sleep(0.02)
        printed += capsys.readouterr().out
    stop.set()
    thread.join(timeout=20)
    assert result["rc"] == 0
    flush()
    text = (logs.log_dir() / "server.log").read_text()
    assert f"rekurator {app.__version__} server started" in text
    assert "accepting unsigned requests" in text  # the server's own warning reached the file
