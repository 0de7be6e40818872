"""``python -m headwater.task``: one attempt from a self-contained spec, with nobody listening.

This is how a production scheduler (Airflow, Argo) runs a step: no Headwater scheduler
process, each task started on its own with a JSON spec. The task then records itself: its
attempt, heartbeat, logs, artifacts, outcome and transition; and the run reads the same in
``logs``, ``dump`` and the client as a run of ``python flow.py run``. The test plays the
production scheduler: it records a run through the writer, then starts each step in order.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

FLOW = """
class EntryFlow(FlowSpec):
    alpha = Parameter("alpha", default=2)

    @step
    def start(self):
        self.x = 10 * self.alpha
        self.next(self.middle)

    @step
    def middle(self):
        print("middle sees", self.x, "in", current.pathspec)
        if self.alpha == 99:
            raise ValueError("alpha 99 is refused")
        self.y = self.x + 1
        self.next(self.end)

    @step
    def end(self):
        print("end", self.y)

if __name__ == "__main__":
    EntryFlow()
"""


def _scheduler_run(fd, alpha: int) -> tuple[int, str]:
    """Record a run as a production scheduler would: parameters stored, code packed, then
    return its id and the code package key (from a plain run that stored them)."""
    done = fd.run("--alpha", str(alpha))  # it may fail: only its parameters and code are used
    assert "started by" in done.stdout, done
    origin = done.run_id("EntryFlow")
    from headwater.metadata import open_reader, open_writer

    row = open_reader(fd.home).run("EntryFlow", origin)
    code_key = row.code_key
    fd.datastore = row.datastore or str(fd.home)  # the bytes are on S3 in the s3 mode
    md = open_writer(fd.home)
    run = md.new_run("EntryFlow", user="prod", tags=["nightly"], system_tags=["user:prod"],
                     datastore=row.datastore)
    md.clone_task("EntryFlow", run, 0, origin_run=origin, origin_task=0, parents=[])
    md.set_run_code("EntryFlow", run, code_key)
    md.close()
    return run, code_key


def _spec(fd, run: int, step: str, task_id: int, parents: list, code: dict, **extra) -> str:
    from headwater.task import TaskSpec

    return TaskSpec(flow="EntryFlow", run=run, step=step, task_id=task_id, attempt=0,
                    root=fd.datastore, metadata=str(fd.home), parents=parents, user="prod", code=code,
                    parameter_names=["alpha"], **extra).to_json()


def _task(fd, spec: str, cwd=None, *args: str) -> subprocess.CompletedProcess:
    env = fd.env()
    env.pop("HEADWATER_HOME")  # everything the task needs is in its spec
    return subprocess.run([sys.executable, "-m", "headwater.task", "--spec", spec, *args],
                          cwd=cwd or fd.path, env=env, capture_output=True, text=True, timeout=120)


def _run_all(fd, run: int, code: dict, cwd=None) -> list[subprocess.CompletedProcess]:
    out = []
    for task_id, step, parents in ((1, "start", [(0, "_parameters", 0)]),
                                   (2, "middle", [(1, "start", 0)]), (3, "end", [(2, "middle", 0)])):
        done = _task(fd, _spec(fd, run, step, task_id, parents, code), cwd)
        out.append(done)
        if done.returncode:
            break
    return out


def test_tasks_started_one_by_one_record_a_run_that_reads_like_any_other(fd):
    fd.write(FLOW)
    run, key = _scheduler_run(fd, alpha=3)
    code = {"key": key, "file": "flow.py", "dir": str(fd.path), "module": "__main__", "cls": "EntryFlow"}
    results = _run_all(fd, run, code)
    assert [r.returncode for r in results] == [0, 0, 0], results[-1].stderr
    assert f"middle sees 30 in EntryFlow/{run}/middle/2" in results[1].stdout, "output still shows"
    with fd.client() as hw:
        r = hw.Run(f"EntryFlow/{run}")
        assert r.successful and r.finished, "the end step closes the run"
        assert r.data.y == 31
        middle = r["middle"].task
        assert middle.stdout.startswith(f"middle sees 30 in EntryFlow/{run}/middle/2")
        assert middle.successful and middle.finished_at is not None
    logs = fd.cli("logs", f"{run}/middle")
    assert "middle sees 30" in logs.stdout, logs
    dump = fd.cli("dump", f"{run}/end", "--include", "y")
    assert "31" in dump.stdout, dump
    beats = fd.query("SELECT heartbeat_at, host, pid FROM attempts WHERE flow = 'EntryFlow'"
                     " AND run_number = ? AND task_id = 2", (run,))
    assert beats and all(v is not None for v in beats[0]), "the attempt says where it ran, and beats"


def test_without_the_flow_folder_the_code_package_is_unpacked(fd, tmp_path_factory):
    fd.write(FLOW)
    run, key = _scheduler_run(fd, alpha=4)
    elsewhere = tmp_path_factory.mktemp("worker")
    code = {"key": key, "file": "flow.py", "dir": str(elsewhere / "nothing-here"),
            "module": "__main__", "cls": "EntryFlow"}
    results = _run_all(fd, run, code, cwd=elsewhere)
    assert [r.returncode for r in results] == [0, 0, 0], results[-1].stderr
    with fd.client() as hw:
        assert hw.Run(f"EntryFlow/{run}").data.y == 41


def test_a_failing_step_is_recorded_with_its_exception_and_fails_the_command(fd):
    fd.write(FLOW)
    run, key = _scheduler_run(fd, alpha=99)
    code = {"key": key, "file": "flow.py", "dir": str(fd.path), "module": "__main__", "cls": "EntryFlow"}
    results = _run_all(fd, run, code)
    assert [r.returncode for r in results] == [0, 1]
    assert "ValueError: alpha 99 is refused" in results[1].stderr
    with fd.client() as hw:
        task = hw.Task(f"EntryFlow/{run}/middle/2")
        assert not task.successful and task.finished
        assert "alpha 99 is refused" in str(task.exception)
        assert "ValueError: alpha 99 is refused" in task.stderr


@pytest.mark.parametrize("spec, message", [
    ("{not json", "the task spec is not valid"),
    (json.dumps({"flow": "EntryFlow"}), "the task spec is not valid"),
])
def test_a_bad_spec_is_one_clear_line(fd, spec, message):
    done = _task(fd, spec)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_spec_naming_a_missing_flow_class_says_so(fd):
    fd.write(FLOW)
    run, key = _scheduler_run(fd, alpha=1)
    code = {"key": key, "file": "flow.py", "dir": str(fd.path), "module": "__main__", "cls": "NoSuchFlow"}
    done = _task(fd, _spec(fd, run, "start", 1, [(0, "_parameters", 0)], code))
    assert done.returncode == 2
    assert "flow.py defines no flow class 'NoSuchFlow'" in done.stderr and "Traceback" not in done.stderr


def test_unknown_options_get_the_usage(fd):
    done = subprocess.run([sys.executable, "-m", "headwater.task", "--frobnicate", "1"],
                          capture_output=True, text=True, env=fd.env())
    assert done.returncode == 2
    assert "unknown option '--frobnicate'" in done.stderr and "usage: python -m headwater.task" in done.stderr
    assert shutil.which(sys.executable)
