"""What a user reads back with the client after running a flow from the command line."""

from __future__ import annotations

import pytest

FLOW = """
import sys

class ReadFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)
    fail = Parameter("fail", default=False)

    @step
    def start(self):
        self.items = ["a", "b", "c"]
        print("starting with", self.alpha)
        self.next(self.body, foreach="items")

    @step
    def body(self):
        print("working on", self.input)
        print("warning for", self.input, file=sys.stderr)
        if self.fail and self.input == "b":
            raise KeyError("no b allowed")
        self.result = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = [i.result for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.final = "+".join(self.results)

if __name__ == "__main__":
    ReadFlow()
"""


@pytest.fixture(scope="module")
def read_dir(module_fd):
    module_fd.write(FLOW)
    ok = module_fd.run("--alpha", "0.25", "--tag", "good")
    assert ok.returncode == 0, ok
    bad = module_fd.run("--fail", "true", "--tag", "bad")
    assert bad.returncode != 0, bad
    return module_fd


def test_flow_latest_runs(read_dir):
    with read_dir.client() as hw:
        flow = hw.Flow("ReadFlow")
        assert flow.latest_run.id == "2"
        assert flow.latest_successful_run.id == "1"
        assert sorted(r.id for r in flow.runs()) == ["1", "2"]


def test_run_status_and_data(read_dir):
    with read_dir.client() as hw:
        run = hw.Run("ReadFlow/1")
        assert run.successful and run.finished
        assert run.data.final == "aa+bb+cc"
        assert run.data.alpha == 0.25
        assert {"good", "user:tester"} <= set(run.tags)
        assert "good" in run.user_tags and "user:tester" in run.system_tags
        failed = hw.Run("ReadFlow/2")
        assert not failed.successful and not failed.finished  # Metaflow's meaning
        assert failed.status == "failed"
        assert "bad" in failed.tags


def test_steps_and_tasks(read_dir):
    with read_dir.client() as hw:
        run = hw.Run("ReadFlow/1")
        assert {s.id for s in run} == {"start", "body", "join", "end"}
        tasks = sorted(run["body"].tasks(), key=lambda t: int(t.id))
        assert len(tasks) == 3
        assert [t.data.result for t in tasks] == ["aa", "bb", "cc"]
        assert all(t.successful for t in tasks)
        assert run["join"].task.data.results == ["aa", "bb", "cc"]


def test_task_stdout_and_stderr(read_dir):
    with read_dir.client() as hw:
        tasks = sorted(hw.Run("ReadFlow/1")["body"].tasks(), key=lambda t: int(t.id))
        for task, item in zip(tasks, "abc"):
            assert task.stdout == f"working on {item}\n"
            assert task.stderr == f"warning for {item}\n"
        assert hw.Run("ReadFlow/1")["start"].task.stdout == "starting with 0.25\n"


def test_failed_task_exception_by_pathspec(read_dir):
    with read_dir.client() as hw:
        run = hw.Run("ReadFlow/2")
        failed = [t for t in run["body"].tasks() if not t.successful]
        raised = [t for t in failed if t.exception is not None]
        assert len(raised) == 1
        for other in failed:
            if other is not raised[0]:  # a sibling still running was stopped: it says why
                assert f"2/body/{raised[0].id}" in (other.exit_reason or "")
        task = hw.Task(raised[0].pathspec)
        assert task.exception is not None
        assert "KeyError" in task.exception.type
        assert "no b allowed" in task.exception.message
        assert 'raise KeyError("no b allowed")' in task.exception.traceback
        assert "warning for b" in task.stderr
        assert "join" not in run
