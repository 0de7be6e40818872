"""The reads behind the pages, each a bounded number of indexed queries.

The client's ``records`` module answers single-object lookups; the pages also need lists
with filters and offsets, counts per status, and aggregates over a step's tasks, so those
queries live here. No page runs a query per run or per task: a page of 50 runs is one query
for the runs, one for their count and one for their tags; a step with 2,000 tasks is one
``GROUP BY`` for its counts and one page of rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..client.records import (
    _RUN_COLUMNS,
    _TASK_COLUMNS,
    ABANDONED_AFTER,
    RunRow,
    TaskRow,
)
from ..client.stores import Stores
from ..metadata.sqlite import PARAMS_STEP

RUN_STATUSES = ("running", "succeeded", "failed", "abandoned")
TASK_STATUSES = ("running", "succeeded", "failed")


# -- flows ------------------------------------------------------------------------------------

@dataclass
class FlowSummary:
    name: str
    runs: int
    recent: list[RunRow]  # newest first

    @property
    def latest(self) -> RunRow | None:
        return self.recent[0] if self.recent else None


def flow_summaries(stores: Stores, recent: int = 20) -> list[FlowSummary]:
    """Every flow with runs, most recently active first: its run count and latest runs."""
    counts = stores.query("SELECT flow, COUNT(*) FROM runs GROUP BY flow")
    out = []
    for flow, n in counts:
        rows = stores.query(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = ?"
                            " ORDER BY r.run_number DESC LIMIT ?", (flow, recent))
        out.append(FlowSummary(flow, n, [RunRow(*row) for row in rows]))
    out.sort(key=lambda f: -(f.latest.created_at if f.latest else 0.0))
    return out


# -- runs of a flow ---------------------------------------------------------------------------

@dataclass
class RunFilter:
    status: str | None = None
    user: str | None = None
    tag: str | None = None

    def where(self, now: float) -> tuple[str, list[object]]:
        sql, args = "", []
        if self.user:
            sql += " AND r.user = ?"
            args.append(self.user)
        if self.tag:
            sql += (" AND EXISTS (SELECT 1 FROM tags g WHERE g.flow = r.flow"
                    " AND g.run_number = r.run_number AND g.tag = ?)")
            args.append(self.tag)
        stale = "COALESCE(r.heartbeat_at, r.created_at) < ?"
        if self.status == "abandoned":
            sql += f" AND r.status = 'running' AND {stale}"
            args.append(now - ABANDONED_AFTER)
        elif self.status == "running":
            sql += f" AND r.status = 'running' AND NOT {stale}"
            args.append(now - ABANDONED_AFTER)
        elif self.status:
            sql += " AND r.status = ?"
            args.append(self.status)
        return sql, args


def run_page(stores: Stores, flow: str, filt: RunFilter, page: int, per_page: int) -> tuple[list[RunRow], int]:
    """One page of a flow's runs matching ``filt``, newest first, and how many match in all."""
    where, args = filt.where(time.time())
    (total,) = stores.query(f"SELECT COUNT(*) FROM runs r WHERE r.flow = ?{where}", (flow, *args))[0]
    rows = stores.query(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.flow = ?{where}"
                        " ORDER BY r.run_number DESC LIMIT ? OFFSET ?",
                        (flow, *args, per_page, (page - 1) * per_page))
    return [RunRow(*row) for row in rows], total


def flow_status_counts(stores: Stores, flow: str, now: float) -> dict[str, int]:
    """How many runs of the flow are in each status (abandoned ones apart from running)."""
    counts = dict(stores.query("SELECT status, COUNT(*) FROM runs WHERE flow = ? GROUP BY status", (flow,)))
    if counts.get("running"):
        (stale,) = stores.query(
            "SELECT COUNT(*) FROM runs WHERE flow = ? AND status = 'running'"
            " AND COALESCE(heartbeat_at, created_at) < ?", (flow, now - ABANDONED_AFTER))[0]
        if stale:
            counts["running"] -= stale
            counts["abandoned"] = stale
    return {k: v for k, v in counts.items() if v}


def tags_of_runs(stores: Stores, flow: str, numbers: list[int]) -> dict[int, list[tuple[str, bool]]]:
    """``run -> [(tag, is_system)]`` for a page of runs, in one query on the tags' key."""
    out: dict[int, list[tuple[str, bool]]] = {n: [] for n in numbers}
    if not numbers:
        return out
    marks = ",".join("?" * len(numbers))
    for run, tag, system in stores.query(
            f"SELECT run_number, tag, system FROM tags WHERE flow = ? AND run_number IN ({marks})"
            " ORDER BY run_number, tag", (flow, *numbers)):
        out[run].append((tag, bool(system)))
    return out


def flow_users(stores: Stores, flow: str) -> list[str]:
    return [u for (u,) in stores.query("SELECT DISTINCT user FROM runs WHERE flow = ? ORDER BY user", (flow,))]


def flow_user_tags(stores: Stores, flow: str, limit: int = 200) -> list[str]:
    return [t for (t,) in stores.query(
        "SELECT DISTINCT tag FROM tags WHERE flow = ? AND system = 0 ORDER BY tag LIMIT ?", (flow, limit))]


# -- steps of a run ---------------------------------------------------------------------------

@dataclass
class StepStats:
    name: str
    counts: dict[str, int] = field(default_factory=dict)  # task status -> how many
    first_created: float | None = None
    last_finished: float | None = None
    retried: int = 0  # tasks that needed more than one attempt

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def status(self, run_status: str) -> str:
        """One word for the step: failed > running (or abandoned) > succeeded."""
        if self.counts.get("failed"):
            return "failed"
        if self.counts.get("running"):
            return "abandoned" if run_status == "abandoned" else "running"
        return "succeeded" if self.total else "pending"


def step_stats(stores: Stores, flow: str, run: int) -> dict[str, StepStats]:
    """Counts per status, times and retries for every step of a run, in one query."""
    out: dict[str, StepStats] = {}
    for step, status, n, first, last, retried in stores.query(
            "SELECT step, status, COUNT(*), MIN(created_at), MAX(finished_at), SUM(attempt > 0)"
            " FROM tasks WHERE flow = ? AND run_number = ? AND step != ? GROUP BY step, status",
            (flow, run, PARAMS_STEP)):
        stats = out.setdefault(step, StepStats(step))
        stats.counts[status] = n
        stats.retried += retried or 0
        if first is not None and (stats.first_created is None or first < stats.first_created):
            stats.first_created = first
        if last is not None and (stats.last_finished is None or last > stats.last_finished):
            stats.last_finished = last
    return out


@dataclass
class TimelineTask:
    task_id: int
    step: str
    status: str
    attempt: int
    started: float
    finished: float | None
    cloned: bool


def timeline_tasks(stores: Stores, flow: str, run: int, limit: int) -> list[TimelineTask] | None:
    """Every task with its first start and end, or None when the run has more than ``limit``."""
    rows = stores.query(
        "SELECT t.task_id, t.step, t.status, t.attempt, t.created_at, t.finished_at, t.origin_run_id,"
        " (SELECT MIN(a.started_at) FROM attempts a WHERE a.flow = t.flow"
        "  AND a.run_number = t.run_number AND a.task_id = t.task_id)"
        " FROM tasks t WHERE t.flow = ? AND t.run_number = ? AND t.step != ? ORDER BY t.task_id LIMIT ?",
        (flow, run, PARAMS_STEP, limit + 1))
    if len(rows) > limit:
        return None
    return [TimelineTask(tid, step, status, attempt, started if started is not None and origin is None
                         else created, finished, origin is not None)
            for tid, step, status, attempt, created, finished, origin, started in rows]


# -- tasks ------------------------------------------------------------------------------------

def task_page(stores: Stores, flow: str, run: int, step: str, status: str | None, page: int,
              per_page: int) -> tuple[list[TaskRow], int]:
    """One page of a step's tasks (optionally of one status) in id order, and the total."""
    where, args = "", []
    if status:
        where, args = " AND t.status = ?", [status]
    (total,) = stores.query(f"SELECT COUNT(*) FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                            f" AND t.step = ?{where}", (flow, run, step, *args))[0]
    rows = stores.query(f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                        f" AND t.step = ?{where} ORDER BY t.task_id LIMIT ? OFFSET ?",
                        (flow, run, step, *args, per_page, (page - 1) * per_page))
    return [TaskRow(*row) for row in rows], total


@dataclass
class Durations:
    """How long a step's finished tasks took (their final attempt), over all of them."""

    count: int
    median: float
    p90: float
    slowest: float
    slowest_task: int


def step_durations(stores: Stores, flow: str, run: int, step: str) -> Durations | None:
    rows = stores.query(
        "SELECT a.task_id, a.finished_at - a.started_at FROM tasks t JOIN attempts a"
        " ON a.flow = t.flow AND a.run_number = t.run_number AND a.task_id = t.task_id AND a.attempt = t.attempt"
        " WHERE t.flow = ? AND t.run_number = ? AND t.step = ? AND a.finished_at IS NOT NULL"
        " AND t.origin_run_id IS NULL", (flow, run, step))
    if not rows:
        return None
    times = sorted(t for _, t in rows)
    slow_id, slow = max(rows, key=lambda r: r[1])
    return Durations(len(times), times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.9))],
                     slow, slow_id)


def first_starts(stores: Stores, flow: str, run: int, ids: list[int]) -> dict[int, float]:
    """When each task's first attempt started, for a page of tasks."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return dict(stores.query(
        f"SELECT task_id, MIN(started_at) FROM attempts WHERE flow = ? AND run_number = ?"
        f" AND task_id IN ({marks}) GROUP BY task_id", (flow, run, *ids)))


def child_tasks(stores: Stores, flow: str, run: int, task_id: int, limit: int) -> tuple[list[TaskRow], int]:
    """Up to ``limit`` tasks started from ``task_id``, and how many there are."""
    match = ("EXISTS (SELECT 1 FROM json_each(t.parents) j WHERE j.value = ?)")
    (total,) = stores.query(f"SELECT COUNT(*) FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                            f" AND {match}", (flow, run, task_id))[0]
    rows = stores.query(f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE t.flow = ? AND t.run_number = ?"
                        f" AND {match} ORDER BY t.task_id LIMIT ?", (flow, run, task_id, limit))
    return [TaskRow(*row) for row in rows], total


def status_counts(stats: dict[str, StepStats]) -> dict[str, int]:
    """Tasks of the whole run per status."""
    out: dict[str, int] = {}
    for s in stats.values():
        for status, n in s.counts.items():
            out[status] = out.get(status, 0) + n
    return out


@dataclass
class Failure:
    step: str
    task_id: int
    exception: str | None  # JSON, as stored
    exit_reason: str | None


def failures(stores: Stores, flow: str, run: int, limit: int) -> list[Failure]:
    """The first failed tasks of a run with their final attempt's exception."""
    rows = stores.query(
        "SELECT t.step, t.task_id, a.exception, a.exit_reason FROM tasks t LEFT JOIN attempts a"
        " ON a.flow = t.flow AND a.run_number = t.run_number AND a.task_id = t.task_id"
        " AND a.attempt = t.attempt WHERE t.flow = ? AND t.run_number = ? AND t.status = 'failed'"
        " ORDER BY t.task_id LIMIT ?", (flow, run, limit))
    return [Failure(*row) for row in rows]
