"""``current`` inside a running task, and outside one."""

from __future__ import annotations

import os

import pytest

CURRENT = """
import os
from headwater import retry

def snapshot():
    return {
        "flow_name": current.flow_name, "run_id": current.run_id,
        "step_name": current.step_name, "task_id": current.task_id,
        "retry_count": current.retry_count, "origin_run_id": current.origin_run_id,
        "pathspec": current.pathspec, "username": current.username,
        "namespace": current.namespace, "tags": list(current.tags),
        "parameter_names": sorted(current.parameter_names),
        "is_running_flow": current.is_running_flow,
    }

class CurrentFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    beta = Parameter("beta", default="b")

    @step
    def start(self):
        self.info = snapshot()
        self.tmp = current.tempdir
        self.tmp_was_dir = os.path.isdir(self.tmp)
        with open(os.path.join(self.tmp, "scratch.txt"), "w") as f:
            f.write("scratch")
        self.next(self.flaky)

    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        self.info = snapshot()
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails on purpose")
        self.next(self.end)

    @step
    def end(self):
        self.info = snapshot()
        self.tmp_end = current.tempdir

print("OUTSIDE", current.is_running_flow, current.pathspec, current.run_id)

if __name__ == "__main__":
    CurrentFlow()
"""


@pytest.fixture(scope="module")
def done(module_fd):
    module_fd.write(CURRENT)
    return module_fd.run("--tag", "first", "--tag", "second")


@pytest.fixture(scope="module")
def infos(module_fd, done):
    assert done.returncode == 0, done
    return {step: module_fd.value("CurrentFlow", 1, step, "info")
            for step in ("start", "flaky", "end")}


def test_identity_of_each_task(module_fd, infos):
    tasks = {t["step"]: t["id"] for t in module_fd.tasks("CurrentFlow", 1)}
    for step, info in infos.items():
        assert info["flow_name"] == "CurrentFlow"
        assert info["run_id"] == "1"
        assert info["step_name"] == step
        assert info["task_id"] == str(tasks[step])
        assert info["pathspec"] == f"CurrentFlow/1/{step}/{tasks[step]}"
        assert info["is_running_flow"] is True


def test_user_namespace_and_tags(infos):
    info = infos["start"]
    assert info["username"] == "tester"
    assert info["namespace"] == "user:tester"
    assert {"first", "second"} <= set(info["tags"])


def test_parameter_names(infos):
    assert infos["end"]["parameter_names"] == ["alpha", "beta"]


def test_retry_count_and_origin_run_id(module_fd, infos):
    assert infos["start"]["retry_count"] == 0
    assert infos["flaky"]["retry_count"] == 1, "the stored artifacts are the successful attempt's"
    assert infos["end"]["origin_run_id"] is None
    (flaky,) = module_fd.tasks("CurrentFlow", 1, "flaky")
    assert flaky["attempt"] == 1 and flaky["status"] == "succeeded"


def test_tempdir_exists_during_the_task_and_is_removed_after(module_fd, done):
    assert module_fd.value("CurrentFlow", 1, "start", "tmp_was_dir") is True
    start_tmp = module_fd.value("CurrentFlow", 1, "start", "tmp")
    end_tmp = module_fd.value("CurrentFlow", 1, "end", "tmp_end")
    assert start_tmp != end_tmp, "each task gets its own scratch directory"
    assert not os.path.exists(start_tmp)
    assert not os.path.exists(end_tmp)


def test_outside_a_task_current_is_empty(done):
    assert "OUTSIDE False None None" in done.stdout
