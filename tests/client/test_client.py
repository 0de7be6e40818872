"""Flow, Run, Step, Task and DataArtifact over records written directly (see conftest.py)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tarfile
import time
from datetime import datetime

import pytest

import headwater
from headwater.client import (
    DataArtifact,
    Flow,
    Metaflow,
    Run,
    Step,
    Task,
    TaskException,
    namespace,
)
from headwater.metadata.vocabulary import ABANDONED_AFTER


def test_top_level_exports_are_the_client() -> None:
    from headwater.client import flow

    assert headwater.Flow is flow.Flow
    assert headwater.Run is Run and headwater.Task is Task and headwater.Metaflow is Metaflow
    assert headwater.namespace is namespace


def test_import_is_light() -> None:
    code = ("import sys, headwater.client; bad = [m for m in ('rich', 'click', 'numpy') if m in sys.modules];"
            " print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# -- Metaflow and Flow ---------------------------------------------------------------------------

def test_metaflow_lists_flows_with_runs_in_namespace(sample) -> None:
    assert [f.id for f in Metaflow().flows] == ["TrainFlow"]
    assert [f.id for f in Metaflow()] == ["TrainFlow"]
    namespace(None)
    assert [f.id for f in Metaflow().flows] == ["OtherFlow", "TrainFlow"]
    namespace("user:bob")
    assert [f.id for f in Metaflow().flows] == ["OtherFlow", "TrainFlow"]
    assert repr(Metaflow()) == "Metaflow()"


def test_flow_lists_runs_newest_first_in_namespace(sample) -> None:
    flow = Flow("TrainFlow")
    assert [r.id for r in flow] == ["4", "3", "1"]
    assert flow.latest_run == Run("TrainFlow/4")
    assert flow.latest_successful_run.id == "4"
    assert isinstance(flow.created_at, datetime)
    assert flow.id == flow.pathspec == "TrainFlow"
    namespace(None)
    assert [r.id for r in flow.runs()] == ["4", "3", "2", "1"]
    namespace("user:bob")
    assert flow.latest_run.id == "2"
    assert flow.latest_successful_run is None


def test_flow_runs_filtered_by_tags(sample) -> None:
    flow = Flow("TrainFlow")
    assert [r.id for r in flow.runs("experiment")] == ["1"]
    assert [r.id for r in flow.runs("experiment", "v2")] == ["1"]
    assert list(flow.runs("experiment", "nope")) == []
    assert [r.id for r in flow.runs("user:ana")] == ["4", "3", "1"]


def test_flow_getitem_and_contains(sample) -> None:
    flow = Flow("TrainFlow")
    assert flow["1"] == Run("TrainFlow/1") == flow[1]
    assert "1" in flow and 1 in flow
    assert "2" not in flow  # bob's run: outside the namespace
    assert "99" not in flow and "x" not in flow


# -- Run ---------------------------------------------------------------------------------------------

def test_run_properties(sample) -> None:
    run = Run("TrainFlow/1")
    assert run.id == "1" and run.pathspec == "TrainFlow/1"
    assert run.successful and run.finished and run.status == "succeeded"
    assert isinstance(run.created_at, datetime) and isinstance(run.finished_at, datetime)
    assert run.finished_at >= run.created_at
    assert run.user == "ana"
    assert run.data.best == 1.0
    assert run.data.alpha == 0.5  # the end task carries the parameters
    assert run.end_task == Task("TrainFlow/1/end/6")
    assert run.tags == {"experiment", "v2", "user:ana", "runtime:local"}
    assert run.user_tags == {"experiment", "v2"}
    assert run.system_tags == {"user:ana", "runtime:local"}
    assert run.parameters == {"alpha": 0.5}
    assert run.parent == Flow("TrainFlow")
    assert run.origin_pathspec is None
    assert isinstance(run.heartbeat_at, datetime)


def test_failed_run(sample) -> None:
    namespace(None)
    run = Run("TrainFlow/2")
    # As in Metaflow, a failed run has not finished (it did not complete its end step).
    assert not run.successful and not run.finished and run.status == "failed"
    assert run.finished_at is not None
    assert run.end_task.exception.type == "KeyError"
    assert run.data is not None and "best" not in run.data


def test_run_code_package(sample) -> None:
    code = Run("TrainFlow/1").code
    assert "class TrainFlow(FlowSpec)" in code.flowspec
    assert code.script_name == "train.py"
    assert code.files["utils.py"] == b"HELPER = 1\n"
    assert isinstance(code.tarball, tarfile.TarFile)
    assert sorted(code.tarball.getnames()) == ["train.py", "utils.py"]
    assert "CodePackage" in repr(code)
    assert Run("TrainFlow/4").code is None
    assert Task("TrainFlow/1/end/6").code.key == code.key


def test_code_extract(sample, tmp_path) -> None:
    out = Run("TrainFlow/1").code.extract(tmp_path / "extracted")
    assert (out / "train.py").read_text().startswith("from headwater import")


def test_run_steps_newest_first_without_parameters(sample) -> None:
    run = Run("TrainFlow/1")
    assert [s.id for s in run] == ["end", "join", "train", "start"]
    assert [s.id for s in run.steps("experiment")] == ["end", "join", "train", "start"]
    assert list(run.steps("nope")) == []
    assert "train" in run and "_parameters" in run and "nope" not in run
    assert run["_parameters"].task.data.alpha == 0.5
    assert run["_parameters"].task["_hidden_param"].data == 1


def test_running_and_abandoned_run(sample) -> None:
    run = Run("TrainFlow/3")
    assert run.status == "running"
    assert not run.finished and not run.successful and run.finished_at is None
    assert run.end_task is None and run.data is None
    old = time.time() - ABANDONED_AFTER - 5
    sample.md.db.execute("UPDATE runs SET heartbeat_at = ? WHERE flow = 'TrainFlow' AND run_number = 3",
                         (old,))
    assert run.status == "running", "its running attempt still beats"
    sample.md.db.execute("UPDATE attempts SET heartbeat_at = ?, started_at = ?,"
                         " finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE ? END"
                         " WHERE flow = 'TrainFlow' AND run_number = 3", (old, old - 10, old - 5))
    assert run.status == "abandoned"
    assert not run.finished
    assert run.finished_at == datetime.fromtimestamp(old), "it ended at its last heartbeat"
    assert run["train"].task.status == "abandoned"
    sample.finish("TrainFlow", 3, ok=False)
    assert run.status == "failed" and not run.finished and run.finished_at is not None


def test_headwater_runs_shows_an_abandoned_runs_duration_up_to_its_last_heartbeat(sample) -> None:
    created = time.time() - ABANDONED_AFTER - 600
    sample.md.db.execute("UPDATE runs SET created_at = ?, heartbeat_at = ? WHERE flow = 'TrainFlow'"
                         " AND run_number = 3", (created, created + 90))
    sample.md.db.execute("UPDATE attempts SET heartbeat_at = ?, started_at = ?,"
                         " finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE ? END"
                         " WHERE flow = 'TrainFlow' AND run_number = 3", (created + 120, created, created + 60))
    done = subprocess.run([sys.executable, "-c", "from headwater.cli.main import main; main()", "runs",
                           "TrainFlow"], env={**os.environ, "COLUMNS": "200"}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if "TrainFlow/3" in x]
    assert "abandoned" in line
    assert "2.0 min" in line, "created to the task's last heartbeat, two minutes, not ten and counting"


def _headwater(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from headwater.cli.main import main; main()", *args],
                          env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True, timeout=60)


def test_headwater_show_flow_lists_its_runs_newest_first(sample) -> None:
    done = _headwater("show", "TrainFlow")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("TrainFlow  4 runs, the latest TrainFlow/4 succeeded"), done.stdout
    rows = [x for x in lines if x.startswith("│ TrainFlow/")]
    assert [r.split()[1] for r in rows] == ["TrainFlow/4", "TrainFlow/3", "TrainFlow/2", "TrainFlow/1"]
    assert "failed" in rows[2] and "bob" in rows[2], "everyone's runs, with their user"
    assert "headwater show TrainFlow/4" in done.stdout
    limited = _headwater("show", "TrainFlow", "--limit", "1")
    assert "3 older runs not shown: headwater show TrainFlow --limit 4" in limited.stdout, limited.stdout


def test_resumed_run_and_cloned_task(sample) -> None:
    run = Run("TrainFlow/4")
    assert run.origin_pathspec == "TrainFlow/1"
    start = run["start"].task
    assert start.origin_pathspec == "TrainFlow/1/start/1"
    assert start.data.shards == [0, 1, 2]
    assert start.stdout == "starting\n3 shards\n"  # the original's output
    assert start.metadata_dict["origin-run-id"] == "1"
    assert run["end"].task.origin_pathspec is None
    assert Task("TrainFlow/1/start/1").origin_pathspec is None


# -- Step --------------------------------------------------------------------------------------------

def test_step(sample) -> None:
    step = Run("TrainFlow/1")["train"]
    assert step == Step("TrainFlow/1/train")
    assert step.pathspec == "TrainFlow/1/train" and step.id == "train"
    assert step.task == Task("TrainFlow/1/train/2")
    assert [t.id for t in step.tasks()] == ["2", "3", "4"]
    assert [t.id for t in step] == ["2", "3", "4"]
    assert [t.id for t in step.tasks("v2")] == ["2", "3", "4"]
    assert list(step.tasks("nope")) == []
    assert step["3"] == step[3] == Task("TrainFlow/1/train/3")
    assert "3" in step and "6" not in step and "x" not in step
    assert step.parent == Run("TrainFlow/1")
    assert step.finished and step.finished_at >= step.created_at
    assert step.tags == Run("TrainFlow/1").tags
    assert not Run("TrainFlow/3")["train"].finished


# -- Task --------------------------------------------------------------------------------------------

def test_task_data_and_artifacts(sample) -> None:
    task = Run("TrainFlow/1")["train"].task
    assert task.data.score == 0.0
    assert task["score"].data == 0.0
    assert task.artifacts.score.data == 0.0
    assert task.artifacts["score"].sha == task["score"].sha
    assert "score" in task and "nope" not in task
    assert "score" in task.data and sorted(task.data) == ["alpha", "score"]
    assert sorted(a.id for a in task) == ["alpha", "score"]
    assert sorted(a.id for a in task.artifacts) == ["alpha", "score"]
    assert len(task.data) == len(task.artifacts) == 2
    assert "score" in dir(task.data) and "score" in task.artifacts
    assert task.data["score"] == 0.0
    assert "TrainFlow/1/train/2" in repr(task.data) and "score" in repr(task.artifacts)
    assert getattr(task.data, "nope", "default") == "default"
    assert not hasattr(task.data, "nope")


def test_hidden_artifacts(sample) -> None:
    start = Task("TrainFlow/1/start/1")
    assert "_private" not in start.data
    assert "_private" not in [a.id for a in start]
    assert start["_private"].data == "secret"
    assert "_private" in start


def test_task_outcome_and_times(sample) -> None:
    task = Task("TrainFlow/1/train/2")
    assert task.successful and task.finished and task.status == "succeeded"
    assert task.exception is None and task.exit_reason is None
    assert task.current_attempt == 0 and task.attempts == [0]
    assert isinstance(task.created_at, datetime)
    assert task.finished_at >= task.created_at
    assert task.started_at is not None
    assert task.parent == Step("TrainFlow/1/train")


def test_task_index(sample) -> None:
    assert [t.index for t in Step("TrainFlow/1/train")] == [0, 1, 2]
    assert Task("TrainFlow/1/start/1").index is None
    assert Task("TrainFlow/1/join/5").index is None


def test_static_split_has_no_index(datastore) -> None:
    r = datastore.run()
    datastore.task("TrainFlow", r, 1, "a", frames=[{"task": 0, "step": "start", "var": None, "index": 1,
                                                    "num_splits": 2}])
    datastore.attempt("TrainFlow", r, 1)
    assert Task(f"TrainFlow/{r}/a/1").index is None


def test_task_logs(sample) -> None:
    task = Task("TrainFlow/1/start/1")
    assert task.stdout == "starting\n3 shards\n"
    assert task.stderr == ""
    lines = list(task.loglines("stdout"))
    assert [text for _, text in lines] == ["starting", "3 shards"]
    assert all(isinstance(when, datetime) for when, _ in lines)
    assert [t for _, t in task.loglines("stdout", as_unicode=False)] == [b"starting", b"3 shards"]
    with pytest.raises(ValueError, match="stdout"):
        list(task.loglines("stdlog"))


def test_task_metadata_dict(sample) -> None:
    meta = Task("TrainFlow/1/end/6").metadata_dict
    assert meta["attempt"] == 0 and meta["host"] == "testhost" and meta["pid"] == 4242
    assert meta["runtime"] == "local" and meta["python"] == "3.11"
    assert meta["status"] == "succeeded" and meta["step"] == "end"


def test_parent_and_child_tasks(sample) -> None:
    start = Task("TrainFlow/1/start/1")
    assert list(start.parent_tasks) == []  # the _parameters task is not a parent
    assert [t.pathspec for t in start.child_tasks] == [f"TrainFlow/1/train/{i}" for i in (2, 3, 4)]
    join = Task("TrainFlow/1/join/5")
    assert list(join.parent_task_pathspecs) == [f"TrainFlow/1/train/{i}" for i in (2, 3, 4)]
    assert list(join.child_task_pathspecs) == ["TrainFlow/1/end/6"]
    assert list(Task("TrainFlow/1/end/6").child_tasks) == []
    assert list(Run("TrainFlow/1")["_parameters"].task.child_tasks) == []


def test_attempts(sample) -> None:
    task = Task("TrainFlow/1/train/3")
    assert task.current_attempt == 1 and task.attempts == [0, 1]
    assert task.successful and task.exception is None
    assert task.stdout == "retry ok\n" and task.stderr == ""
    first = Task("TrainFlow/1/train/3", attempt=0)
    assert first.current_attempt == 0
    assert first.finished and not first.successful and first.status == "failed"
    exc = first.exception
    assert isinstance(exc, TaskException)
    assert exc.type == "ValueError" and exc["message"] == "bad <shard>"
    assert "Traceback" in exc.traceback and str(exc) == "ValueError: bad <shard>"
    assert first.stderr == "boom <b>\n" and first.stdout == ""
    assert "score" not in first and first.finished_at is not None
    assert first != task and repr(first) == "Task('TrainFlow/1/train/3', attempt=0)"
    assert Task("TrainFlow/1/train/3", attempt=1).data.score == 0.5


def test_running_task_sees_progress(sample) -> None:
    task = Task("TrainFlow/3/train/2")
    assert not task.finished and not task.successful and task.status == "running"
    assert task.finished_at is None and task.exception is None
    assert task.stdout == "epoch 1\n"
    assert list(task.data) == []
    with pytest.raises(KeyError, match="has not finished"):
        task["model"]
    sample.log("TrainFlow", 3, "train", 2, 0, "stdout", ["epoch 2"])
    assert task.stdout == "epoch 1\nepoch 2\n"  # logs so far, re-read on each access
    arts = [sample._save("model", "weights")] + [(n, *r) for n, r in sample.params_of("TrainFlow", 3).items()]
    sample.md.finish_attempt("TrainFlow", 3, 2, 0, status=headwater.metadata.Status.SUCCEEDED, artifacts=arts)
    assert task.finished and task.successful
    assert task.data.model == "weights"


def test_retry_pending_is_not_finished(datastore) -> None:
    r = datastore.run()
    datastore.task("TrainFlow", r, 1, "start")
    datastore.attempt("TrainFlow", r, 1, ok=False, final=False, exit_reason="killed by signal 9")
    task = Task(f"TrainFlow/{r}/start/1")
    assert not task.finished  # the runtime will retry
    assert Task(f"TrainFlow/{r}/start/1", attempt=0).exit_reason == "killed by signal 9"
    assert Task(f"TrainFlow/{r}/start/1", attempt=0).exception is None


# -- DataArtifact --------------------------------------------------------------------------------

def test_data_artifact(sample) -> None:
    art = DataArtifact("TrainFlow/1/train/4/score")
    assert art.data == 1.0 and art.id == "score"
    assert art.pathspec == "TrainFlow/1/train/4/score"
    assert art.type == "builtins.float" and art.size > 0 and len(art.sha) == 32
    assert isinstance(art.created_at, datetime) and art.finished_at == art.created_at
    assert art.parent == Task("TrainFlow/1/train/4")
    assert art == Task("TrainFlow/1/train/4")["score"]
    assert art.path_components == ["TrainFlow", "1", "train", "4", "score"]
    assert DataArtifact("TrainFlow/1/train/3/score", attempt=1).data == 0.5
    assert art.tags == Run("TrainFlow/1").tags


def test_artifact_value_is_loaded_once(sample, monkeypatch) -> None:
    task = Task("TrainFlow/1/train/2")
    art = task["score"]
    calls = []
    blobs = task._stores.blobs
    real = blobs.load
    monkeypatch.setattr(blobs, "load", lambda key, **kw: calls.append(key) or real(key, **kw))
    assert art.data == 0.0 and art.data == 0.0
    assert task.data.score == 0.0 and task.data.score == 0.0
    assert len(calls) == 1


# -- identity, pickling, display ---------------------------------------------------------------

def test_repr_eq_hash(sample) -> None:
    assert repr(Run("TrainFlow/1")) == "Run('TrainFlow/1')"
    assert repr(Flow("TrainFlow")) == "Flow('TrainFlow')"
    assert str(Step("TrainFlow/1/train")) == "Step('TrainFlow/1/train')"
    assert repr(Task("TrainFlow/1/end/6")) == "Task('TrainFlow/1/end/6')"
    assert repr(DataArtifact("TrainFlow/1/end/6/best")) == "DataArtifact('TrainFlow/1/end/6/best')"
    assert len({Run("TrainFlow/1"), Flow("TrainFlow")["1"], Run("TrainFlow/4")}) == 2
    assert Run("TrainFlow/1") != Flow("TrainFlow")
    assert Run("TrainFlow/1") != "TrainFlow/1"


@pytest.mark.parametrize("make", [
    lambda: Flow("TrainFlow"),
    lambda: Run("TrainFlow/1"),
    lambda: Step("TrainFlow/1/train"),
    lambda: Task("TrainFlow/1/train/3"),
    lambda: Task("TrainFlow/1/train/3", attempt=0),
    lambda: DataArtifact("TrainFlow/1/train/3/score"),
])
def test_pickle_round_trip(sample, make) -> None:
    obj = make()
    data = pickle.dumps(obj)
    assert len(data) < 300  # identity only, no records or values
    back = pickle.loads(data)
    assert back == obj and hash(back) == hash(obj) and repr(back) == repr(obj)


def test_unpickled_objects_reopen_lazily(sample) -> None:
    namespace(None)
    blob = pickle.dumps([Task("TrainFlow/2/end/2"), Task("TrainFlow/1/train/3", attempt=0),
                         DataArtifact("TrainFlow/1/end/6/best"), Run("TrainFlow/1")])
    from headwater.client.stores import clear_cache

    clear_cache()
    namespace("user:nobody")
    bob_end, first, best, run = pickle.loads(blob)
    assert bob_end.exception.type == "KeyError"  # no namespace check on unpickling
    assert first.exception.type == "ValueError"
    assert best.data == 1.0 and best.sha
    assert run.data.best == 1.0 and run.successful


def test_html_repr_is_escaped(sample) -> None:
    run = Run("TrainFlow/1")
    run.add_tag("<script>alert(1)</script>")
    page = run._repr_html_()
    assert "TrainFlow/1" in page and "succeeded" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "train" in page and "alpha" in page and "best" in page
    task_page = Task("TrainFlow/1/train/3", attempt=0)._repr_html_()
    assert "failed" in task_page and "bad &lt;shard&gt;" in task_page and "<shard>" not in task_page
    ok_page = Task("TrainFlow/1/train/4")._repr_html_()
    assert "score" in ok_page and "builtins.float" in ok_page and "foreach index" in ok_page
    assert "cloned from" in Task("TrainFlow/4/start/1")._repr_html_()
    assert "running" in Run("TrainFlow/3")._repr_html_()
    killed = Task("TrainFlow/3/train/2")._repr_html_()
    assert "running" in killed


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_objects_work_in_a_forked_child(sample) -> None:
    import os

    run = Run("TrainFlow/1")
    assert run.data.best == 1.0  # the parent opened its connection
    pid = os.fork()
    if pid == 0:  # child: must open its own connection, not reuse the parent's
        code = 0
        try:
            ok = run._stores.pid == os.getpid() and Run("TrainFlow/1")["end"].task.data.best == 1.0
            code = 0 if ok and run.successful else 1
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert run._stores.pid == os.getpid()


def test_flow_has_no_tags(sample) -> None:
    assert Flow("TrainFlow").tags == frozenset() == Flow("TrainFlow").system_tags
