"""``@parallel``: a gang of nodes that start together, know their place, fail and retry as one,
and meet in a join that gets one input per node (run in every mode of the suite)."""

from __future__ import annotations

import pytest

GANG = """
import os
import time
from headwater import parallel

class GangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=3)

    @parallel
    @step
    def train(self):
        from headwater import current
        p = current.parallel
        self.node = (p.node_index, p.num_nodes, p.main_ip, p.control_task_id,
                     os.environ["MF_PARALLEL_NODE_INDEX"], os.environ["MF_PARALLEL_NUM_NODES"])
        assert self.input == self.index == p.node_index, "as in Metaflow, a gang is a foreach over its nodes"
        self.started = time.time()
        print("node", p.node_index, "ready")
        if p.node_index != 0:
            return  # as in Metaflow, only the control node must call self.next()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.nodes = [i.node for i in inputs]
        self.spread = max(i.started for i in inputs) - min(i.started for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    GangFlow()
"""

FLAKY = """
import os
from headwater import parallel, retry

class FlakyGangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=3)

    @retry(times=1)
    @parallel
    @step
    def train(self):
        from headwater import current
        p = current.parallel
        print("node", p.node_index, "attempt", current.retry_count)
        if p.node_index == 1 and current.retry_count == 0:
            raise ValueError("node 1 lost its GPU")
        self.node = p.node_index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.nodes = sorted(i.node for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    FlakyGangFlow()
"""


def control_id_of(run) -> int:
    return min(int(t.id) for t in run["train"])


@pytest.fixture(scope="module")
def gang(module_fd):
    module_fd.write(GANG, "gang.py")
    return module_fd.run(flow="gang.py")


def test_each_node_knows_its_place_and_the_join_gets_every_node(module_fd, gang):
    assert gang.returncode == 0, gang
    with module_fd.client() as hw:
        run = hw.Run(f"GangFlow/{gang.run_id('GangFlow')}")
        nodes = run.data.nodes
        control = min(int(t.id) for t in run["train"])
        assert [n[:2] for n in nodes] == [(0, 3), (1, 3), (2, 3)], "in node order"
        assert {n[2] for n in nodes} == {"127.0.0.1"}
        assert {n[3] for n in nodes} == {str(control)}, "node 0's task is the control task"
        assert [n[4:] for n in nodes] == [("0", "3"), ("1", "3"), ("2", "3")]
        assert run.data.spread < 30, "the nodes ran at the same time"
        assert len(list(run["train"])) == 3
        (control,) = run["train"].control_tasks()
        assert int(control.id) == control_id_of(run)
        assert list(run["join"].control_tasks()) == [], "only a @parallel step has control tasks"


def test_a_failed_node_stops_the_gang_and_retry_runs_every_node_again(module_fd):
    module_fd.write(FLAKY, "flaky.py")
    done = module_fd.run(flow="flaky.py")
    assert done.returncode == 0, done
    assert "node 1 of 3 failed (ValueError: node 1 lost its GPU)" in done.stdout
    assert "running the whole gang again" in done.stdout
    with module_fd.client() as hw:
        run = hw.Run(f"FlakyGangFlow/{done.run_id('FlakyGangFlow')}")
        assert run.data.nodes == [0, 1, 2]
        for task in run["train"]:
            assert task.attempts == [0, 1], "every node ran again, not only the one that failed"
            assert task.successful


def test_without_retry_a_failed_node_fails_the_step(module_fd):
    module_fd.write(FLAKY.replace("@retry(times=1)", ""), "noretry.py")
    done = module_fd.run(flow="noretry.py")
    assert done.returncode != 0
    assert "node 1 lost its GPU" in done.stdout
    assert "whole gang" not in done.stdout


def test_num_parallel_must_be_a_positive_whole_number(fd):
    fd.write(GANG.replace("num_parallel=3", "num_parallel=int(os.environ.get('NODES', '3'))"))
    done = fd.run(NODES="0")
    assert done.returncode != 0
    assert "num_parallel must be a whole number of at least 1" in done.stdout + done.stderr


RESUMABLE = """
import os
from headwater import parallel

class ResumeGangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=3)

    @parallel
    @step
    def train(self):
        print("train node", current.parallel.node_index, "ran in run", current.run_id)
        if os.environ.get("BREAK_NODE") == str(current.parallel.node_index):
            raise ValueError("broken node")
        self.node = current.parallel.node_index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.nodes = sorted(i.node for i in inputs)
        if os.environ.get("BREAK_JOIN"):
            raise ValueError("join broke")
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    ResumeGangFlow()
"""


def test_resume_reruns_every_node_of_a_gang_that_failed_and_clones_one_that_finished(fd):
    fd.write(RESUMABLE)
    assert fd.run(BREAK_NODE="1").returncode != 0
    resumed = fd.resume()
    assert resumed.returncode == 0, resumed
    assert all(f"train node {i} ran in run 2" in resumed.stdout for i in range(3)), \
        "the nodes that had succeeded run again with the one that failed"
    assert fd.run(BREAK_JOIN="1").returncode != 0
    again = fd.resume()
    assert again.returncode == 0, again
    assert "train node" not in again.stdout and "Cloned 4 tasks from run 3" in again.stdout
    with fd.client() as hw:
        assert hw.Run("ResumeGangFlow/4").data.nodes == [0, 1, 2]
