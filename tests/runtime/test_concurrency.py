"""Runs and tasks side by side: distinct run ids, many parallel tasks, no shared state."""

from __future__ import annotations

import pytest

SIMPLE = """
import os, time

# Both processes wait here until the test says go, so they record their runs together.
while not os.path.exists("go"):
    time.sleep(0.005)

class TwinFlow(FlowSpec):
    @step
    def start(self):
        self.me = current.run_id
        self.next(self.end)

    @step
    def end(self):
        print("finished run", current.run_id)

if __name__ == "__main__":
    TwinFlow()
"""

WIDE = """
class WideFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(50))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.square for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    WideFlow()
"""

ISOLATION = """
import random
import numpy as np

SHARED = []

class IsolatedFlow(FlowSpec):
    @step
    def start(self):
        SHARED.append("start")
        self.next(self.first, self.second)

    @step
    def first(self):
        SHARED.append("first")
        self.seen = list(SHARED)
        self.next(self.join)

    @step
    def second(self):
        SHARED.append("second")
        self.seen = list(SHARED)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen_by_branch = {i.seen[-1]: i.seen for i in inputs}
        self.seen_in_join = list(SHARED)
        self.next(self.fan)

    @step
    def fan(self):
        self.items = list(range(6))
        self.next(self.draw, foreach="items")

    @step
    def draw(self):
        self.np_value = float(np.random.rand())
        self.py_value = random.random()
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.np_values = [i.np_value for i in inputs]
        self.py_values = [i.py_value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    IsolatedFlow()
"""


def test_two_runs_started_together_get_different_ids_and_both_succeed(fd):
    fd.write(SIMPLE)
    procs = [fd.popen("run") for _ in range(2)]
    (fd.path / "go").touch()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, out + err
    assert fd.runs("TwinFlow") == [(1, "succeeded"), (2, "succeeded")]
    ids = sorted(int(r[0]) for r in fd.query(
        "SELECT run_number FROM runs WHERE flow = 'TwinFlow'"))
    assert ids == [1, 2]
    reported = sorted(
        int(line.split("finished run")[1]) for out, _ in outs
        for line in out.splitlines() if "finished run" in line)
    assert reported == [1, 2], "each process ran its own run"
    for run in (1, 2):
        assert fd.value("TwinFlow", run, "end", "me") == str(run)


@pytest.fixture(scope="module")
def wide(module_fd):
    module_fd.write(WIDE, "wide.py")
    return module_fd.run("--max-workers", "8", flow="wide.py")


def test_fifty_parallel_tasks_all_succeed(module_fd, wide):
    assert wide.returncode == 0, wide
    work = module_fd.tasks("WideFlow", 1, "work")
    assert len(work) == 50
    assert all(t["status"] == "succeeded" and t["attempt"] == 0 for t in work)
    assert module_fd.value("WideFlow", 1, "join", "squares") == [i * i for i in range(50)]
    assert "work 50" in wide.stdout


def test_max_workers_bounds_the_running_attempts(module_fd, wide):
    rows = module_fd.query(
        "SELECT started_at, finished_at FROM attempts WHERE flow = 'WideFlow' AND task_id > 0")
    events = sorted([(s, 1) for s, _ in rows] + [(f, -1) for _, f in rows])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert 1 <= peak <= 8


@pytest.fixture(scope="module")
def isolated(module_fd):
    module_fd.write(ISOLATION, "isolated.py")
    # One worker: the branches run one after the other, the easiest case for a leak.
    done = module_fd.run("--max-workers", "1", flow="isolated.py")
    assert done.returncode == 0, done
    return module_fd


def test_a_module_global_changed_in_one_task_is_not_seen_by_another(isolated):
    seen = isolated.value("IsolatedFlow", 1, "join", "seen_by_branch")
    assert seen == {"first": ["first"], "second": ["second"]}
    assert isolated.value("IsolatedFlow", 1, "join", "seen_in_join") == []


def test_random_numbers_differ_across_foreach_tasks(isolated):
    np_values = isolated.value("IsolatedFlow", 1, "gather", "np_values")
    py_values = isolated.value("IsolatedFlow", 1, "gather", "py_values")
    assert len(set(np_values)) == 6, np_values
    assert len(set(py_values)) == 6, py_values
