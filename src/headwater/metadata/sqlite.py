"""Run records in an embedded SQLite database (WAL mode), one file per datastore.

Tables (the same in PostgreSQL, ``postgres.py``; the statements are ``sql_writer.py``'s):

    flows      one row per flow name
    runs       (flow, run_number) status, user, times, heartbeat, origin run, code package
    tags       (flow, run_number, tag) with a system flag
    tasks      (flow, run_number, task_id) step, status, latest attempt, foreach position, parents
    attempts   (flow, run_number, task_id, attempt) status, times, exit reason, exception, host, pid
    artifacts  (flow, run_number, task_id, attempt, name) blob key, type, size
    task_meta  (flow, run_number, task_id, field) free-form task metadata (origin, runtime, ...)

During a run the scheduler is the only writer; task processes and clients read. Run numbers
are allocated inside an IMMEDIATE transaction so two terminals starting the same flow at the
same moment get different numbers. Parameters are the artifacts of task 0 of step
``_parameters``, as in Metaflow.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Sequence

from ..exceptions import MetadataError
from .sql_writer import SQLWriter
from .vocabulary import PARAMS_STEP, PARAMS_TASK, Status  # noqa: F401 - re-exported

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = 4
# Changes to an existing database, by the version they lead to.
MIGRATIONS = {
    2: ["ALTER TABLE tasks ADD COLUMN transition TEXT"],
    3: ["ALTER TABLE attempts ADD COLUMN heartbeat_at REAL"],
    4: ["ALTER TABLE runs ADD COLUMN datastore TEXT"],
}
SCHEMA = """
CREATE TABLE flows (
    flow TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE runs (
    flow TEXT NOT NULL,
    run_number INTEGER NOT NULL,
    user TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    heartbeat_at REAL,
    origin_run_id TEXT,
    code_key TEXT,
    graph TEXT,
    host TEXT,
    pid INTEGER,
    datastore TEXT,
    PRIMARY KEY (flow, run_number)
);
CREATE INDEX runs_by_status ON runs (flow, status, run_number);
CREATE TABLE tags (
    flow TEXT NOT NULL,
    run_number INTEGER NOT NULL,
    tag TEXT NOT NULL,
    system INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (flow, run_number, tag)
);
CREATE INDEX tags_by_tag ON tags (flow, tag);
CREATE TABLE tasks (
    flow TEXT NOT NULL,
    run_number INTEGER NOT NULL,
    task_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    finished_at REAL,
    foreach_stack TEXT,
    parents TEXT,
    origin_run_id TEXT,
    origin_task_id INTEGER,
    transition TEXT,
    PRIMARY KEY (flow, run_number, task_id)
);
CREATE INDEX tasks_by_step ON tasks (flow, run_number, step);
CREATE TABLE attempts (
    flow TEXT NOT NULL,
    run_number INTEGER NOT NULL,
    task_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    exit_reason TEXT,
    exception TEXT,
    host TEXT,
    pid INTEGER,
    heartbeat_at REAL,
    PRIMARY KEY (flow, run_number, task_id, attempt)
);
CREATE TABLE artifacts (
    flow TEXT NOT NULL,
    run_number INTEGER NOT NULL,
    task_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (flow, run_number, task_id, attempt, name)
);
CREATE TABLE task_meta (
    flow TEXT NOT NULL,
    run_number INTEGER NOT NULL,
    task_id INTEGER NOT NULL,
    field TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY (flow, run_number, task_id, field)
);
"""


def _uri_path(path: str) -> str:
    """``path`` for a SQLite ``file:`` URI: SQLite decodes %HH, and ? or # would end the path."""
    return path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def connect_readonly(path: str) -> sqlite3.Connection:
    """A read-only connection to the existing database file ``path``, in autocommit mode.

    Usable from several threads if the caller serializes its use (``check_same_thread`` off).
    Raises ``sqlite3.Error``; the caller words the error.
    """
    db = sqlite3.connect(f"file:{_uri_path(path)}?mode=ro", uri=True, check_same_thread=False,
                         isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


class SQLiteMetadata(SQLWriter):
    """Read and write run records. One instance per process; not shared across fork.

    >>> md = SQLiteMetadata(".headwater")          # doctest: +SKIP
    >>> run_number = md.new_run("TrainFlow", user="ana", tags=["v1"], system_tags=[])
    """

    def __init__(self, root: str | os.PathLike[str], *, readonly: bool = False) -> None:
        super().__init__()
        self.url = os.fspath(root)
        self.path = os.path.join(root, "metadata.db")
        self._lock = threading.RLock()
        try:
            if readonly:
                if not os.path.exists(self.path):
                    raise MetadataError(f"no metadata database at {self.path}")
                uri = f"file:{_uri_path(self.path)}?mode=ro"
                self.db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            else:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA busy_timeout = 30000")
            self.db.execute("PRAGMA synchronous = NORMAL")
            if not readonly:
                self._ensure_schema()
        except sqlite3.Error as exc:
            raise MetadataError(f"cannot open the metadata database {self.path}: {exc}") from exc

    def _ensure_schema(self) -> None:
        if self.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        # Switching to WAL needs an exclusive lock and does not honour busy_timeout: another
        # process may be creating the same database right now, so wait for it ourselves.
        deadline = time.monotonic() + 30
        while True:
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
            elif version > SCHEMA_VERSION:
                raise MetadataError(
                    f"{self.path} was written by a newer Headwater (schema {version}); upgrade headwater."
                )
            else:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS.get(step, ()):
                        self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    # -- transactions ----------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self.db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise MetadataError(f"reading {self.path} failed: {exc}") from exc

    # -- what SQLWriter asks -----------------------------------------------------------------
    def _exec(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        return self.db.execute(sql, args).fetchall()

    def _execmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.db.executemany(sql, rows)

    def _allocate_run(self, flow: str, now: float) -> int:
        # Inside BEGIN IMMEDIATE: no other writer can allocate between the read and the insert.
        self.db.execute("INSERT OR IGNORE INTO flows VALUES (?, ?)", (flow, now))
        (number,) = self.db.execute(
            "SELECT COALESCE(MAX(run_number), 0) + 1 FROM runs WHERE flow = ?", (flow,)).fetchone()
        return number


class _Transaction:
    """``with md.transaction():`` BEGIN IMMEDIATE ... COMMIT, reentrant within a thread."""

    def __init__(self, md: SQLiteMetadata) -> None:
        self.md = md

    def __enter__(self) -> sqlite3.Connection:
        self.md._lock.acquire()
        self.outer = not self.md.db.in_transaction
        if self.outer:
            try:
                self.md.db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self.md._lock.release()
                raise MetadataError(f"cannot write to {self.md.path}: {exc}") from exc
        return self.md.db

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self.outer:
                self.md.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.md._lock.release()
        if isinstance(exc, sqlite3.Error):
            raise MetadataError(f"writing to {self.md.path} failed: {exc}") from exc
