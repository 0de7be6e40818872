"""The reader of a datastore's SQLite database (read-only); the queries are ``sql_reader.py``'s.

The database is opened on first use; until it exists (a datastore with no run yet) every
answer is empty. A database of schema 2 (before attempts had heartbeats) is read too, with
attempt starts standing in for their heartbeats.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from ..exceptions import MetadataError
from .sql_reader import SQLReader
from .sqlite import connect_readonly

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


class SQLiteReader(SQLReader):
    """Reads the ``metadata.db`` of the datastore directory ``root``; never writes.

    >>> reader = SQLiteReader(".headwater")          # doctest: +SKIP
    >>> reader.runs("TrainFlow", "user:ana", limit=1)
    """

    TOKENS = {**SQLReader.TOKENS, "$GREATEST": "MAX",
              "$CHILD_OF": "EXISTS (SELECT 1 FROM json_each(t.parents) j WHERE j.value = ?)"}

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__()
        self.url = os.fspath(root)
        self.path = os.path.join(self.url, "metadata.db")
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteReader({self.url!r})"

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None:
            if not os.path.exists(self.path):
                return None  # a datastore with no run yet: nothing to show
            db = connect_readonly(self.path)
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.Error:
                db.close()
                raise
            if version == 0:  # a writer is creating the schema right now
                db.close()
                return None
            if version < 4:  # columns added by later schemas read as NULL
                self.TOKENS = {**self.TOKENS, "$ABEAT": "a.heartbeat_at" if version >= 3 else "NULL",
                               "$DSTORE": "NULL"}
                self._texts.clear()
            self._db = db
        return self._db

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:  # connected first: the schema version decides the tokens
            try:
                if self._connect() is None:
                    return []
                return super()._rows(sql, args)
            except sqlite3.Error as exc:
                raise MetadataError(f"cannot read the metadata database {self.path}: {exc}") from exc

    def _query(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        assert self._db is not None
        return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
