"""The workspace's SQLite database: opening, checking, migrating, and transactions.

Every write is one `BEGIN IMMEDIATE` transaction, so a crash leaves the database as it was
before the call or as after it. WAL mode lets readers run while one process writes; the busy
timeout plus a bounded retry means a second process (CLI, GUI, server) waits its turn instead of
reporting "database is locked".
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import WorkspaceError
from .schema import APPLICATION_ID, PAGE_SIZE, SCHEMA_VERSION, run_migration, script_statements
from .workspace import create_private_file, database_path, describe_os_error, make_private_dirs

BUSY_TIMEOUT_MS = 30_000
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _statements(script: str) -> list[str]:
    """The SQL statements of a migration script (kept for callers of the old name)."""
    return script_statements(script)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _execute_when_free(conn: sqlite3.Connection, sql: str) -> None:
    """Run `sql`, retrying with backoff while another connection holds the lock it needs (up to
    the busy timeout)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


class Store:
    """One workspace database, shared by the threads of one process (a connection each)."""

    def __init__(self, workspace: str | os.PathLike):
        self.workspace = Path(workspace)
        self.path = database_path(self.workspace)
        self._local = threading.local()
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._lock = threading.Lock()
        # A workspace whose folder cannot be written (read-only media, another user's folder) is
        # opened read-only: listing and reports work, every write raises WorkspaceError.
        self.read_only = False
        self._prepare_folder()
        self._check_existing_file()
        self._migrate()

    def _prepare_folder(self) -> None:
        """Create the folder and an empty database file owner-only; say in plain words what is wrong."""
        if self.workspace.exists() and not self.workspace.is_dir():
            raise WorkspaceError(
                f"{self.workspace} is a file, not a folder; a workspace is a folder "
                f"(it holds {self.path.name})"
            )
        try:
            make_private_dirs(self.workspace)
        except OSError as exc:
            raise WorkspaceError(f"cannot create the workspace folder {describe_os_error(exc)}") from None
        try:
            create_private_file(self.path)
        except OSError as exc:
            if not self.path.is_file():
                raise WorkspaceError(
                    f"cannot create a workspace in {self.workspace}: {describe_os_error(exc)}. "
                    f"Choose a folder you can write to (--workspace DIR or $REKURATOR_WORKSPACE)"
                ) from None
            self.read_only = True  # an existing database in a folder we cannot write to

    # -- opening ---------------------------------------------------------------------------
    def _check_existing_file(self) -> None:
        """Refuse, without writing a byte, a file that is not a Rekurator database we can read."""
        if not self.path.exists():
            return
        if self.path.is_dir():
            raise WorkspaceError(f"{self.path} is a directory, not a workspace database")
        with open(self.path, "rb") as fh:
            header = fh.read(100)
        if len(header) == 0:
            return  # an empty file is what a crash during the very first open leaves
        if not header.startswith(_SQLITE_MAGIC) or len(header) < 100:
            raise WorkspaceError(f"{self.path} is not a SQLite database (damaged or foreign file); it was left untouched")
        app_id = int.from_bytes(header[68:72], "big")
        user_version = int.from_bytes(header[60:64], "big")
        if app_id not in (0, APPLICATION_ID):
            raise WorkspaceError(f"{self.path} is a SQLite database of another application; it was left untouched")
        if user_version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"{self.path} was written by a newer Rekurator (schema {user_version}, this one reads up to "
                f"{SCHEMA_VERSION}); upgrade Rekurator to open it. The file was left untouched"
            )

    def _connect(self) -> sqlite3.Connection:
        def connect(database: str | Path, uri: bool = False) -> sqlite3.Connection:
            return sqlite3.connect(database, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False, uri=uri)

        if not self.read_only:
            return connect(self.path)
        # SQLite reads a WAL database only where it can create the -shm file; in a folder it cannot
        # write to, and with no -wal file left (nothing uncommitted), the file is opened as immutable.
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            conn = connect(uri, uri=True)
            conn.execute("PRAGMA schema_version").fetchone()
            return conn
        except sqlite3.OperationalError:
            if Path(f"{self.path}-wal").exists():
                raise WorkspaceError(
                    f"{self.workspace} is read-only and its database has changes that were never "
                    f"checkpointed ({self.path.name}-wal); open it once where it can be written"
                ) from None
        return connect(uri + "&immutable=1", uri=True)

    def _open_connection(self) -> sqlite3.Connection:
        try:
            conn = self._connect()
        except sqlite3.OperationalError as exc:
            raise WorkspaceError(f"{self.path} cannot be opened: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            # bulk indexing touches index pages all over a large database: a bigger page cache and
            # fewer WAL checkpoints (each one an fsync) keep it from slowing down as it grows
            conn.execute("PRAGMA cache_size=-32768")
            conn.execute("PRAGMA wal_autocheckpoint=8192")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise WorkspaceError(f"{self.path} cannot be read as a database: {exc}") from exc
        return conn

    def _migrate(self) -> None:
        try:
            conn = self.connection()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except (WorkspaceError, sqlite3.OperationalError) as exc:
            if self.read_only or not self._folder_is_read_only():
                raise WorkspaceError(f"{self.path} cannot be opened: {exc}") from None
            self.close()  # the folder turned out to be read-only: read the database without writing
            self.read_only = True
            conn = self.connection()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        try:
            if version == SCHEMA_VERSION:
                self._check_application_id(conn)
                return
            if self.read_only:
                raise WorkspaceError(
                    f"{self.workspace} is read-only, and its database (schema {version}) needs an upgrade to "
                    f"schema {SCHEMA_VERSION}, which writes to it; open it once where it can be written"
                )
            if version == 0:
                # page_size only takes effect before the first table is created
                conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            # SQLite answers "database is locked" to a journal-mode change at once, without its busy
            # handler, while another connection holds a write lock (a second process creating the
            # same new workspace): wait for it like for a write transaction
            _execute_when_free(conn, "PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"{self.path} cannot be read as a database: {exc}") from exc
        with self.write() as tx:
            version = tx.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            if version > SCHEMA_VERSION:
                raise WorkspaceError(f"{self.path} was written by a newer Rekurator (schema {version})")
            if version > 0:
                self._check_application_id(tx)
            for step in range(version, SCHEMA_VERSION):
                run_migration(tx, step)
            if version == 0:
                tx.execute(f"PRAGMA application_id={APPLICATION_ID}")
                tx.execute("INSERT INTO meta(key, value) VALUES ('pagination_secret', ?)", (secrets.token_hex(32),))
                tx.execute("INSERT INTO meta(key, value) VALUES ('created_at', ?)", (repr(time.time()),))
            tx.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _check_application_id(self, conn: sqlite3.Connection) -> None:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise WorkspaceError(f"{self.path} is not a Rekurator workspace database; it was left untouched")

    # -- connections and transactions ------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections are not shared between threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open_connection()
            self._local.conn = conn
            with self._lock:
                # threads come and go (workers, request handlers): close what ended threads left
                for thread in [t for t in self._connections if not t.is_alive()]:
                    self._connections.pop(thread).close()
                self._connections[threading.current_thread()] = conn
        return conn

    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def _folder_is_read_only(self) -> bool:
        """Whether a file can be created in the workspace folder (tried, not guessed from modes)."""
        probe = self.workspace / f".rekurator-write-test-{os.getpid()}-{threading.get_ident()}"
        try:
            create_private_file(probe)
        except OSError:
            return True
        probe.unlink(missing_ok=True)
        return False

    @contextmanager
    def write(self):
        """One write transaction; commits on success, rolls back on any exception."""
        if self.read_only:
            raise WorkspaceError(
                f"the workspace {self.workspace} is read-only (its folder cannot be written), so it "
                f"cannot be changed; listing, searching and reports still work"
            )
        conn = self.connection()
        _execute_when_free(conn, "BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException as exc:
            conn.rollback()
            if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
                # the database file itself is read-only (the folder is not)
                raise WorkspaceError(
                    f"the workspace database {self.path} is read-only, so the workspace cannot be changed; "
                    f"listing, searching and reports still work"
                ) from exc
            raise
        else:
            conn.commit()

    @contextmanager
    def read(self):
        """A read transaction: every query inside sees one consistent snapshot."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()

    def meta(self, key: str) -> str | None:
        row = self.connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            for conn in self._connections.values():
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()
        self._local = threading.local()
