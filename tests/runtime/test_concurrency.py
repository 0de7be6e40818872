"""Runs and tasks side by side: distinct run ids, many parallel tasks, no shared state."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

SIMPLE = """
import pathlib
import time

import headwater.metadata.sqlite as _sqlite

# Make both processes open the run database at the same instant (the file start_at says when),
# so they record their runs together instead of one after the other.
_original_init = _sqlite.SQLiteMetadata.__init__

def _aligned_init(self, root, *, readonly=False):
    if not readonly:
        start = float(pathlib.Path("start_at").read_text())
        while time.time() < start:
            pass
    _original_init(self, root, readonly=readonly)

_sqlite.SQLiteMetadata.__init__ = _aligned_init

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


def start_together(fd, count, delay=0.8):
    (fd.path / "start_at").write_text(repr(time.time() + delay))
    procs = [fd.popen("run") for _ in range(count)]
    return [(p, *p.communicate(timeout=120)) for p in procs]


def test_two_runs_started_together_get_different_ids_and_both_succeed(fd):
    fd.write(SIMPLE)
    (fd.path / "start_at").write_text("0")
    first = fd.run()  # the datastore exists already: see the next test for a new one
    assert first.returncode == 0, first
    done = start_together(fd, 2)
    for p, out, err in done:
        assert p.returncode == 0, out + err
    assert fd.runs("TwinFlow") == [(1, "succeeded"), (2, "succeeded"), (3, "succeeded")]
    reported = sorted(
        int(line.split("finished run")[1]) for _, out, _ in done
        for line in out.splitlines() if "finished run" in line)
    assert reported == [2, 3], "each process ran its own run"
    for run in (2, 3):
        assert fd.value("TwinFlow", run, "end", "me") == str(run)


OPEN_AND_RECORD = """
import sys
from pathlib import Path

from headwater.metadata import SQLiteMetadata

try:
    md = SQLiteMetadata(Path(sys.argv[1]))
    print("run", md.new_run("TwinFlow", user="tester", tags=[], system_tags=[]))
except Exception as exc:
    print("error:", exc)
"""


def test_opening_a_datastore_that_another_process_is_creating_waits(tmp_path):
    # The state of the race, made certain: another process holds the write lock of the brand
    # new database (as Headwater does while it creates the tables), and a run starts.
    import sqlite3

    db = sqlite3.connect(tmp_path / "metadata.db", isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    opener = subprocess.Popen([sys.executable, "-c", OPEN_AND_RECORD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the other process finishes its work well within busy_timeout
    finally:
        db.execute("COMMIT")
        db.close()
    out = opener.communicate(timeout=60)[0].strip()
    assert out == "run 1"


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
