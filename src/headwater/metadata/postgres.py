"""Run records in PostgreSQL: the system of record behind the metadata service.

The tables are SQLite's (``sqlite.py``) with PostgreSQL types: times are ``DOUBLE PRECISION``,
sizes ``BIGINT``, and names compare byte-wise (``COLLATE "C"``) so listings sort as they do
locally. ``flows.last_run`` hands out run numbers: one ``INSERT ... ON CONFLICT DO UPDATE``
locks the flow's row, so two machines starting a run at the same moment get different
numbers. ``requests`` remembers the answer of every write request the service applied, so a
client that retries a request whose answer it never got changes nothing twice.

The schema is created and migrated by :func:`migrate`, under an advisory lock: versioned,
safe to run again, and safe with two service processes starting on one database. psycopg 3
and its pool come with ``pip install 'headwater[service]'``.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from ..exceptions import MetadataError
from .sql_reader import SQLReader
from .sql_writer import SQLWriter

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any

_LOCK_ID = 0x4865_6164  # the advisory lock migrations hold ("Head")
_TEXT = 'TEXT COLLATE "C"'

# Each entry moves the schema one version up; never edit an entry that has shipped.
MIGRATIONS: list[list[str]] = [
    [  # 1: the tables of SQLite schema 4, and the service's own
        f"""CREATE TABLE flows (
            flow {_TEXT} PRIMARY KEY,
            created_at DOUBLE PRECISION NOT NULL,
            last_run INTEGER NOT NULL DEFAULT 0)""",
        f"""CREATE TABLE runs (
            flow {_TEXT} NOT NULL,
            run_number INTEGER NOT NULL,
            "user" {_TEXT} NOT NULL,
            status TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            finished_at DOUBLE PRECISION,
            heartbeat_at DOUBLE PRECISION,
            origin_run_id TEXT,
            code_key TEXT,
            graph TEXT,
            host TEXT,
            pid INTEGER,
            datastore TEXT,
            PRIMARY KEY (flow, run_number))""",
        "CREATE INDEX runs_by_status ON runs (flow, status, run_number)",
        f"""CREATE TABLE tags (
            flow {_TEXT} NOT NULL,
            run_number INTEGER NOT NULL,
            tag {_TEXT} NOT NULL,
            system INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (flow, run_number, tag))""",
        "CREATE INDEX tags_by_tag ON tags (flow, tag)",
        f"""CREATE TABLE tasks (
            flow {_TEXT} NOT NULL,
            run_number INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            step {_TEXT} NOT NULL,
            status TEXT NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 0,
            created_at DOUBLE PRECISION NOT NULL,
            finished_at DOUBLE PRECISION,
            foreach_stack TEXT,
            parents TEXT,
            origin_run_id TEXT,
            origin_task_id INTEGER,
            transition TEXT,
            PRIMARY KEY (flow, run_number, task_id))""",
        "CREATE INDEX tasks_by_step ON tasks (flow, run_number, step)",
        f"""CREATE TABLE attempts (
            flow {_TEXT} NOT NULL,
            run_number INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            status TEXT NOT NULL,
            started_at DOUBLE PRECISION NOT NULL,
            finished_at DOUBLE PRECISION,
            exit_reason TEXT,
            exception TEXT,
            host TEXT,
            pid INTEGER,
            heartbeat_at DOUBLE PRECISION,
            PRIMARY KEY (flow, run_number, task_id, attempt))""",
        f"""CREATE TABLE artifacts (
            flow {_TEXT} NOT NULL,
            run_number INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            name {_TEXT} NOT NULL,
            key TEXT NOT NULL,
            type TEXT NOT NULL,
            size BIGINT NOT NULL,
            PRIMARY KEY (flow, run_number, task_id, attempt, name))""",
        f"""CREATE TABLE task_meta (
            flow {_TEXT} NOT NULL,
            run_number INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            field {_TEXT} NOT NULL,
            value TEXT,
            PRIMARY KEY (flow, run_number, task_id, field))""",
        """CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            answer TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL)""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)

_pg_texts: dict[str, str] = {}


def pg_sql(sql: str) -> str:
    """``sql`` with psycopg's ``%s`` placeholders for the ``?`` the shared statements use."""
    text = _pg_texts.get(sql)
    if text is None:
        text = _pg_texts[sql] = sql.replace("%", "%%").replace("?", "%s")
    return text


def _psycopg() -> Any:
    try:
        import psycopg
        import psycopg_pool
    except ImportError:
        raise MetadataError("the metadata service needs psycopg: pip install 'headwater[service]'") from None
    return psycopg, psycopg_pool


def safe_url(url: str) -> str:
    """``url`` without its password, to show in messages."""
    head, sep, tail = url.rpartition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, credentials = head.partition("://")
    return f"{scheme}://{credentials.split(':', 1)[0]}@{tail}"


class Database:
    """A pool of connections to one PostgreSQL database, shared by its writer and reader.

    >>> db = Database("postgresql://headwater@127.0.0.1:5432/headwater")   # doctest: +SKIP
    >>> db.migrate(); writer, reader = PostgresMetadata(db), PostgresReader(db)
    """

    def __init__(self, url: str, *, max_size: int = 8, timeout: float = 10.0) -> None:
        psycopg, psycopg_pool = _psycopg()
        self.url = url
        self.errors = psycopg.Error
        self.operational = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
        self.unique_violation = psycopg.errors.UniqueViolation
        self.pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=max_size, timeout=timeout, open=False,
            # A connection the server dropped (a PostgreSQL restart) is replaced, not handed out.
            check=psycopg_pool.ConnectionPool.check_connection, kwargs={"connect_timeout": 5})

    def open(self, wait: float = 10.0) -> None:
        """Connect, or fail in one line saying why (the server's own words)."""
        psycopg, _ = _psycopg()
        try:
            psycopg.connect(self.url, connect_timeout=max(1, int(wait))).close()
            self.pool.open(wait=True, timeout=wait)
        except Exception as exc:  # noqa: BLE001 - worded once for every cause
            self.pool.close()
            raise MetadataError(f"cannot connect to the database {safe_url(self.url)}: {_reason(exc)}. "
                                "Check that PostgreSQL is running and the URL, user and database "
                                "are right.") from None

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        with self.pool.connection() as conn:
            yield conn

    def migrate(self) -> int:
        """Bring the schema to :data:`SCHEMA_VERSION` (one lock holder at a time); the version
        the database was at."""
        with self.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            before = row[0] if row else 0
            if before > SCHEMA_VERSION:
                raise MetadataError(f"the database {safe_url(self.url)} has schema {before}, written by a "
                                    "newer Headwater; upgrade headwater.")
            for statements in MIGRATIONS[before:]:
                for statement in statements:
                    conn.execute(statement)
            if row is None:
                conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION,))
            else:
                conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION,))
        return before


def _reason(exc: BaseException) -> str:
    """The server's reason, without psycopg's wrapping ("connection to server at ... failed:")."""
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    line = text[0]
    if "FATAL:" in line:
        line = line.split("FATAL:", 1)[1].strip()
    return line


class PostgresMetadata(SQLWriter):
    """Writes run records to a :class:`Database`; safe to share between threads (each thread's
    transaction holds its own pooled connection)."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.url = db.url
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:  # nested: part of the enclosing transaction
            yield conn
            return
        try:
            with self.db.connection() as conn, conn.transaction():
                self._local.conn = conn
                try:
                    yield conn
                finally:
                    self._local.conn = None
        except self.db.errors as exc:
            raise _database_error(self.db, "writing to", exc) from exc

    def _exec(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        cur = self._local.conn.execute(pg_sql(sql), args)
        return cur.fetchall() if cur.description else []

    def _execmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._local.conn.cursor() as cur:
                cur.executemany(pg_sql(sql), rows)

    def _allocate_run(self, flow: str, now: float) -> int:
        (number,), = self._exec(
            "INSERT INTO flows (flow, created_at, last_run) VALUES (?, ?, 1) ON CONFLICT (flow)"
            " DO UPDATE SET last_run = flows.last_run + 1 RETURNING last_run", (flow, now))
        return number

    def close(self) -> None:
        pass  # the pool belongs to the Database


class PostgresReader(SQLReader):
    """Reads run records from a :class:`Database`; safe to share between threads."""

    TOKENS = {**SQLReader.TOKENS, "$GREATEST": "GREATEST",
              "$CHILD_OF": "EXISTS (SELECT 1 FROM jsonb_array_elements_text(t.parents::jsonb) j"
                           " WHERE j = (?)::text)"}

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.url = db.url

    def _query(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        try:
            with self.db.connection() as conn:
                return conn.execute(pg_sql(sql), args).fetchall()
        except self.db.errors as exc:
            raise _database_error(self.db, "reading", exc) from exc

    def close(self) -> None:
        pass


class DatabaseUnavailable(MetadataError):
    """The database cannot be reached now (restarting, or down): worth trying again."""


def _database_error(db: Database, doing: str, exc: BaseException) -> MetadataError:
    kind = DatabaseUnavailable if isinstance(exc, db.operational) else MetadataError
    return kind(f"{doing} the database {safe_url(db.url)} failed: {_reason(exc)}")
