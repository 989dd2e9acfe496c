"""Opening workspaces: schema, WAL, refusal of foreign, damaged or newer databases."""

import hashlib
import sqlite3

import pytest

from app.core.engine import Engine
from app.core.errors import WorkspaceError
from app.core.schema import APPLICATION_ID, PAGE_SIZE, SCHEMA_VERSION
from app.core.store import Store
from app.core.workspace import WORKSPACE_ENV, database_path, resolve_workspace


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_workspace_settings(tmp_path):
    store = Store(tmp_path / "ws")
    conn = store.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert len(store.meta("pagination_secret")) == 64
    store.close()


def test_secret_survives_reopen(tmp_path):
    first = Store(tmp_path / "ws")
    secret = first.meta("pagination_secret")
    first.close()
    second = Store(tmp_path / "ws")
    assert second.meta("pagination_secret") == secret
    second.close()


def test_garbage_file_is_refused_and_untouched(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    path = database_path(ws)
    path.write_bytes(b"this is not a database at all" * 100)
    before = digest(path)
    with pytest.raises(WorkspaceError, match="not a SQLite database"):
        Engine(ws)
    assert digest(path) == before


def test_damaged_database_is_refused_and_untouched(tmp_path):
    ws = tmp_path / "ws"
    Engine(ws).close()
    path = database_path(ws)
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page
    path.write_bytes(bytes(data))
    before = digest(path)
    with pytest.raises(WorkspaceError):
        with Engine(ws) as eng:
            eng.list_collections()
    assert digest(path) == before


def test_newer_schema_is_refused_and_untouched(tmp_path):
    ws = tmp_path / "ws"
    Engine(ws).close()
    path = database_path(ws)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(WorkspaceError, match="newer Rekurator"):
        Engine(ws)
    assert digest(path) == before


def test_foreign_sqlite_database_is_refused(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    conn = sqlite3.connect(database_path(ws))
    conn.execute("CREATE TABLE mine (x)")
    conn.execute("PRAGMA application_id=12345")
    conn.commit()
    conn.close()
    before = digest(database_path(ws))
    with pytest.raises(WorkspaceError, match="another application"):
        Engine(ws)
    assert digest(database_path(ws)) == before


def test_workspace_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv(WORKSPACE_ENV, str(tmp_path / "from-env"))
    assert resolve_workspace() == tmp_path / "from-env"
    assert resolve_workspace(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv(WORKSPACE_ENV)
    default = resolve_workspace()
    assert str(default).startswith(str(tmp_path))  # tests point XDG_DATA_HOME into tmp


def test_write_failure_rolls_back_everything(tmp_path):
    store = Store(tmp_path / "ws")
    with pytest.raises(RuntimeError):
        with store.write() as conn:
            conn.execute("INSERT INTO collections(collection_id, face_model_version, created_at) VALUES ('x', 'm', 0)")
            raise RuntimeError("boom")
    assert store.connection().execute("SELECT COUNT(*) FROM collections").fetchone()[0] == 0
    store.close()


def test_connections_of_finished_threads_are_closed(tmp_path):
    import threading

    store = Store(tmp_path / "ws")
    store.connection()

    def use():
        store.connection().execute("SELECT 1")

    for _ in range(20):
        worker = threading.Thread(target=use)
        worker.start()
        worker.join()
    # one for this thread, one for the last worker (closed when the next thread connects)
    assert store.open_connections() <= 2
    store.close()
    assert store.open_connections() == 0


def test_a_new_workspace_waits_while_another_process_creates_it(tmp_path):
    # SQLite refuses a journal-mode change at once while another connection holds a write lock
    import threading

    workspace = tmp_path / "ws"
    workspace.mkdir()
    other = sqlite3.connect(workspace / "rekurator.sqlite3", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE scratch(a)")
    releaser = threading.Timer(0.4, lambda: other.execute("COMMIT"))
    releaser.start()
    store = Store(workspace)
    releaser.join()
    assert store.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    other.close()
