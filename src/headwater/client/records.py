"""Every query the client makes, as small functions returning plain rows.

Each lookup is one indexed query: runs by ``(flow, run_number)``, namespace filters as an
``EXISTS`` on the tags primary key, tasks by ``tasks_by_step``, artifacts by their primary key.
Listing a thousand runs is one query, never one per run. Columns are named explicitly, so
columns added to the schema later do not shift anything here.
"""

from __future__ import annotations

import json
import time
from collections import namedtuple
from datetime import datetime

from ..metadata.sqlite import PARAMS_TASK
from .stores import Stores

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

ABANDONED_AFTER = 60.0  # seconds without a heartbeat before a running run counts as abandoned


def to_datetime(ts: float | None) -> datetime | None:
    """Local naive datetime of a Unix time, as Metaflow's client returns them."""
    return None if ts is None else datetime.fromtimestamp(ts)


# -- runs ------------------------------------------------------------------------------------

class RunRow(namedtuple("RunRow", "flow number user status created_at finished_at heartbeat_at"
                                  " origin_run_id code_key graph")):
    """One run; times are Unix seconds, ``graph`` the JSON the runtime recorded."""

    __slots__ = ()

    def effective_status(self, now: float | None = None) -> str:
        """``running``, ``succeeded``, ``failed``, or ``abandoned`` for a silent running run."""
        if self.status == "running":
            beat = self.heartbeat_at or self.created_at
            if (now or time.time()) - beat > ABANDONED_AFTER:
                return "abandoned"
        return self.status


_RUN_COLUMNS = ("r.flow, r.run_number, r.user, r.status, r.created_at, r.finished_at,"
                " r.heartbeat_at, r.origin_run_id, r.code_key, r.graph")
_IN_TAG = ("EXISTS (SELECT 1 FROM tags g WHERE g.flow = r.flow AND g.run_number = r.run_number"
           " AND g.tag = ?)")


def _run_filters(ns: str | None, tags: tuple[str, ...]) -> tuple[str, list[Any]]:
    wanted = ([ns] if ns is not None else []) + [t for t in tags if t != ns]
    return "".join(f" AND {_IN_TAG}" for _ in wanted), wanted


def run_row(stores: Stores, flow: str, number: int) -> RunRow | None:
    rows = stores.query(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = ? AND r.run_number = ?",
                        (flow, number))
    return RunRow(*rows[0]) if rows else None


def run_rows(stores: Stores, flow: str, ns: str | None, tags: tuple[str, ...] = (), *,
             status: str | None = None, limit: int | None = None) -> list[RunRow]:
    """Runs of ``flow`` in namespace ``ns`` carrying every tag in ``tags``, newest first."""
    where, args = _run_filters(ns, tags)
    if status is not None:
        where += " AND r.status = ?"
        args.append(status)
    sql = (f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = ?{where}"
           " ORDER BY r.run_number DESC")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [RunRow(*row) for row in stores.query(sql, (flow, *args))]


def run_numbers(stores: Stores, flow: str, limit: int = 1000) -> list[int]:
    """Newest run numbers of a flow in any namespace (for suggestions in error messages)."""
    return [n for (n,) in stores.query(
        "SELECT run_number FROM runs WHERE flow = ? ORDER BY run_number DESC LIMIT ?", (flow, limit))]


def run_has_tag(stores: Stores, flow: str, number: int, tag: str) -> bool:
    return bool(stores.query("SELECT 1 FROM tags WHERE flow = ? AND run_number = ? AND tag = ?",
                             (flow, number, tag)))


def run_tags(stores: Stores, flow: str, number: int) -> list[tuple[str, bool]]:
    """``(tag, is_system)`` pairs of a run."""
    return [(t, bool(s)) for t, s in stores.query(
        "SELECT tag, system FROM tags WHERE flow = ? AND run_number = ? ORDER BY tag", (flow, number))]


# -- flows -----------------------------------------------------------------------------------

def flow_created_at(stores: Stores, flow: str) -> float | None:
    rows = stores.query("SELECT created_at FROM flows WHERE flow = ?", (flow,))
    return rows[0][0] if rows else None


def flow_names(stores: Stores, ns: str | None = None) -> list[str]:
    """Flows with at least one run in namespace ``ns`` (every flow with a run for None)."""
    if ns is None:
        sql = ("SELECT f.flow FROM flows f WHERE EXISTS (SELECT 1 FROM runs r WHERE r.flow = f.flow)"
               " ORDER BY f.flow")
        return [f for (f,) in stores.query(sql)]
    sql = ("SELECT f.flow FROM flows f WHERE EXISTS (SELECT 1 FROM tags g WHERE g.flow = f.flow"
           " AND g.tag = ?) ORDER BY f.flow")
    return [f for (f,) in stores.query(sql, (ns,))]


# -- steps and tasks -------------------------------------------------------------------------

class TaskRow(namedtuple("TaskRow", "flow run task_id step status attempt created_at finished_at"
                                    " foreach_stack parents origin_run_id origin_task_id")):
    """One task; ``foreach_stack`` and ``parents`` are JSON, ``origin_*`` set for clones."""

    __slots__ = ()

    @property
    def parent_ids(self) -> list[int]:
        """Parent task ids, without the run's ``_parameters`` task (not a step of the flow)."""
        return [p for p in json.loads(self.parents or "[]") if p != PARAMS_TASK]

    @property
    def frames(self) -> list[dict[str, Any]]:
        return json.loads(self.foreach_stack) if self.foreach_stack else []


_TASK_COLUMNS = ("t.flow, t.run_number, t.task_id, t.step, t.status, t.attempt, t.created_at,"
                 " t.finished_at, t.foreach_stack, t.parents, t.origin_run_id, t.origin_task_id")


def step_names(stores: Stores, flow: str, run: int) -> list[str]:
    """Steps of a run that have tasks, most recently started first."""
    return [s for (s,) in stores.query(
        "SELECT step FROM tasks WHERE flow = ? AND run_number = ? GROUP BY step"
        " ORDER BY MIN(task_id) DESC", (flow, run))]


def step_exists(stores: Stores, flow: str, run: int, step: str) -> bool:
    return bool(stores.query("SELECT 1 FROM tasks WHERE flow = ? AND run_number = ? AND step = ? LIMIT 1",
                             (flow, run, step)))


def task_row(stores: Stores, flow: str, run: int, task_id: int) -> TaskRow | None:
    rows = stores.query(f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                        " AND t.task_id = ?", (flow, run, task_id))
    return TaskRow(*rows[0]) if rows else None


def task_rows(stores: Stores, flow: str, run: int, step: str, *, limit: int | None = None) -> list[TaskRow]:
    """Tasks of a step in creation order (foreach tasks in index order)."""
    sql = (f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ? AND t.step = ?"
           " ORDER BY t.task_id")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [TaskRow(*row) for row in stores.query(sql, (flow, run, step))]


def task_rows_by_id(stores: Stores, flow: str, run: int, ids: list[int]) -> list[TaskRow]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = stores.query(f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                        f" AND t.task_id IN ({marks}) ORDER BY t.task_id", (flow, run, *ids))
    return [TaskRow(*row) for row in rows]


def child_task_rows(stores: Stores, flow: str, run: int, task_id: int) -> list[TaskRow]:
    """Tasks of the run that list ``task_id`` among their parents."""
    rows = stores.query(
        f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
        " AND EXISTS (SELECT 1 FROM json_each(t.parents) j WHERE j.value = ?) ORDER BY t.task_id",
        (flow, run, task_id))
    return [TaskRow(*row) for row in rows]


def task_ids_of_step(stores: Stores, flow: str, run: int, step: str, limit: int = 1000) -> list[int]:
    return [i for (i,) in stores.query(
        "SELECT task_id FROM tasks WHERE flow = ? AND run_number = ? AND step = ? ORDER BY task_id LIMIT ?",
        (flow, run, step, limit))]


def task_meta(stores: Stores, flow: str, run: int, task_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, value in stores.query(
            "SELECT field, value FROM task_meta WHERE flow = ? AND run_number = ? AND task_id = ?",
            (flow, run, task_id)):
        try:
            out[field] = json.loads(value) if value is not None else None
        except ValueError:
            out[field] = value
    return out


# -- attempts and artifacts ----------------------------------------------------------------

class AttemptRow(namedtuple("AttemptRow", "attempt status started_at finished_at exit_reason"
                                          " exception host pid")):
    """One attempt of a task; ``exception`` is JSON."""

    __slots__ = ()


def attempt_row(stores: Stores, flow: str, run: int, task_id: int, attempt: int) -> AttemptRow | None:
    rows = stores.query(
        "SELECT attempt, status, started_at, finished_at, exit_reason, exception, host, pid"
        " FROM attempts WHERE flow = ? AND run_number = ? AND task_id = ? AND attempt = ?",
        (flow, run, task_id, attempt))
    return AttemptRow(*rows[0]) if rows else None


def attempt_numbers(stores: Stores, flow: str, run: int, task_id: int) -> list[int]:
    return [a for (a,) in stores.query(
        "SELECT attempt FROM attempts WHERE flow = ? AND run_number = ? AND task_id = ? ORDER BY attempt",
        (flow, run, task_id))]


class ArtifactRow(namedtuple("ArtifactRow", "name key type size")):
    """One artifact: its blob key, qualified type name and stored size."""

    __slots__ = ()


def artifact_rows(stores: Stores, flow: str, run: int, task_id: int, attempt: int) -> list[ArtifactRow]:
    """Artifacts of one attempt of a task, by name."""
    return [ArtifactRow(*row) for row in stores.query(
        "SELECT name, key, type, size FROM artifacts WHERE flow = ? AND run_number = ?"
        " AND task_id = ? AND attempt = ? ORDER BY name", (flow, run, task_id, attempt))]


def artifact_row(stores: Stores, flow: str, run: int, task_id: int, attempt: int,
                 name: str) -> ArtifactRow | None:
    rows = stores.query(
        "SELECT name, key, type, size FROM artifacts WHERE flow = ? AND run_number = ?"
        " AND task_id = ? AND attempt = ? AND name = ?", (flow, run, task_id, attempt, name))
    return ArtifactRow(*rows[0]) if rows else None
