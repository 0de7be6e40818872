"""Every read of the run records, as SQL that SQLite and PostgreSQL both run.

Each answer is a bounded number of indexed queries: runs by ``(flow, run_number)``, namespace
and tag filters as an ``EXISTS`` on the tags' key, tasks by ``tasks_by_step``, attempts and
artifacts by their primary keys. Listing a thousand runs is one query, a page of 50 runs with
its total and tags three, a step of 2,000 tasks one ``GROUP BY`` for its counts. Columns are
named explicitly, so columns added to the schema later shift nothing here.

A run's ``heartbeat_at`` is computed here: for a running run, the newest of its own heartbeat
and its attempts' heartbeats, starts and ends (one range scan of the attempts' key), so a run
whose only signs of life are its tasks' is not taken for abandoned.

:class:`SQLReader` holds the queries; a subclass gives the connection (``_query``) and the
few words the two dialects spell differently (``$``-tokens below). Placeholders are ``?``.
"""

from __future__ import annotations

import json
import time

from . import vocabulary
from .provider import MetadataReader
from .records import ArtifactRow, AttemptRow, RunRow, TaskRow
from .vocabulary import PARAMS_STEP

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from .summaries import (
        Durations,
        Failure,
        FlowSummary,
        OriginTask,
        RunFilter,
        StepStats,
        TimelineTask,
    )

# ``$ABEAT`` is the attempts' heartbeat column (NULL in a SQLite database of schema 2),
# ``$DSTORE`` the runs' datastore column (NULL before SQLite schema 4).
_LIVE_BEAT = ("$GREATEST(COALESCE(r.heartbeat_at, r.created_at), COALESCE((SELECT MAX($GREATEST(COALESCE($ABEAT,"
              " a.started_at), COALESCE(a.finished_at, 0))) FROM attempts a WHERE a.flow = r.flow"
              " AND a.run_number = r.run_number), 0))")
_RUN_COLUMNS = ('r.flow, r.run_number, r."user", r.status, r.created_at, r.finished_at,'
                f" CASE WHEN r.status = 'running' THEN {_LIVE_BEAT} ELSE r.heartbeat_at END,"
                " r.origin_run_id, r.code_key, r.graph, $DSTORE")
_STALE = f"r.status = 'running' AND {_LIVE_BEAT} < ?"
_IN_TAG = ("EXISTS (SELECT 1 FROM tags g WHERE g.flow = r.flow AND g.run_number = r.run_number"
           " AND g.tag = ?)")
_TASK_COLUMNS = ("t.flow, t.run_number, t.task_id, t.step, t.status, t.attempt, t.created_at,"
                 " t.finished_at, t.foreach_stack, t.parents, t.origin_run_id, t.origin_task_id")
_ATTEMPT_COLUMNS = ("a.attempt, a.status, a.started_at, a.finished_at, a.exit_reason, a.exception,"
                    " a.host, a.pid, $ABEAT")
_CHILD_OF = "$CHILD_OF"
_CHUNK = 500  # ids per ``IN (...)``: old SQLite builds allow 999 variables


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted({int(i) for i in ids})
    return [unique[i:i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


def _offset(page: int, per_page: int) -> int:
    return (max(1, int(page)) - 1) * int(per_page)


class SQLReader(MetadataReader):
    """The queries of every :class:`MetadataReader` method; subclasses run them.

    ``_query(sql, args)`` returns the rows of one statement (``?`` placeholders, ``$`` tokens
    already replaced); :attr:`TOKENS` replaces the tokens once per statement text.
    """

    #: ``$GREATEST``: the larger of two values (SQLite's two-argument ``MAX``); ``$CHILD_OF``:
    #: a task row ``t`` lists the ``?`` task among its parents (JSON text); ``$ABEAT`` and
    #: ``$DSTORE``: columns an old SQLite schema lacks.
    TOKENS: dict[str, str] = {"$ABEAT": "a.heartbeat_at", "$DSTORE": "r.datastore"}

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def _query(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        raise NotImplementedError

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        text = self._texts.get(sql)
        if text is None:
            text = sql
            for token, value in self.TOKENS.items():
                text = text.replace(token, value)
            self._texts[sql] = text
        return self._query(text, args)

    def _one(self, sql: str, args: Sequence[Any] = (), default: Any = None) -> Any:
        """The first column of the first row, or ``default``."""
        rows = self._rows(sql, args)
        return rows[0][0] if rows and rows[0][0] is not None else default

    @staticmethod
    def _stale_before() -> float:
        return time.time() - vocabulary.ABANDONED_AFTER

    # -- flows -----------------------------------------------------------------------------
    def flow_names(self, namespace: str | None = None) -> list[str]:
        if namespace is None:
            return [f for (f,) in self._rows(
                "SELECT f.flow FROM flows f WHERE EXISTS (SELECT 1 FROM runs r WHERE r.flow = f.flow)"
                " ORDER BY f.flow")]
        return [f for (f,) in self._rows(
            "SELECT f.flow FROM flows f WHERE EXISTS (SELECT 1 FROM tags g WHERE g.flow = f.flow"
            " AND g.tag = ?) ORDER BY f.flow", (namespace,))]

    def flow_created_at(self, flow: str) -> float | None:
        return self._one("SELECT created_at FROM flows WHERE flow = ?", (flow,))

    def flow_summaries(self, recent: int = 20) -> list[FlowSummary]:
        from .summaries import FlowSummary

        out = []
        for flow, n in self._rows("SELECT flow, COUNT(*) FROM runs GROUP BY flow"):
            rows = self._rows(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = ?"
                              " ORDER BY r.run_number DESC LIMIT ?", (flow, int(recent)))
            out.append(FlowSummary(flow, n, [RunRow(*row) for row in rows]))
        out.sort(key=lambda f: -(f.latest.created_at if f.latest else 0.0))
        return out

    # -- runs ------------------------------------------------------------------------------
    def run(self, flow: str, number: int) -> RunRow | None:
        rows = self._rows(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = ? AND r.run_number = ?",
                          (flow, int(number)))
        return RunRow(*rows[0]) if rows else None

    def runs(self, flow: str, namespace: str | None, tags: Sequence[str] = (), *,
             status: str | None = None, limit: int | None = None) -> list[RunRow]:
        wanted = ([namespace] if namespace is not None else []) + [t for t in tags if t != namespace]
        where = "".join(f" AND {_IN_TAG}" for _ in wanted)
        args: list[Any] = [flow, *wanted]
        if status is not None:
            where += " AND r.status = ?"
            args.append(status)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = ?{where} ORDER BY r.run_number DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [RunRow(*row) for row in self._rows(sql, args)]

    def _filter(self, filt: RunFilter) -> tuple[str, list[Any]]:
        sql, args = "", []
        if filt.user:
            sql += ' AND r."user" = ?'
            args.append(filt.user)
        if filt.tag:
            sql += f" AND {_IN_TAG}"
            args.append(filt.tag)
        if filt.status == "abandoned":
            sql += f" AND {_STALE}"
            args.append(self._stale_before())
        elif filt.status == "running":
            sql += f" AND r.status = 'running' AND NOT ({_STALE})"
            args.append(self._stale_before())
        elif filt.status:
            sql += " AND r.status = ?"
            args.append(filt.status)
        return sql, args

    def run_page(self, flow: str, filter: RunFilter, page: int, per_page: int) -> tuple[list[RunRow], int]:
        where, args = self._filter(filter)
        total = self._one(f"SELECT COUNT(*) FROM runs r WHERE r.flow = ?{where}", (flow, *args), 0)
        rows = self._rows(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = ?{where}"
                          " ORDER BY r.run_number DESC LIMIT ? OFFSET ?",
                          (flow, *args, int(per_page), _offset(page, per_page)))
        return [RunRow(*row) for row in rows], total

    def run_counts(self, flow: str) -> dict[str, int]:
        counts = dict(self._rows("SELECT status, COUNT(*) FROM runs WHERE flow = ? GROUP BY status", (flow,)))
        if counts.get("running"):
            stale = self._one(f"SELECT COUNT(*) FROM runs r WHERE r.flow = ? AND {_STALE}",
                              (flow, self._stale_before()), 0)
            if stale:
                counts["running"] -= stale
                counts["abandoned"] = stale
        return {k: v for k, v in counts.items() if v}

    def tags(self, flow: str, run: int) -> list[tuple[str, bool]]:
        return [(t, bool(s)) for t, s in self._rows(
            "SELECT tag, system FROM tags WHERE flow = ? AND run_number = ? ORDER BY tag", (flow, int(run)))]

    def tags_of_runs(self, flow: str, runs: Sequence[int]) -> dict[int, list[tuple[str, bool]]]:
        out: dict[int, list[tuple[str, bool]]] = {int(n): [] for n in runs}
        for chunk in _chunks(runs):
            marks = ",".join("?" * len(chunk))
            for run, tag, system in self._rows(
                    f"SELECT run_number, tag, system FROM tags WHERE flow = ? AND run_number IN ({marks})"
                    " ORDER BY run_number, tag", (flow, *chunk)):
                out[run].append((tag, bool(system)))
        return out

    def users(self, flow: str) -> list[str]:
        return [u for (u,) in self._rows('SELECT DISTINCT "user" FROM runs WHERE flow = ? ORDER BY "user"', (flow,))]

    def user_tags(self, flow: str, limit: int = 200) -> list[str]:
        return [t for (t,) in self._rows(
            "SELECT DISTINCT tag FROM tags WHERE flow = ? AND system = 0 ORDER BY tag LIMIT ?",
            (flow, int(limit)))]

    # -- steps -----------------------------------------------------------------------------
    def step_names(self, flow: str, run: int) -> list[str]:
        return [s for (s,) in self._rows(
            "SELECT step FROM tasks WHERE flow = ? AND run_number = ? GROUP BY step"
            " ORDER BY MIN(task_id) DESC", (flow, int(run)))]

    def has_step(self, flow: str, run: int, step: str) -> bool:
        return bool(self._rows("SELECT 1 FROM tasks WHERE flow = ? AND run_number = ? AND step = ? LIMIT 1",
                               (flow, int(run), step)))

    def step_stats(self, flow: str, run: int) -> dict[str, StepStats]:
        from .summaries import StepStats

        acc: dict[str, list[Any]] = {}  # step -> [counts, first created, last finished, retried]
        for step, status, n, first, last, retried in self._rows(
                "SELECT step, status, COUNT(*), MIN(created_at), MAX(finished_at), SUM(CASE WHEN attempt > 0 THEN 1 ELSE 0 END)"
                " FROM tasks WHERE flow = ? AND run_number = ? AND step != ? GROUP BY step, status",
                (flow, int(run), PARAMS_STEP)):
            s = acc.setdefault(step, [{}, None, None, 0])
            s[0][status] = n
            s[3] += retried or 0
            if first is not None and (s[1] is None or first < s[1]):
                s[1] = first
            if last is not None and (s[2] is None or last > s[2]):
                s[2] = last
        return {step: StepStats(step, *values) for step, values in acc.items()}

    def step_durations(self, flow: str, run: int, step: str) -> Durations | None:
        from .summaries import Durations

        rows = self._rows(
            "SELECT a.task_id, a.finished_at - a.started_at FROM tasks t JOIN attempts a"
            " ON a.flow = t.flow AND a.run_number = t.run_number AND a.task_id = t.task_id"
            " AND a.attempt = t.attempt WHERE t.flow = ? AND t.run_number = ? AND t.step = ?"
            " AND a.finished_at IS NOT NULL AND t.origin_run_id IS NULL", (flow, int(run), step))
        if not rows:
            return None
        times = sorted(t for _, t in rows)
        slow_id, slow = max(rows, key=lambda r: r[1])
        return Durations(len(times), times[len(times) // 2],
                         times[min(len(times) - 1, int(len(times) * 0.9))], slow, slow_id)

    def timeline(self, flow: str, run: int, limit: int) -> list[TimelineTask] | None:
        from .summaries import TimelineTask

        rows = self._rows(
            "SELECT t.task_id, t.step, t.status, t.attempt, t.created_at, t.finished_at, t.origin_run_id,"
            " (SELECT MIN(a.started_at) FROM attempts a WHERE a.flow = t.flow"
            "  AND a.run_number = t.run_number AND a.task_id = t.task_id)"
            " FROM tasks t WHERE t.flow = ? AND t.run_number = ? AND t.step != ? ORDER BY t.task_id LIMIT ?",
            (flow, int(run), PARAMS_STEP, int(limit) + 1))
        if len(rows) > limit:
            return None
        return [TimelineTask(tid, step, status, attempt,
                             started if started is not None and origin is None else created,
                             finished, origin is not None)
                for tid, step, status, attempt, created, finished, origin, started in rows]

    def failures(self, flow: str, run: int, limit: int) -> list[Failure]:
        from .summaries import Failure

        return [Failure(*row) for row in self._rows(
            "SELECT t.step, t.task_id, a.exception, a.exit_reason FROM tasks t LEFT JOIN attempts a"
            " ON a.flow = t.flow AND a.run_number = t.run_number AND a.task_id = t.task_id"
            " AND a.attempt = t.attempt WHERE t.flow = ? AND t.run_number = ? AND t.status = 'failed'"
            " ORDER BY t.task_id LIMIT ?", (flow, int(run), int(limit)))]

    # -- tasks -----------------------------------------------------------------------------
    def task(self, flow: str, run: int, task_id: int) -> TaskRow | None:
        rows = self._rows(f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                          " AND t.task_id = ?", (flow, int(run), int(task_id)))
        return TaskRow(*rows[0]) if rows else None

    def tasks(self, flow: str, run: int, task_ids: Sequence[int]) -> list[TaskRow]:
        out = []
        for chunk in _chunks(task_ids):
            marks = ",".join("?" * len(chunk))
            out += [TaskRow(*row) for row in self._rows(
                f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                f" AND t.task_id IN ({marks}) ORDER BY t.task_id", (flow, int(run), *chunk))]
        return out

    def tasks_of_step(self, flow: str, run: int, step: str, *, limit: int | None = None) -> list[TaskRow]:
        sql = (f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ? AND t.step = ?"
               " ORDER BY t.task_id")
        args: list[Any] = [flow, int(run), step]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [TaskRow(*row) for row in self._rows(sql, args)]

    def task_page(self, flow: str, run: int, step: str, status: str | None, page: int,
                  per_page: int) -> tuple[list[TaskRow], int]:
        where, args = ("", []) if not status else (" AND t.status = ?", [status])
        total = self._one(f"SELECT COUNT(*) FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                          f" AND t.step = ?{where}", (flow, int(run), step, *args), 0)
        rows = self._rows(f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                          f" AND t.step = ?{where} ORDER BY t.task_id LIMIT ? OFFSET ?",
                          (flow, int(run), step, *args, int(per_page), _offset(page, per_page)))
        return [TaskRow(*row) for row in rows], total

    def child_tasks(self, flow: str, run: int, task_id: int,
                    limit: int | None = None) -> tuple[list[TaskRow], int]:
        sql = (f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ? AND {_CHILD_OF}"
               " ORDER BY t.task_id")
        args: list[Any] = [flow, int(run), int(task_id)]
        if limit is None:
            rows = [TaskRow(*row) for row in self._rows(sql, args)]
            return rows, len(rows)
        total = self._one(f"SELECT COUNT(*) FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                          f" AND {_CHILD_OF}", args, 0)
        rows = [TaskRow(*row) for row in self._rows(sql + " LIMIT ?", (*args, int(limit)))]
        return rows, total

    def task_meta(self, flow: str, run: int, task_id: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, value in self._rows(
                "SELECT field, value FROM task_meta WHERE flow = ? AND run_number = ? AND task_id = ?",
                (flow, int(run), int(task_id))):
            try:
                out[field] = json.loads(value) if value is not None else None
            except ValueError:
                out[field] = value
        return out

    def first_starts(self, flow: str, run: int, task_ids: Sequence[int]) -> dict[int, float]:
        out: dict[int, float] = {}
        for chunk in _chunks(task_ids):
            marks = ",".join("?" * len(chunk))
            out.update(self._rows(
                f"SELECT task_id, MIN(started_at) FROM attempts WHERE flow = ? AND run_number = ?"
                f" AND task_id IN ({marks}) GROUP BY task_id", (flow, int(run), *chunk)))
        return out

    def origin_tasks(self, flow: str, run: int) -> list[OriginTask]:
        from .summaries import OriginTask

        return [OriginTask(*row) for row in self._rows(
            "SELECT task_id, step, status, attempt, parents, foreach_stack, transition FROM tasks"
            " WHERE flow = ? AND run_number = ? ORDER BY task_id", (flow, int(run)))]

    # -- attempts and artifacts ------------------------------------------------------------
    def attempt(self, flow: str, run: int, task_id: int, attempt: int) -> AttemptRow | None:
        rows = self._rows(f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a WHERE a.flow = ? AND a.run_number = ?"
                          " AND a.task_id = ? AND a.attempt = ?", (flow, int(run), int(task_id), int(attempt)))
        return AttemptRow(*rows[0]) if rows else None

    def attempts(self, flow: str, run: int, task_id: int) -> list[AttemptRow]:
        return [AttemptRow(*row) for row in self._rows(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a WHERE a.flow = ? AND a.run_number = ?"
            " AND a.task_id = ? ORDER BY a.attempt", (flow, int(run), int(task_id)))]

    def artifacts(self, flow: str, run: int, task_id: int, attempt: int) -> list[ArtifactRow]:
        return [ArtifactRow(*row) for row in self._rows(
            "SELECT name, key, type, size FROM artifacts WHERE flow = ? AND run_number = ?"
            " AND task_id = ? AND attempt = ? ORDER BY name", (flow, int(run), int(task_id), int(attempt)))]
