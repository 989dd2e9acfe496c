"""`rekurator-gui --self-test`: the window check, the summary, and the exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import app
from app.gui import main as gui_main
from app.self_test import SelfTestError

ROOT = Path(__file__).resolve().parents[2]


def test_window_check_opens_and_closes_the_window(qapp, isolated_settings):
    result = gui_main.check_window()
    assert result["visible"] is True and result["icon"] is True
    assert result["platform"] == "offscreen"
    assert result["title"].startswith("Rekurator")
    assert not [w for w in qapp.topLevelWidgets() if w.objectName() == "mainWindow" and w.isVisible()]
    # the window saved its settings into a throwaway folder, not the user's (here: the test's)
    assert not list(isolated_settings.rglob("*.ini"))


def test_failure_prints_the_summary_and_exits_1(monkeypatch, capsys):
    def broken():
        raise SelfTestError("the detector model is missing")

    monkeypatch.setattr("app.self_test.default_checks", lambda model_pack=None: [("resources", broken)])
    assert gui_main._self_test_main() == 1
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["ok"] is False and summary["failed"] == "resources"
    assert "self-test FAILED at resources: SelfTestError: the detector model is missing" in err


def test_self_test_process_from_the_source_tree(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", REKURATOR_LOG_DIR=str(tmp_path / "logs"))  # overridden to offscreen
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--self-test"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["ok"] is True and summary["version"] == app.__version__
    assert list(summary["checks"]) == ["resources", "analysis", "window"]
    assert summary["checks"]["analysis"]["faces"] >= 1
    assert summary["checks"]["window"]["platform"] == "offscreen"
    assert "self-test passed" in (tmp_path / "logs" / "gui.log").read_text()
    assert not Path(os.environ["REKURATOR_WORKSPACE"]).exists()  # the user's workspace was not touched
