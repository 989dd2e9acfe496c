"""`python -m app.cli` as a real process, with its own workspace."""

import json
import os
import subprocess
import sys
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parents[2]


def run(*argv, workspace):
    env = {**os.environ, "REKURATOR_WORKSPACE": str(workspace), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "app.cli", *argv], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=60)


def test_module_entry_point(tmp_path):
    version = run("--version", workspace=tmp_path / "ws")
    assert version.returncode == 0
    assert version.stdout.startswith(f"rekurator {app.__version__} Python/")

    listed = run("list-collections", workspace=tmp_path / "ws")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"CollectionIds": [], "FaceModelVersions": []}
    assert (tmp_path / "ws" / "rekurator.sqlite3").exists()

    failed = run("describe-collection", "--collection-id", "none", workspace=tmp_path / "ws")
    assert failed.returncode == 254 and "(ResourceNotFoundException)" in failed.stderr


def test_vision_is_loaded_only_for_image_operations(tmp_path):
    probe = ("import json, sys\n"
             "from app.cli.main import main\n"
             "rc = main(['list-collections', '--output', 'off'])\n"
             "print(json.dumps([rc, 'app.vision.default_analyzer' in sys.modules, 'onnxruntime' in sys.modules]))\n")
    env = {**os.environ, "REKURATOR_WORKSPACE": str(tmp_path / "ws"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert json.loads(done.stdout) == [0, False, False], done.stderr
