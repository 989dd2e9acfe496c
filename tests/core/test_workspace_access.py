"""Workspace privacy and unusable workspace paths (issue 13, items 6 and 7).

Read-only folders are made with `chattr +i` when the tests run as root (root writes through
any mode bits), else with chmod; the tests skip where neither can make a folder read-only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

from app.core.engine import Engine
from app.core.errors import WorkspaceError

from .fakes import RegisteredAnalyzer, analyzed_face, identity_centres


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def read_only(path: Path):
    """Make `path` (a folder or file) read-only for this process, for the block."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a folder read-only")
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {done.stderr.decode().strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        before = mode(path)
        os.chmod(path, before & ~0o222)
        try:
            yield
        finally:
            os.chmod(path, before)


def filled_workspace(path: Path) -> str:
    analyzer = RegisteredAnalyzer()
    image = analyzer.register(b"photo", [analyzed_face(identity_centres(1)[0])])
    with Engine(path, analyzer=analyzer) as engine:
        engine.create_collection(CollectionId="c")
        indexed = engine.index_faces(CollectionId="c", Image={"Bytes": image})
        face_id = indexed["FaceRecords"][0]["Face"]["FaceId"]
        engine.create_user(CollectionId="c", UserId="u")
    return face_id


# -- privacy --------------------------------------------------------------------------------------


def test_a_new_workspace_is_owner_only(tmp_path):
    old_umask = os.umask(0o022)  # the usual one, which made everything world-readable
    try:
        workspace = tmp_path / "deep" / "ws"
        filled_workspace(workspace)
        engine = Engine(workspace, analyzer=RegisteredAnalyzer())
        engine.store.connection().execute("SELECT 1").fetchone()  # -wal / -shm exist while open
        try:
            assert mode(workspace) == 0o700 and mode(workspace.parent) == 0o700
            files = sorted(workspace.iterdir())
            assert any(p.name.endswith("-wal") for p in files) and any(p.name.endswith("-shm") for p in files)
            for path in files:
                assert mode(path) == 0o600, (path.name, oct(mode(path)))
        finally:
            engine.close()
    finally:
        os.umask(old_umask)


def test_sidecar_index_files_are_owner_only(tmp_path, monkeypatch):
    from app.core import engine as engine_module

    monkeypatch.setattr(engine_module, "SIDECAR_MIN_FACES", 1)
    old_umask = os.umask(0o022)
    try:
        filled_workspace(tmp_path / "ws")
        with Engine(tmp_path / "ws", analyzer=RegisteredAnalyzer()) as engine:
            face = engine.list_faces(CollectionId="c")["Faces"][0]["FaceId"]
            engine.search_faces(CollectionId="c", FaceId=face)  # loads the index, saved on close
        index_dir = tmp_path / "ws" / "index"
        sidecars = list(index_dir.glob("collection-*.index"))
        assert sidecars and mode(index_dir) == 0o700
        assert all(mode(p) == 0o600 for p in sidecars)
    finally:
        os.umask(old_umask)


def test_log_files_and_folder_are_owner_only(tmp_path, monkeypatch):
    from app import logs

    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path / "state" / "log"))
    old_umask = os.umask(0o022)
    try:
        path = logs.setup_logging("cli")
        logs.stop_logging()
    finally:
        os.umask(old_umask)
    assert path is not None and mode(path) == 0o600 and mode(path.parent) == 0o700


def test_model_cache_folder_is_owner_only(tmp_path, monkeypatch):
    from app.vision import model_cache

    monkeypatch.setenv(model_cache.CACHE_DIR_ENV, str(tmp_path / "cache" / "models"))
    old_umask = os.umask(0o022)
    try:
        path = model_cache.cached_model("probe", lambda: b"model bytes")
    finally:
        os.umask(old_umask)
    assert mode(Path(path)) == 0o600 and mode(tmp_path / "cache" / "models") == 0o700


def test_an_existing_folder_keeps_its_mode(tmp_path):
    workspace = tmp_path / "shared"
    workspace.mkdir(mode=0o750)
    os.chmod(workspace, 0o750)
    Engine(workspace, analyzer=RegisteredAnalyzer()).close()
    assert mode(workspace) == 0o750
    assert mode(workspace / "rekurator.sqlite3") == 0o600


# -- unusable and read-only workspaces ---------------------------------------------------------------


def test_a_workspace_path_that_is_a_file_says_so_in_plain_words(tmp_path):
    path = tmp_path / "not-a-folder"
    path.write_text("hello")
    with pytest.raises(WorkspaceError, match="is a file, not a folder") as caught:
        Engine(path, analyzer=RegisteredAnalyzer())
    assert "Errno" not in str(caught.value)
    with pytest.raises(WorkspaceError, match="part of the path is a file") as caught:
        Engine(path / "ws", analyzer=RegisteredAnalyzer())
    assert "Errno" not in str(caught.value)


def test_a_new_workspace_in_a_read_only_folder_says_so(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        with pytest.raises(WorkspaceError, match="cannot create a workspace in .*Choose a folder"):
            Engine(folder, analyzer=RegisteredAnalyzer())
        with pytest.raises(WorkspaceError, match="cannot create the workspace folder"):
            Engine(folder / "sub", analyzer=RegisteredAnalyzer())
    assert not (folder / "rekurator.sqlite3").exists()


def test_a_read_only_workspace_can_still_be_listed_and_reported(tmp_path):
    workspace = tmp_path / "ws"
    face_id = filled_workspace(workspace)
    before = sorted(p.name for p in workspace.iterdir())
    with read_only(workspace):
        engine = Engine(workspace, analyzer=RegisteredAnalyzer())
        try:
            assert engine.store.read_only
            assert [c for c in engine.list_collections()["CollectionIds"]] == ["c"]
            assert engine.list_faces(CollectionId="c")["Faces"][0]["FaceId"] == face_id
            assert engine.list_users(CollectionId="c")["Users"][0]["UserId"] == "u"
            from app.core.report import build_report

            entries = engine.journal_entries(after_seq=0, collection_id=None)
            assert [e["Operation"] for e in entries] == ["CreateCollection", "IndexFaces", "CreateUser"]
            assert build_report(entries, str(workspace), {})["Operations"]
            with pytest.raises(WorkspaceError, match="read-only.*listing, searching and reports still work"):
                engine.create_user(CollectionId="c", UserId="v")
        finally:
            engine.close()
    assert sorted(p.name for p in workspace.iterdir()) == before  # nothing was written


def test_a_read_only_database_file_refuses_writes_in_plain_words(tmp_path):
    workspace = tmp_path / "ws"
    filled_workspace(workspace)
    with read_only(workspace / "rekurator.sqlite3"):
        with Engine(workspace, analyzer=RegisteredAnalyzer()) as engine:
            assert engine.list_collections()["CollectionIds"] == ["c"]
            with pytest.raises(WorkspaceError, match="read-only"):
                engine.create_user(CollectionId="c", UserId="v")


def test_sqlite_errors_never_escape_as_such(tmp_path):
    workspace = tmp_path / "ws"
    filled_workspace(workspace)
    with read_only(workspace):
        try:
            Engine(workspace, analyzer=RegisteredAnalyzer()).close()
        except sqlite3.Error as exc:  # pragma: no cover - the bug this guards against
            pytest.fail(f"raw sqlite error: {exc!r}")
    assert np.isfinite(1.0)
