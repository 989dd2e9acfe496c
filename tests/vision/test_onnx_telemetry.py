"""onnxruntime telemetry stays off: analysing a photo leaves nothing under ~/.cache/Microsoft.

Run in a fresh interpreter with a temporary HOME and cache dir, and without
ORT_DISABLE_TELEMETRY in its environment, so that only Rekurator's own switch can keep the
telemetry store from being created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_SCRIPT = """
import sys
from app.vision.default_analyzer import create_default_analyzer
analysis = create_default_analyzer().analyze(open(sys.argv[1], "rb").read())
assert analysis.faces, "the sample photo has a face"
print("faces", len(analysis.faces))
"""


def _run_analysis(tmp_path: Path, session_cache_dir: Path) -> Path:
    home = tmp_path / "telemetry-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               REKURATOR_CACHE_DIR=str(session_cache_dir))
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(REPO / "tests" / "data" / "obama.jpg")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "faces" in done.stdout
    return home


def test_analysis_creates_no_onnxruntime_telemetry_files(tmp_path, session_cache_dir):
    home = _run_analysis(tmp_path, session_cache_dir)
    assert not (home / ".cache" / "Microsoft").exists(), sorted(str(p) for p in (home / ".cache").rglob("*"))


def test_the_switch_is_set_before_onnxruntime_loads():
    # importing any vision module sets it; onnxruntime reads it once, when its library loads
    import app.vision  # noqa: F401

    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
