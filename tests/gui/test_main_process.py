"""`python main.py` comes up on an empty workspace and closes cleanly (a real process, offscreen)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def env_for(tmp_path) -> dict:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", REKURATOR_WORKSPACE=str(tmp_path / "ws"), HOME=str(tmp_path / "home"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    return env


def test_main_starts_and_quits(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--quit-after-ms", "300"], cwd=tmp_path,
                          env=env_for(tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ws" / "rekurator.sqlite3").is_file()  # the workspace was opened (and created)
    assert "Traceback" not in proc.stderr
    # settings were written on close, into the isolated config folder
    assert list((tmp_path / "config").rglob("*.ini"))
    # the crash log lives under the user's log folder and holds nothing after a clean run
    logs = list((tmp_path / "state").rglob("crash.log"))
    assert logs and logs[0].read_text() == ""


def test_version_and_usage(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "main.py"), "--version"], env=env_for(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("rekurator ")
    from app.gui.main import main  # the in-process entry point: same argument handling

    assert main(["--version"]) == 0
    assert main(["--no-such-option"]) == 2


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal")
def test_sigterm_closes_the_window_cleanly(tmp_path):
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py")], cwd=tmp_path, env=env_for(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ws" / "rekurator.sqlite3").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert list((tmp_path / "config").rglob("*.ini"))  # settings saved on the way out
