"""Every write of the run records, as SQL that SQLite and PostgreSQL both run.

:class:`SQLWriter` holds the statements; a subclass gives the connection (``_exec``,
``_execmany``), the transaction and the allocation of run numbers, the one step each
database does its own way. Placeholders are ``?``; upserts use ``ON CONFLICT``, which both
databases read the same.

The time a record carries is ``self.now()``: this process's clock, or the time a client of the
metadata service sent with the call (``at``), so a record queued for a moment, or retried while
the service restarts, still says when it happened.
"""

from __future__ import annotations

import json
import os
import threading
import time

from ..user import hostname
from .provider import MetadataWriter
from .vocabulary import Status

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

_TASK_COLUMNS = ("flow, run_number, task_id, step, status, attempt, created_at, finished_at,"
                 " foreach_stack, parents, origin_run_id, origin_task_id, transition")
_ATTEMPT_COLUMNS = ("flow, run_number, task_id, attempt, status, started_at, finished_at,"
                    " exit_reason, exception, host, pid, heartbeat_at")
_UPSERT_ARTIFACT = ("INSERT INTO artifacts (flow, run_number, task_id, attempt, name, key, type, size)"
                    " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (flow, run_number, task_id, attempt, name)"
                    " DO UPDATE SET key = excluded.key, type = excluded.type, size = excluded.size")


class SQLWriter(MetadataWriter):
    """The statements of every :class:`MetadataWriter` method; subclasses run them."""

    def __init__(self) -> None:
        self._clock = threading.local()

    # -- what a subclass provides ---------------------------------------------------------
    def _exec(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        """Run one statement inside the current transaction; its rows (none for most)."""
        raise NotImplementedError

    def _execmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _allocate_run(self, flow: str, now: float) -> int:
        """Record ``flow`` if new and return its next run number (inside the transaction)."""
        raise NotImplementedError

    # -- the clock ---------------------------------------------------------------------------
    def now(self) -> float:
        at = getattr(self._clock, "at", None)
        return time.time() if at is None else at

    def at(self, when: float | None) -> Any:
        """``with writer.at(t):`` records made inside carry time ``t`` (this thread only)."""
        return _At(self._clock, when)

    # -- runs ------------------------------------------------------------------------------
    def new_run(self, flow: str, *, user: str, tags: Iterable[str], system_tags: Iterable[str],
                origin_run_id: str | None = None, graph: dict | None = None,
                datastore: str | None = None, host: str | None = None, pid: int | None = None) -> int:
        """Create a run and return its number (1, 2, 3, ... per flow); ``host`` and ``pid``
        (this process's by default) say where its scheduler runs."""
        now = self.now()
        with self.transaction():
            number = self._allocate_run(flow, now)
            self._exec(
                'INSERT INTO runs (flow, run_number, "user", status, created_at, heartbeat_at,'
                " origin_run_id, graph, host, pid, datastore) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (flow, number, user, Status.RUNNING.value, now, now, origin_run_id,
                 json.dumps(graph) if graph else None, host or hostname(),
                 os.getpid() if pid is None else pid, datastore))
            self._execmany("INSERT INTO tags (flow, run_number, tag, system) VALUES (?, ?, ?, ?)"
                           " ON CONFLICT DO NOTHING",
                           [(flow, number, t, 0) for t in tags] + [(flow, number, t, 1) for t in system_tags])
        return number

    def set_run_code(self, flow: str, run: int, code_key: str) -> None:
        with self.transaction():
            self._exec("UPDATE runs SET code_key = ? WHERE flow = ? AND run_number = ?", (code_key, flow, run))

    def heartbeat(self, flow: str, run: int, attempts: Sequence[tuple[int, int]] = ()) -> None:
        now = self.now()
        with self.transaction():
            self._exec("UPDATE runs SET heartbeat_at = ? WHERE flow = ? AND run_number = ?", (now, flow, run))
            if attempts:
                self._execmany(
                    "UPDATE attempts SET heartbeat_at = ? WHERE flow = ? AND run_number = ?"
                    " AND task_id = ? AND attempt = ?",
                    [(now, flow, run, task_id, attempt) for task_id, attempt in attempts])

    def finish_run(self, flow: str, run: int, status: Status) -> None:
        now = self.now()
        with self.transaction():
            self._exec("UPDATE runs SET status = ?, finished_at = ?, heartbeat_at = ?"
                       " WHERE flow = ? AND run_number = ?", (Status(status).value, now, now, flow, run))

    # -- tasks and attempts --------------------------------------------------------------
    def new_task(self, flow: str, run: int, task_id: int, step: str, *, foreach_stack: Any = None,
                 parents: Sequence[int] = (), origin: tuple[str, int] | None = None,
                 status: Status = Status.RUNNING, attempt: int = 0, finished: bool = False,
                 exist_ok: bool = False) -> None:
        now = self.now()
        with self.transaction():
            self._exec(
                f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,NULL)"
                + (" ON CONFLICT DO NOTHING" if exist_ok else ""),
                (flow, run, task_id, step, Status(status).value, attempt, now, now if finished else None,
                 json.dumps(foreach_stack) if foreach_stack else None, json.dumps(list(parents)),
                 origin[0] if origin else None, origin[1] if origin else None))

    def start_attempt(self, flow: str, run: int, task_id: int, attempt: int, *,
                      host: str | None = None, pid: int | None = None) -> None:
        now = self.now()
        with self.transaction():
            # A second start of the same attempt (a task recording itself after its scheduler
            # did) begins it afresh, as a replacement would.
            self._exec(
                f"INSERT INTO attempts ({_ATTEMPT_COLUMNS}) VALUES (?,?,?,?,?,?,NULL,NULL,NULL,?,?,?)"
                " ON CONFLICT (flow, run_number, task_id, attempt) DO UPDATE SET status = excluded.status,"
                " started_at = excluded.started_at, finished_at = NULL, exit_reason = NULL,"
                " exception = NULL, host = excluded.host, pid = excluded.pid,"
                " heartbeat_at = excluded.heartbeat_at",
                (flow, run, task_id, attempt, Status.RUNNING.value, now, host, pid, now))
            self._exec("UPDATE tasks SET attempt = ?, status = ? WHERE flow = ? AND run_number = ? AND task_id = ?",
                       (attempt, Status.RUNNING.value, flow, run, task_id))

    def finish_attempt(self, flow: str, run: int, task_id: int, attempt: int, *, status: Status,
                       exit_reason: str | None = None, exception: dict | None = None,
                       artifacts: Sequence[tuple[str, str, str, int]] = (),
                       task_final: bool = True,
                       host_pid: tuple[str | None, int | None] | None = None,
                       transition: dict | None = None) -> None:
        now = self.now()
        status = Status(status)
        with self.transaction():
            self._exec(
                "UPDATE attempts SET status = ?, finished_at = ?, exit_reason = ?, exception = ?"
                " WHERE flow = ? AND run_number = ? AND task_id = ? AND attempt = ?",
                (status.value, now, exit_reason, json.dumps(exception) if exception else None,
                 flow, run, task_id, attempt))
            if host_pid and host_pid[1]:
                self._exec("UPDATE attempts SET host = ?, pid = ? WHERE flow = ? AND run_number = ?"
                           " AND task_id = ? AND attempt = ?", (*host_pid, flow, run, task_id, attempt))
            if artifacts:
                self._execmany(_UPSERT_ARTIFACT, [(flow, run, task_id, attempt, *a) for a in artifacts])
            if task_final:
                self._exec(
                    "UPDATE tasks SET status = ?, finished_at = ?, transition = ?"
                    " WHERE flow = ? AND run_number = ? AND task_id = ?",
                    (status.value, now, json.dumps(transition) if transition else None, flow, run, task_id))

    def finish_task(self, flow: str, run: int, task_id: int, status: Status) -> None:
        with self.transaction():
            self._exec("UPDATE tasks SET status = ?, finished_at = ? WHERE flow = ? AND run_number = ?"
                       " AND task_id = ?", (Status(status).value, self.now(), flow, run, task_id))

    def clone_task(self, flow: str, run: int, task_id: int, *, origin_run: int, origin_task: int,
                   parents: Sequence[int], foreach_stack: Any = None) -> None:
        now = self.now()
        final = ("(SELECT attempt FROM tasks WHERE flow = ? AND run_number = ? AND task_id = ?)")
        with self.transaction():
            self._exec(
                f"INSERT INTO tasks ({_TASK_COLUMNS}) SELECT flow, ?, ?, step, status, attempt, ?, ?, ?, ?,"
                " ?, ?, transition FROM tasks WHERE flow = ? AND run_number = ? AND task_id = ?",
                (run, task_id, now, now, json.dumps(foreach_stack) if foreach_stack else None,
                 json.dumps(list(parents)), str(origin_run), origin_task, flow, origin_run, origin_task))
            self._exec(
                f"INSERT INTO attempts ({_ATTEMPT_COLUMNS}) SELECT flow, ?, ?, attempt, status, started_at,"
                " finished_at, exit_reason, exception, host, pid, heartbeat_at FROM attempts"
                f" WHERE flow = ? AND run_number = ? AND task_id = ? AND attempt = {final}",
                (run, task_id, flow, origin_run, origin_task, flow, origin_run, origin_task))
            self._exec(
                "INSERT INTO artifacts (flow, run_number, task_id, attempt, name, key, type, size)"
                " SELECT flow, ?, ?, attempt, name, key, type, size FROM artifacts"
                f" WHERE flow = ? AND run_number = ? AND task_id = ? AND attempt = {final}",
                (run, task_id, flow, origin_run, origin_task, flow, origin_run, origin_task))

    def add_artifacts(self, flow: str, run: int, task_id: int, attempt: int,
                      artifacts: Sequence[tuple[str, str, str, int]]) -> None:
        with self.transaction():
            self._execmany(_UPSERT_ARTIFACT, [(flow, run, task_id, attempt, *a) for a in artifacts])

    def set_task_meta(self, flow: str, run: int, task_id: int, fields: dict[str, Any]) -> None:
        with self.transaction():
            self._execmany(
                "INSERT INTO task_meta (flow, run_number, task_id, field, value) VALUES (?,?,?,?,?)"
                " ON CONFLICT (flow, run_number, task_id, field) DO UPDATE SET value = excluded.value",
                [(flow, run, task_id, k, json.dumps(v)) for k, v in fields.items()])

    # -- tags ------------------------------------------------------------------------------
    def change_tags(self, flow: str, run: int, *, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        with self.transaction():
            self._execmany("DELETE FROM tags WHERE flow = ? AND run_number = ? AND tag = ? AND system = 0",
                           [(flow, run, t) for t in remove])
            self._execmany("INSERT INTO tags (flow, run_number, tag, system) VALUES (?, ?, ?, 0)"
                           " ON CONFLICT DO NOTHING", [(flow, run, t) for t in add])


class _At:
    def __init__(self, clock: threading.local, when: float | None) -> None:
        self.clock, self.when = clock, when

    def __enter__(self) -> None:
        self.before = getattr(self.clock, "at", None)
        self.clock.at = self.when

    def __exit__(self, *exc: Any) -> None:
        self.clock.at = self.before
