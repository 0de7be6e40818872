"""Crashes lose nothing: a killed task is a recorded failed attempt (and retried if allowed), a
killed scheduler leaves no worker behind and a run that ``resume`` finishes, and runs started
at the same time never mix up each other's records."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from headwater.client import ObjectNotFound

from .conftest import concurrently, kill_quietly, outcome, wait_for

KILLED = """
import os
import signal

class KilledFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.doomed)

    @step
    def doomed(self):
        print("first words", flush=True)
        print("last words, attempt", current.retry_count, flush=True)
        if current.retry_count == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        self.survived = True
        self.next(self.end)

    @step
    def end(self):
        print("end ran")

if __name__ == "__main__":
    KilledFlow()
"""

SLEEPY = """
import os
import time

class SleepyFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.nap, foreach="items")

    @step
    def nap(self):
        if not os.environ.get("NO_NAP"):
            import subprocess
            subprocess.Popen(["sleep", "300"])  # a process of the step's own
        print("napping", self.input, flush=True)
        if not os.environ.get("NO_NAP"):
            time.sleep(120)
        self.out = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [i.out for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("outs", self.outs)

if __name__ == "__main__":
    SleepyFlow()
"""

CONCURRENT = """
import time

class ManyFlow(FlowSpec):
    n = Parameter("n", default=1)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        time.sleep(0.1)
        self.sq = self.input * self.input
        self.seen_run = current.run_id
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.sq for i in inputs]
        self.runs_seen = sorted({i.seen_run for i in inputs})
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.squares)

if __name__ == "__main__":
    ManyFlow()
"""

SIZES = (3, 4, 5, 6)


def alive(processes):
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def stored_naps(d) -> int:
    """How many nap tasks of SleepyFlow/1 have their output stored, as a reader sees it."""
    with d.client():
        try:
            tasks = d.tasks("SleepyFlow/1", "nap")
        except ObjectNotFound:
            return 0
        return sum("napping" in t.stdout for t in tasks)


def kill_the_scheduler(d):
    """Start a run, wait for its three tasks to nap, SIGKILL the scheduler process."""
    d.write(SLEEPY)
    console = d.path / "console.txt"
    started = time.time() - 1
    with open(console, "w") as out:
        proc = subprocess.Popen(d.command([sys.executable, "flow.py", "run"]), cwd=d.path, env=d.env(),
                                stdout=out, stderr=subprocess.STDOUT)
    descendants, names = [], []
    try:
        wait_for(lambda: console.read_text().count("napping") == 3, 60, "three tasks to nap")
        # On S3 a log reaches its object up to a second after the console shows it (and a
        # SIGKILLed scheduler loses that second, as documented): kill once the output is stored.
        wait_for(lambda: stored_naps(d) == 3, 30, "the three naps' output to be stored")
        descendants = psutil.Process(proc.pid).children(recursive=True)
        if d.mode is not None and d.mode.name == "ray":  # the steps run in the cluster's workers
            descendants += [p for p in psutil.process_iter(["cmdline", "create_time", "status"])
                            if p.info["cmdline"] == ["sleep", "300"] and p.info["create_time"] >= started
                            and p.info["status"] != psutil.STATUS_ZOMBIE]
        names = [p.name() for p in descendants]
        kill_quietly(proc.pid)
        proc.wait(timeout=30)
        try:
            wait_for(lambda: not alive(descendants), 10, "the workers to go away")
            left = []
        except AssertionError:
            left = [(p.pid, p.name()) for p in alive(descendants)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in alive(descendants):
            p.kill()
    status_before_resume = d.runs("SleepyFlow")
    resumed = d.resume(NO_NAP="1")
    return d, (descendants, names), left, status_before_resume, resumed, console.read_text()


def run_many_at_once(d):
    d.write(CONCURRENT)
    first = d.run("--n", "2")  # the datastore exists before the others start
    procs = [subprocess.Popen(d.command([sys.executable, "flow.py", "run", "--n", str(n)]), cwd=d.path,
                              env=d.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for n in SIZES]
    outs = []
    for n, p in zip(SIZES, procs):
        out, err = p.communicate(timeout=120)
        outs.append((n, p.returncode, out, err))
    return d, first, outs


@pytest.fixture(scope="module")
def done(dirs):
    def killed(retry):
        def scenario():
            d = dirs(f"killed_{retry}")
            d.write(KILLED)
            extra = ("--with", "retry:times=1,minutes_between_retries=0") if retry else ()
            return d, d.cli(*extra, "run")
        return scenario

    return concurrently({
        "killed_task": killed(False),
        "killed_task_retried": killed(True),
        "killed_scheduler": lambda: kill_the_scheduler(dirs("scheduler")),
        "concurrent": lambda: run_many_at_once(dirs("concurrent")),
    })


# -- a task killed by a signal -------------------------------------------------------------------


def test_a_task_killed_by_sigkill_is_a_failed_attempt_naming_the_signal(done):
    d, run = outcome(done, "killed_task")
    assert run.returncode != 0
    assert "Run KilledFlow/1 failed" in run.stdout
    assert "SIGKILL" in run.stdout
    assert "end ran" not in run.stdout
    with d.client():
        (task,) = d.tasks("KilledFlow/1", "doomed")
        assert task.finished and not task.successful
        assert "SIGKILL" in task.exit_reason
        assert task.stdout == "first words\nlast words, attempt 0\n"


def test_a_task_killed_by_sigkill_is_retried_when_retry_allows(done):
    d, run = outcome(done, "killed_task_retried")
    assert run.returncode == 0, run
    assert "end ran" in run.stdout
    with d.client() as hw:
        (task,) = d.tasks("KilledFlow/1", "doomed")
        assert task.attempts == [0, 1]
        assert task.data.survived is True
        first = hw.Task(task.pathspec, attempt=0)
        assert not first.successful
        assert "SIGKILL" in first.exit_reason
        assert first.stdout == "first words\nlast words, attempt 0\n"
        assert hw.Task(task.pathspec, attempt=1).stdout == "first words\nlast words, attempt 1\n"


# -- the scheduler killed mid-run ----------------------------------------------------------------


def test_a_killed_scheduler_leaves_no_worker_running(done):
    d, (descendants, names), left, _, _, console = outcome(done, "killed_scheduler")
    template = 1 if d.executor == "fork" else 0  # subprocess tasks have none
    local = 0 if d.mode is not None and d.mode.name == "ray" else 6 + template  # the steps' processes
    assert len(descendants) >= local and names.count("sleep") == 3, \
        f"three tasks, the sleep each started (and the fork template) were running: {descendants}"
    assert left == [], f"processes still running after the scheduler was killed: {left}"
    assert "napping 1" in console


def test_a_killed_schedulers_run_is_visible_as_not_finished(done, monkeypatch):
    d, _, _, before, _, _ = outcome(done, "killed_scheduler")
    assert before == [(1, "running")], "the record stays as the scheduler left it"
    with d.client() as hw:
        run = hw.Run("SleepyFlow/1")
        assert not run.finished
        assert not run.successful
        assert run.status in ("running", "abandoned")
        # The client calls a running run abandoned once its heartbeat is older than
        # ABANDONED_AFTER (60 s); shorten that here rather than wait a minute.
        monkeypatch.setattr("headwater.metadata.vocabulary.ABANDONED_AFTER", 0.0)
        assert hw.Run("SleepyFlow/1").status == "abandoned"
        assert all(t.status == "abandoned" for t in d.tasks("SleepyFlow/1", "nap"))
        naps = sorted(hw.Task(t.pathspec).stdout for t in d.tasks("SleepyFlow/1", "nap"))
        assert naps == ["napping 1\n", "napping 2\n", "napping 3\n"], "their output is kept"


def test_resume_finishes_a_run_whose_scheduler_was_killed(done):
    d, _, _, _, resumed, _ = outcome(done, "killed_scheduler")
    assert resumed.returncode == 0, resumed
    assert "Run SleepyFlow/2 succeeded" in resumed.stdout
    with d.client() as hw:
        run = hw.Run("SleepyFlow/2")
        assert run.successful
        assert run.data.outs == [10, 20, 30]
        assert run.origin_pathspec == "SleepyFlow/1"
        (start,) = d.tasks("SleepyFlow/2", "start")
        assert start.origin_pathspec == "SleepyFlow/1/start/1"
        assert not hw.Run("SleepyFlow/1").finished, "the origin run is left as it was"


# -- runs side by side ---------------------------------------------------------------------------


def test_concurrent_runs_of_one_flow_do_not_corrupt_each_other(done):
    d, first, outs = outcome(done, "concurrent")
    assert first.returncode == 0, first
    for n, code, out, err in outs:
        assert code == 0, f"run with --n {n} failed:\n{out}{err}"
    ids = {}
    for n, _, out, _ in outs:
        found = [line for line in out.splitlines() if "Run ManyFlow/" in line and "succeeded" in line]
        assert found, out
        ids[n] = int(found[0].split("ManyFlow/")[1].split()[0])
    assert sorted(ids.values()) == [2, 3, 4, 5], "each run got its own id"
    assert d.runs("ManyFlow") == [(i, "succeeded") for i in range(1, 6)]
    with d.client() as hw:
        for n, run_id in ids.items():
            run = hw.Run(f"ManyFlow/{run_id}")
            assert run.parameters["n"] == n
            assert run.data.squares == [i * i for i in range(n)]
            assert run.data.total == sum(i * i for i in range(n))
            assert run.data.runs_seen == [str(run_id)]
            assert len(d.tasks(f"ManyFlow/{run_id}", "square")) == n
