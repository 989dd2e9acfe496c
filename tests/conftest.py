"""Test-wide isolation: headless Qt, and no test ever touches the real user directories."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Until the per-test fixture below takes over (collection, session- and module-scoped fixtures),
# HOME and the XDG dirs point into a folder of this run, so that nothing the suite starts (an
# onnxruntime session, a model cache) writes to the real ~/.cache or ~/.local; and onnxruntime's
# telemetry is off even for a test module that imports onnxruntime before app.vision does.
_SESSION_HOME = tempfile.mkdtemp(prefix="rekurator-tests-home-")
atexit.register(shutil.rmtree, _SESSION_HOME, True)
os.environ["HOME"] = _SESSION_HOME
for _name, _sub in (("XDG_DATA_HOME", ".local/share"), ("XDG_CONFIG_HOME", ".config"),
                    ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state")):
    os.environ[_name] = os.path.join(_SESSION_HOME, _sub)
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

import pytest


@pytest.fixture(scope="session")
def session_cache_dir(tmp_path_factory):
    """One model cache for the whole run: the dlib ONNX conversion happens once."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path, monkeypatch, session_cache_dir):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("REKURATOR_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("REKURATOR_CACHE_DIR", str(session_cache_dir))
    # log files go to the user log dir under XDG_STATE_HOME above, never to a developer's override
    monkeypatch.delenv("REKURATOR_LOG_DIR", raising=False)
