"""The crash log: a hard crash leaves a report; the next start moves it aside and offers it once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from app.gui import crash_log

ROOT = Path(__file__).resolve().parents[2]


def test_no_report_when_there_is_no_log_or_an_empty_one(tmp_path):
    path = tmp_path / "crash.log"
    assert crash_log.take_previous_crash(path) is None
    path.write_text("")
    assert crash_log.take_previous_crash(path) is None
    assert path.exists() and not (tmp_path / crash_log.PREVIOUS_CRASH_LOG).exists()


def test_a_report_is_moved_aside_and_offered_once(tmp_path):
    path = tmp_path / "crash.log"
    (tmp_path / crash_log.PREVIOUS_CRASH_LOG).write_text("an older crash")
    path.write_text("Fatal Python error: Segmentation fault\n")
    previous = crash_log.take_previous_crash(path)
    assert previous == tmp_path / crash_log.PREVIOUS_CRASH_LOG
    assert previous.read_text() == "Fatal Python error: Segmentation fault\n"  # the older one replaced
    assert not path.exists()
    assert crash_log.take_previous_crash(path) is None


def test_the_default_location_is_the_log_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("REKURATOR_LOG_DIR", str(tmp_path / "logs"))
    assert crash_log.crash_log_path() == tmp_path / "logs" / "crash.log"


def test_long_reports_are_shown_by_their_end(tmp_path):
    path = tmp_path / "crash-previous.log"
    path.write_text("head\n" + "x" * 100 + "\nthe crashing frame\n")
    text = crash_log.crash_report_text(path, limit=30)
    assert text.startswith("…") and text.endswith("the crashing frame\n") and "head" not in text
    assert "cannot be read" in crash_log.crash_report_text(tmp_path / "gone.log")


def test_the_box_offers_the_text_the_path_and_the_folder(qtbot, tmp_path, monkeypatch):
    report = tmp_path / "crash-previous.log"
    report.write_text("Fatal Python error: Aborted\n")
    opened = []
    monkeypatch.setattr("PySide6.QtGui.QDesktopServices.openUrl", lambda url: opened.append(url.toLocalFile()))
    box = crash_log.show_previous_crash(None, report)
    qtbot.addWidget(box)
    assert box.isVisible() and box.objectName() == "previousCrash"
    assert "Fatal Python error: Aborted" in box.detailedText()
    assert str(report) in box.informativeText()
    folder_button = next(b for b in box.buttons() if b.text() == "Open Log Folder")
    folder_button.click()
    assert opened == [str(tmp_path)]
    assert box.button(QMessageBox.StandardButton.Close) is not None


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal")
def test_a_real_crash_is_offered_by_the_next_start(tmp_path):
    env = dict(os.environ, REKURATOR_LOG_DIR=str(tmp_path / "logs"), QT_QPA_PLATFORM="offscreen",
               REKURATOR_WORKSPACE=str(tmp_path / "ws"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    crash = subprocess.run(
        [sys.executable, "-c", "import os, signal\nfrom app.gui.crash_log import enable_crash_log\n"
                               "enable_crash_log()\nos.kill(os.getpid(), signal.SIGSEGV)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert crash.returncode == -signal.SIGSEGV
    logs = tmp_path / "logs"
    assert "Fatal Python error: Segmentation fault" in (logs / "crash.log").read_text()

    start = subprocess.run([sys.executable, str(ROOT / "main.py"), "--quit-after-ms", "300"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    assert start.returncode == 0, start.stderr
    assert "Segmentation fault" in (logs / crash_log.PREVIOUS_CRASH_LOG).read_text()
    assert (logs / "crash.log").read_text() == ""  # a fresh log for this run, which ended cleanly
    assert "the previous run crashed" in (logs / "gui.log").read_text()
