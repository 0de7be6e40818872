"""What a MetadataReader answers about what a MetadataWriter recorded (every implementation)."""

from __future__ import annotations

import json
import time

import pytest

from headwater.metadata import ABANDONED_AFTER, Status
from headwater.metadata.summaries import RunFilter

from .conftest import Backend

STALE = ABANDONED_AFTER + 600  # comfortably older than a live run's last heartbeat


# -- flows and runs ----------------------------------------------------------------------------

def test_a_fresh_datastore_answers_empty(backend: Backend) -> None:
    r = backend.r
    assert r.flow_names() == [] and r.flow_summaries() == []
    assert r.flow_created_at("TrainFlow") is None
    assert r.run("TrainFlow", 1) is None
    assert r.runs("TrainFlow", None) == []
    assert r.run_page("TrainFlow", RunFilter(), 1, 10) == ([], 0)
    assert r.run_counts("TrainFlow") == {}
    assert r.task("TrainFlow", 1, 1) is None
    assert r.step_stats("TrainFlow", 1) == {}


def test_runs_are_listed_newest_first_within_namespace_and_tags(backend: Backend) -> None:
    b, r = backend, backend.r
    b.run(tags=("v1",))                      # 1 ana
    b.run(user="bob", tags=("v1", "exp"))    # 2 bob
    b.run(tags=("v1", "exp"))                # 3 ana
    b.run("OtherFlow", user="bob")           # OtherFlow 1 bob
    b.w.finish_run("TrainFlow", 1, Status.SUCCEEDED)
    assert [x.number for x in r.runs("TrainFlow", None)] == [3, 2, 1]
    assert [x.number for x in r.runs("TrainFlow", "user:ana")] == [3, 1]
    assert [x.number for x in r.runs("TrainFlow", None, ["exp"])] == [3, 2]
    assert [x.number for x in r.runs("TrainFlow", "user:ana", ["exp", "v1"])] == [3]
    assert [x.number for x in r.runs("TrainFlow", None, limit=1)] == [3]
    assert [x.number for x in r.runs("TrainFlow", "user:ana", status="succeeded")] == [1]
    assert r.runs("TrainFlow", "user:carl") == []
    assert r.flow_names() == ["OtherFlow", "TrainFlow"]
    assert r.flow_names("user:ana") == ["TrainFlow"]
    assert r.flow_names("exp") == ["TrainFlow"]
    assert r.flow_created_at("TrainFlow") <= r.run("TrainFlow", 1).created_at
    assert r.users("TrainFlow") == ["ana", "bob"]


def test_a_run_reads_back_as_recorded(backend: Backend) -> None:
    b, r = backend, backend.r
    first = b.run(graph={"steps": [{"name": "start", "type": "start"}]})
    resumed = b.run(origin=first)
    b.w.set_run_code("TrainFlow", resumed, "code-key")
    b.w.finish_run("TrainFlow", first, Status.FAILED)
    row = r.run("TrainFlow", first)
    assert (row.flow, row.number, row.user, row.status) == ("TrainFlow", first, "ana", "failed")
    assert json.loads(row.graph) == {"steps": [{"name": "start", "type": "start"}]}
    assert row.finished_at is not None and row.ended_at() == row.finished_at
    again = r.run("TrainFlow", resumed)
    assert (again.origin_run_id, again.code_key, again.status) == (str(first), "code-key", "running")
    assert again.finished_at is None and again.ended_at() is None
    assert again.effective_status() == "running"
    assert r.run("TrainFlow", 99) is None and r.run("NoFlow", 1) is None


def test_run_pages_carry_their_total_and_filters(backend: Backend) -> None:
    b, r = backend, backend.r
    for i in range(7):
        n = b.run(user="ana" if i % 2 else "bob", tags=("even",) if i % 2 == 0 else ())
        b.w.finish_run("TrainFlow", n, Status.SUCCEEDED if i % 3 else Status.FAILED)
    rows, total = r.run_page("TrainFlow", RunFilter(), 1, 3)
    assert [x.number for x in rows] == [7, 6, 5] and total == 7
    rows, total = r.run_page("TrainFlow", RunFilter(), 3, 3)
    assert [x.number for x in rows] == [1] and total == 7
    assert r.run_page("TrainFlow", RunFilter(), 4, 3) == ([], 7)
    rows, total = r.run_page("TrainFlow", RunFilter(user="ana"), 1, 10)
    assert [x.number for x in rows] == [6, 4, 2] and total == 3
    rows, total = r.run_page("TrainFlow", RunFilter(tag="even"), 1, 2)
    assert [x.number for x in rows] == [7, 5] and total == 4
    rows, total = r.run_page("TrainFlow", RunFilter(status="failed"), 1, 10)
    assert [x.number for x in rows] == [7, 4, 1] and total == 3
    assert r.run_counts("TrainFlow") == {"failed": 3, "succeeded": 4}
    summary = {f.name: f for f in r.flow_summaries(recent=2)}["TrainFlow"]
    assert summary.runs == 7 and [x.number for x in summary.recent] == [7, 6]
    assert summary.latest.number == 7


def test_flow_summaries_put_the_most_recently_started_flow_first(backend: Backend) -> None:
    b = backend
    with b.earlier(100):
        b.run("OldFlow")
    b.run("NewFlow")
    assert [f.name for f in b.r.flow_summaries()] == ["NewFlow", "OldFlow"]


def test_tags_system_and_user_and_their_changes(backend: Backend) -> None:
    b, r = backend, backend.r
    one = b.run(tags=("v1", "exp"))
    two = b.run(user="bob", tags=("v2",))
    assert r.tags("TrainFlow", one) == [("exp", False), ("runtime:local", True), ("user:ana", True), ("v1", False)]
    b.w.change_tags("TrainFlow", one, add=["best"], remove=["v1", "user:ana"])
    assert r.tags("TrainFlow", one) == [("best", False), ("exp", False), ("runtime:local", True),
                                        ("user:ana", True)], "a system tag cannot be removed"
    assert r.tags_of_runs("TrainFlow", [one, two, 99]) == {
        one: r.tags("TrainFlow", one), two: r.tags("TrainFlow", two), 99: []}
    assert r.user_tags("TrainFlow") == ["best", "exp", "v2"]
    assert r.user_tags("TrainFlow", limit=1) == ["best"]
    assert [x.number for x in r.runs("TrainFlow", None, ["best"])] == [one]


# -- steps and tasks ---------------------------------------------------------------------------

def _foreach(b: Backend, flow: str = "TrainFlow") -> int:
    """start(1) -foreach 3-> train(2, 3 retried, 4) -> join(5); 4 failed for good."""
    run = b.run(flow)
    b.task(flow, run, 1, "start", artifacts=(("xs", "k-xs", "builtins.list", 40),),
           transition={"next": ["train"], "foreach": "xs", "num_splits": 3})
    for i, tid in enumerate((2, 3, 4)):
        frames = [{"task": 1, "step": "start", "var": "xs", "index": i, "num_splits": 3}]
        outcomes = {2: (True,), 3: (False, True), 4: (False, False)}[tid]
        b.task(flow, run, tid, "train", parents=(1,), frames=frames, outcomes=outcomes,
               artifacts=(("score", "k-score", "builtins.float", 8), ("_hidden", "k-h", "builtins.int", 4)))
    b.task(flow, run, 5, "join", parents=(2, 3, 4), outcomes=(None,))
    return run


def test_steps_tasks_and_their_order(backend: Backend) -> None:
    b, r = backend, backend.r
    run = _foreach(b)
    assert r.step_names("TrainFlow", run) == ["join", "train", "start", "_parameters"]
    assert r.has_step("TrainFlow", run, "train") and not r.has_step("TrainFlow", run, "end")
    assert [t.task_id for t in r.tasks_of_step("TrainFlow", run, "train")] == [2, 3, 4]
    assert [t.task_id for t in r.tasks_of_step("TrainFlow", run, "train", limit=2)] == [2, 3]
    task = r.task("TrainFlow", run, 3)
    assert (task.step, task.status, task.attempt) == ("train", "succeeded", 1)
    assert task.parent_ids == [1] and task.frames[0]["index"] == 1
    assert r.task("TrainFlow", run, 4).status == "failed"
    assert r.task("TrainFlow", run, 5).status == "running"
    assert [t.task_id for t in r.tasks("TrainFlow", run, [5, 1, 99, 1])] == [1, 5]


def test_task_pages_count_per_status(backend: Backend) -> None:
    b, r = backend, backend.r
    run = _foreach(b)
    rows, total = r.task_page("TrainFlow", run, "train", None, 1, 2)
    assert [t.task_id for t in rows] == [2, 3] and total == 3
    rows, total = r.task_page("TrainFlow", run, "train", None, 2, 2)
    assert [t.task_id for t in rows] == [4] and total == 3
    rows, total = r.task_page("TrainFlow", run, "train", "failed", 1, 10)
    assert [t.task_id for t in rows] == [4] and total == 1


def test_step_stats_failures_and_durations(backend: Backend) -> None:
    b, r = backend, backend.r
    run = _foreach(b)
    stats = r.step_stats("TrainFlow", run)
    assert set(stats) == {"start", "train", "join"}, "the parameters task is not a step"
    train = stats["train"]
    assert train.counts == {"succeeded": 2, "failed": 1} and train.total == 3
    assert train.retried == 2, "tasks 3 and 4 needed a second attempt"
    assert train.status("running") == "failed"
    assert stats["join"].status("running") == "running" and stats["join"].status("abandoned") == "abandoned"
    assert train.first_created <= train.last_finished
    assert stats["join"].last_finished is None
    failures = r.failures("TrainFlow", run, 10)
    assert [(f.step, f.task_id) for f in failures] == [("train", 4)]
    assert json.loads(failures[0].exception) == {"type": "ValueError", "message": "try 1"}, "the final attempt's"
    spread = r.step_durations("TrainFlow", run, "train")
    assert spread.count == 3 and spread.slowest_task in (2, 3, 4)
    assert 0 <= spread.median <= spread.p90 <= spread.slowest
    assert r.step_durations("TrainFlow", run, "join") is None, "no task of it has finished"


def test_attempts_artifacts_and_task_meta(backend: Backend) -> None:
    b, r = backend, backend.r
    run = _foreach(b)
    attempts = r.attempts("TrainFlow", run, 3)
    assert [(a.attempt, a.status) for a in attempts] == [(0, "failed"), (1, "succeeded")]
    assert json.loads(attempts[0].exception)["message"] == "try 0" and attempts[1].exception is None
    assert attempts[0].host == "h" and attempts[0].started_at <= attempts[0].finished_at
    assert r.attempt("TrainFlow", run, 3, 1) == attempts[1]
    assert r.attempt("TrainFlow", run, 3, 7) is None
    arts = r.artifacts("TrainFlow", run, 3, 1)
    assert [(a.name, a.key) for a in arts] == [("_hidden", "k-h-1"), ("score", "k-score-1")], "by name"
    assert [a.key for a in r.artifacts("TrainFlow", run, 3, 0)] == [], "a failed attempt stored nothing"
    assert r.artifacts("TrainFlow", run, 0, 0)[0].name == "alpha"
    b.w.set_task_meta("TrainFlow", run, 3, {"runtime": "local", "cpus": 2})
    assert r.task_meta("TrainFlow", run, 3) == {"runtime": "local", "cpus": 2}
    assert r.task_meta("TrainFlow", run, 2) == {}
    starts = r.first_starts("TrainFlow", run, [3, 5, 99])
    assert set(starts) == {3, 5} and starts[3] == attempts[0].started_at


def test_child_tasks_are_found_by_their_parents(backend: Backend) -> None:
    b, r = backend, backend.r
    run = _foreach(b)
    kids, total = r.child_tasks("TrainFlow", run, 1)
    assert [k.task_id for k in kids] == [2, 3, 4] and total == 3
    kids, total = r.child_tasks("TrainFlow", run, 1, limit=2)
    assert [k.task_id for k in kids] == [2, 3] and total == 3
    assert [k.task_id for k in r.child_tasks("TrainFlow", run, 3)[0]] == [5]
    assert r.child_tasks("TrainFlow", run, 5) == ([], 0)


def test_a_wide_join_reads_all_its_parents(backend: Backend) -> None:
    b, r = backend, backend.r
    run = b.run()
    ids = list(range(2, 1202))
    with b.w.transaction():
        for tid in ids:
            b.w.new_task("TrainFlow", run, tid, "train", parents=[1])
    assert [t.task_id for t in r.tasks("TrainFlow", run, ids)] == ids
    assert r.child_tasks("TrainFlow", run, 1, limit=5)[1] == 1200
    assert len(r.tags_of_runs("TrainFlow", [run, *range(1000, 1700)])) == 701


def test_timeline_lists_tasks_until_there_are_too_many(backend: Backend) -> None:
    b, r = backend, backend.r
    run = _foreach(b)
    lanes = r.timeline("TrainFlow", run, 10)
    assert [(t.step, t.task_id) for t in lanes] == [("start", 1), ("train", 2), ("train", 3), ("train", 4),
                                                   ("join", 5)]
    three = next(t for t in lanes if t.task_id == 3)
    assert three.attempt == 1 and three.started == r.attempt("TrainFlow", run, 3, 0).started_at, \
        "a retried task's lane starts with its first attempt"
    assert three.finished is not None and lanes[-1].finished is None and not three.cloned
    assert r.timeline("TrainFlow", run, 4) is None


# -- resume ------------------------------------------------------------------------------------

def test_clones_keep_their_origin_and_its_artifacts(backend: Backend) -> None:
    b, r = backend, backend.r
    origin = _foreach(b)
    origin_tasks = {t.task_id: t for t in r.origin_tasks("TrainFlow", origin)}
    assert set(origin_tasks) == {0, 1, 2, 3, 4, 5}
    start = origin_tasks[1]
    assert (start.step, start.status, start.attempt) == ("start", "succeeded", 0)
    assert json.loads(start.transition) == {"next": ["train"], "foreach": "xs", "num_splits": 3}
    assert json.loads(origin_tasks[3].parents) == [1] and json.loads(origin_tasks[3].foreach_stack)[0]["index"] == 1
    assert origin_tasks[5].transition is None, "a running task has no transition yet"

    run = b.run(origin=origin)
    b.w.clone_task("TrainFlow", run, 1, origin_run=origin, origin_task=1, parents=[0])
    b.w.clone_task("TrainFlow", run, 2, origin_run=origin, origin_task=3, parents=[1],
                   foreach_stack=[{"task": 1, "step": "start", "var": "xs", "index": 1, "num_splits": 3}])
    clone = r.task("TrainFlow", run, 2)
    assert (clone.origin_run_id, clone.origin_task_id, clone.step, clone.status, clone.attempt) == \
        (str(origin), 3, "train", "succeeded", 1)
    assert r.artifacts("TrainFlow", run, 2, 1) == r.artifacts("TrainFlow", origin, 3, 1)
    assert [a.attempt for a in r.attempts("TrainFlow", run, 2)] == [1], "only the attempt that counted"
    assert next(t for t in r.timeline("TrainFlow", run, 10) if t.task_id == 2).cloned
    assert r.step_durations("TrainFlow", run, "train") is None, "a clone did not take any time here"


# -- liveness ----------------------------------------------------------------------------------

def test_a_run_silent_for_too_long_is_abandoned_and_its_duration_stops(backend: Backend) -> None:
    b, r = backend, backend.r
    with b.earlier(STALE + 30):
        run = b.run()
        b.task("TrainFlow", run, 1, "start")
    with b.earlier(STALE):
        b.w.new_task("TrainFlow", run, 2, "end", parents=[1])
        b.w.start_attempt("TrainFlow", run, 2, 0)
        b.w.heartbeat("TrainFlow", run, [(2, 0)])
    row = r.run("TrainFlow", run)
    assert row.status == "running" and row.effective_status() == "abandoned"
    ended = row.ended_at()
    assert ended == row.heartbeat_at and abs(ended - (time.time() - STALE)) < 5
    assert abs((ended - row.created_at) - 30) < 1, "its duration is creation to last heartbeat"
    assert r.run("TrainFlow", run).ended_at(time.time() + 3600) == ended, "and it does not grow"
    assert r.run_counts("TrainFlow") == {"abandoned": 1}
    assert [x.number for x in r.run_page("TrainFlow", RunFilter(status="abandoned"), 1, 10)[0]] == [run]
    assert r.run_page("TrainFlow", RunFilter(status="running"), 1, 10) == ([], 0)


def test_a_run_whose_tasks_still_beat_is_running(backend: Backend) -> None:
    """A production scheduler runs the tasks and no Headwater scheduler beats for the run."""
    b, r = backend, backend.r
    with b.earlier(STALE):
        run = b.run()
    b.w.new_task("TrainFlow", run, 1, "start")
    b.w.start_attempt("TrainFlow", run, 1, 0)  # a task's first heartbeat is its start
    row = r.run("TrainFlow", run)
    assert row.effective_status() == "running" and row.ended_at() is None
    assert row.heartbeat_at > time.time() - 60
    assert r.run_counts("TrainFlow") == {"running": 1}
    assert [x.number for x in r.run_page("TrainFlow", RunFilter(status="running"), 1, 10)[0]] == [run]


def test_a_heartbeat_brings_a_silent_run_back_and_a_finish_ends_it(backend: Backend) -> None:
    b, r = backend, backend.r
    with b.earlier(STALE):
        run = b.run()
        b.w.new_task("TrainFlow", run, 1, "start")
        b.w.start_attempt("TrainFlow", run, 1, 0)
    assert r.run("TrainFlow", run).effective_status() == "abandoned"
    b.w.heartbeat("TrainFlow", run, [(1, 0)])
    assert r.run("TrainFlow", run).effective_status() == "running"
    assert r.attempt("TrainFlow", run, 1, 0).heartbeat_at > time.time() - 60
    b.w.finish_run("TrainFlow", run, Status.SUCCEEDED)
    row = r.run("TrainFlow", run)
    assert row.effective_status(time.time() + STALE) == "succeeded", "a finished run is never abandoned"
    assert row.ended_at() == row.finished_at


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_finished_runs_are_counted_by_their_status_whatever_their_age(backend: Backend, status: str) -> None:
    b = backend
    with b.earlier(STALE):
        run = b.run()
        b.w.finish_run("TrainFlow", run, Status(status))
    assert b.r.run_counts("TrainFlow") == {status: 1}
    assert b.r.run("TrainFlow", run).effective_status() == status
