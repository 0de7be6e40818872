"""resume: a new run that re-runs from the failed step (or STEP) and clones what succeeded.

Cloned tasks point at their origin (``task.origin_pathspec``) and print nothing new; every task
that runs sees ``current.origin_run_id``; parameters come from the origin run; the origin run is
left as it was. Checked on each graph shape: linear, static split, foreach, nested foreach and
a conditional loop.
"""

from __future__ import annotations

import platform
import shlex

import pytest

from .conftest import concurrently, outcome

LINEAR = """
import os

class LinearFlow(FlowSpec):
    alpha = Parameter("alpha", default=DEFAULT)

    @step
    def start(self):
        print("start ran in run", current.run_id, "origin", current.origin_run_id)
        self.a = self.alpha * 10
        self.next(self.middle)

    @step
    def middle(self):
        print("middle ran in run", current.run_id, "origin", current.origin_run_id)
        if os.environ.get("BREAK_MIDDLE"):
            raise RuntimeError("middle broke")
        self.b = self.a + 1
        self.next(self.end)

    @step
    def end(self):
        print("end ran in run", current.run_id, "origin", current.origin_run_id)
        self.origin_seen = current.origin_run_id

if __name__ == "__main__":
    LinearFlow()
"""

SPLIT = """
import os

class SplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.good, self.bad)

    @step
    def good(self):
        print("good ran in run", current.run_id)
        self.g = "good"
        self.next(self.join)

    @step
    def bad(self):
        print("bad ran in run", current.run_id)
        if not os.environ.get("FIXED"):
            raise ValueError("bad branch failed")
        self.b = "fixed"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.both = (inputs.good.g, inputs.bad.b)
        self.next(self.end)

    @step
    def end(self):
        print("end ran in run", current.run_id)

if __name__ == "__main__":
    SplitFlow()
"""

FOREACH = """
import os

class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print(f"work {self.input} ran in run {current.run_id}")
        if self.input == 3 and not os.environ.get("FIXED"):
            raise ValueError("split 3 failed")
        self.sq = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.sq for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("end ran in run", current.run_id)

if __name__ == "__main__":
    ForeachFlow()
"""

NESTED = """
import os

class NestedFlow(FlowSpec):
    @step
    def start(self):
        self.xs = ["a", "b"]
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.x = self.input
        self.ys = [1, 2]
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        print(f"inner {self.x}{self.input} ran in run {current.run_id}")
        if (self.x, self.input) == ("b", 2) and not os.environ.get("FIXED"):
            raise ValueError("b2 failed")
        self.v = f"{self.x}{self.input}"
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.vs = [i.v for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.all = [v for i in inputs for v in i.vs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    NestedFlow()
"""

LOOP = """
import os

class LoopFlow(FlowSpec):
    @step
    def start(self):
        self.i = 0
        self.next(self.body)

    @step
    def body(self):
        self.i += 1
        print(f"iteration {self.i} ran in run {current.run_id}")
        if self.i == 3 and not os.environ.get("FIXED"):
            raise ValueError("the third iteration failed")
        self.again = "yes" if self.i < 5 else "no"
        self.next({"yes": self.body, "no": self.end}, condition="again")

    @step
    def end(self):
        print("end ran in run", current.run_id)

if __name__ == "__main__":
    LoopFlow()
"""

# Split 0 succeeds at once, but a process it started keeps its output open for a while, so
# its success is recorded (up to 2 s after it exits) while the run is already stopping because
# split 1 failed. Split 1 fails only once split 0 has finished its work.
STOPPING = """
import os
import pathlib
import subprocess
import time

class StoppingFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print(f"work {self.input} ran in run {current.run_id}", flush=True)
        marker = pathlib.Path(f"split-0-done-in-run-{current.run_id}")
        if self.input == 0:
            subprocess.Popen(["sleep", "3"])
            marker.touch()
        elif not os.environ.get("FIXED"):
            deadline = time.time() + 60
            while not marker.exists() and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # split 0's process has exited by now
            raise ValueError("split 1 failed")
        self.sq = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.sq for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    StoppingFlow()
"""

CHAIN = """
import os

class ChainFlow(FlowSpec):
    @step
    def start(self):
        print("start printed this")
        self.next(self.middle)

    @step
    def middle(self):
        if os.environ.get("STAGE") == "1":
            raise RuntimeError("middle broke")
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("STAGE") == "2":
            raise RuntimeError("end broke")

if __name__ == "__main__":
    ChainFlow()
"""


def snapshot(d, flow, run):
    """Everything recorded about one run: its rows and its log files."""
    tables = {
        table: d.query(f"SELECT * FROM {table} WHERE flow = ? AND run_number = ? ORDER BY 3, 4",
                       (flow, run))
        for table in ("tasks", "attempts", "artifacts")
    }
    tables["runs"] = d.query("SELECT * FROM runs WHERE flow = ? AND run_number = ?", (flow, run))
    logs = d.home / "logs" / flow / str(run)
    tables["logs"] = sorted((str(p.relative_to(logs)), p.read_bytes())
                            for p in logs.rglob("*") if p.is_file())
    return tables


def printed_resume_command(done):
    (line,) = [line for line in done.stdout.splitlines() if line.strip().startswith("Resume:")]
    return line.split("Resume:", 1)[1].strip()


@pytest.fixture(scope="module")
def done(dirs):
    def linear():
        d = dirs("linear")
        d.write(LINEAR.replace("DEFAULT", "1"))
        failed = d.run("--alpha", "3", BREAK_MIDDLE="1")
        before = snapshot(d, "LinearFlow", 1)
        d.write(LINEAR.replace("DEFAULT", "7"))  # a different default would apply now
        latest = d.resume()  # run 2, from run 1
        from_step = d.resume("middle")  # run 3, from run 2 (which succeeded)
        command = printed_resume_command(failed)  # resume --origin-run-id 1
        argv = shlex.split(command)
        assert argv[:2] == ["python", "flow.py"], command
        exact = d.cli(*argv[2:])  # run 4
        after = snapshot(d, "LinearFlow", 1)
        return d, failed, latest, from_step, command, exact, before, after

    def simple(name, source, *run_args):
        def scenario():
            d = dirs(name)
            d.write(source)
            failed = d.run(*run_args)
            resumed = d.resume(*run_args, FIXED="1")
            return d, failed, resumed
        return scenario

    def chain():
        d = dirs("chain")
        d.write(CHAIN)
        return d, [d.run(STAGE="1"), d.resume(STAGE="2"), d.resume(STAGE="3"),
                   d.cli("logs", "3/start/1")]

    return concurrently({
        "linear": linear,
        # One worker, so the failing split or branch is the last to run, after the others
        # succeeded (a failure stops what is still running).
        "split": simple("split", SPLIT, "--max-workers", "1"),
        "foreach": simple("foreach", FOREACH, "--max-workers", "1"),
        "nested": simple("nested", NESTED, "--max-workers", "1"),
        "loop": simple("loop", LOOP),
        "stopping": simple("stopping", STOPPING),
        "chain": chain,
    })


def run_lines(output, run):
    """What tasks of run ``run`` printed on the console (``[run/step/task] text``)."""
    return [line for line in output.splitlines() if line.startswith(f"[{run}/")]


# -- linear: the latest run, from the failed step, parameters from the origin ----------------


def test_the_failed_run_prints_the_exact_resume_command(done):
    _, failed, _, _, command, exact, _, _ = outcome(done, "linear")
    assert failed.returncode != 0
    assert "Run LinearFlow/1 failed" in failed.stdout
    assert command == "python flow.py resume --origin-run-id 1"
    assert exact.returncode == 0, exact
    assert "Run LinearFlow/4 succeeded" in exact.stdout


def test_resume_resumes_the_latest_run_from_its_failed_step(done):
    d, _, latest, _, _, _, _, _ = outcome(done, "linear")
    assert latest.returncode == 0, latest
    assert "Run LinearFlow/2 succeeded" in latest.stdout
    assert "Cloned 1 task from run 1." in latest.stdout  # one: singular
    assert not any("/start/" in x for x in run_lines(latest.stdout, 2)), "start was cloned"
    assert any("middle ran in run 2 origin 1" in x for x in run_lines(latest.stdout, 2))
    assert any("end ran in run 2 origin 1" in x for x in run_lines(latest.stdout, 2))
    with d.client() as hw:
        run = hw.Run("LinearFlow/2")
        assert run.successful
        assert run.origin_pathspec == "LinearFlow/1"
        (start,) = d.tasks("LinearFlow/2", "start")
        assert start.origin_pathspec == "LinearFlow/1/start/1"
        # the clone carries the facts of the task that really ran, as Metaflow's clones do;
        # run 3 resumed run 2, so its start is a clone of a clone
        (again,) = d.tasks("LinearFlow/3", "start")
        for clone in (start, again):
            assert clone.metadata_dict["python_version"] == platform.python_version()
        (middle,) = d.tasks("LinearFlow/2", "middle")
        assert middle.origin_pathspec is None, "the failed step ran again"
        assert run.data.b == 31


def test_resume_of_a_step_that_does_not_exist_lists_the_steps(done):
    d = outcome(done, "linear")[0]
    before = d.files()
    wrong = d.resume("midle")
    assert wrong.returncode == 2, wrong
    assert "resume: the flow has no step 'midle'. Did you mean 'middle'? " \
           "Its steps are: start, middle, end." in wrong.stderr, wrong
    assert d.files() == before


def test_cloned_tasks_print_nothing_new(done):
    d, _, latest, _, _, _, _, _ = outcome(done, "linear")
    assert "start ran" not in latest.stdout
    with d.client():
        (start,) = d.tasks("LinearFlow/2", "start")
        # Its output is the origin's: printed in run 1, which had no origin.
        assert start.stdout == "start ran in run 1 origin None\n"


def test_parameters_come_from_the_origin_run(done):
    d, *_ = outcome(done, "linear")
    with d.client() as hw:
        for run in (1, 2, 3, 4):
            assert hw.Run(f"LinearFlow/{run}").parameters == {"alpha": 3}, run
        assert hw.Run("LinearFlow/2").data.alpha == 3
        assert hw.Run("LinearFlow/3").data.a == 30, "start re-ran in run 3 with alpha 3, not 7"


def test_every_task_that_runs_sees_the_origin_run_id(done):
    d, failed, latest, from_step, _, exact, _, _ = outcome(done, "linear")
    assert "origin None" in failed.stdout
    for output, run, origin in ((latest.stdout, 2, 1), (from_step.stdout, 3, 2), (exact.stdout, 4, 1)):
        lines = run_lines(output, run)
        assert lines, output
        assert all(line.endswith(f"origin {origin}") for line in lines), lines
    with d.client() as hw:
        assert hw.Run("LinearFlow/2").data.origin_seen == "1"


def test_resume_step_reruns_from_that_step_even_if_it_succeeded(done):
    d, _, _, from_step, _, _, _, _ = outcome(done, "linear")
    assert from_step.returncode == 0, from_step
    assert "Run LinearFlow/3 resuming run 2" in from_step.stdout
    printed = "\n".join(run_lines(from_step.stdout, 3))
    assert "start ran" not in printed
    assert "middle ran in run 3" in printed and "end ran in run 3" in printed
    with d.client() as hw:
        assert hw.Run("LinearFlow/3").origin_pathspec == "LinearFlow/2"
        (start,) = d.tasks("LinearFlow/3", "start")
        assert start.origin_pathspec is not None
        (middle,) = d.tasks("LinearFlow/3", "middle")
        assert middle.origin_pathspec is None


def test_origin_run_id_picks_the_run_to_resume(done):
    d, _, _, _, _, exact, _, _ = outcome(done, "linear")
    assert "Run LinearFlow/4 resuming run 1" in exact.stdout
    with d.client() as hw:
        assert hw.Run("LinearFlow/4").origin_pathspec == "LinearFlow/1"
        (start,) = d.tasks("LinearFlow/4", "start")
        assert start.origin_pathspec == "LinearFlow/1/start/1"


def test_resume_is_a_new_run_and_the_origin_is_unchanged(done):
    d, _, _, _, _, _, before, after = outcome(done, "linear")
    assert d.runs("LinearFlow") == [(1, "failed"), (2, "succeeded"), (3, "succeeded"),
                                    (4, "succeeded")]
    assert before == after
    with d.client() as hw:
        assert hw.Run("LinearFlow/1").origin_pathspec is None
        assert "end" not in hw.Run("LinearFlow/1")


# -- the other graph shapes ----------------------------------------------------------------------


def test_static_split_reruns_only_the_failed_branch(done):
    d, failed, resumed = outcome(done, "split")
    assert failed.returncode != 0 and "ValueError: bad branch failed" in failed.stdout
    assert resumed.returncode == 0, resumed
    printed = "\n".join(run_lines(resumed.stdout, 2))
    assert "good ran" not in printed
    assert "bad ran in run 2" in printed and "end ran in run 2" in printed
    with d.client() as hw:
        (good,) = d.tasks("SplitFlow/2", "good")
        assert good.origin_pathspec == f"SplitFlow/1/good/{good.id}"
        (bad,) = d.tasks("SplitFlow/2", "bad")
        assert bad.origin_pathspec is None
        assert hw.Run("SplitFlow/2").data.both == ("good", "fixed")


def test_foreach_reruns_only_the_failed_split_and_what_follows(done):
    d, failed, resumed = outcome(done, "foreach")
    assert failed.returncode != 0
    assert all(f"work {i} ran in run 1" in failed.stdout for i in range(4))
    assert resumed.returncode == 0, resumed
    printed = "\n".join(run_lines(resumed.stdout, 2))
    assert "work 3 ran in run 2" in printed
    assert not any(f"work {i} ran" in printed for i in range(3))
    assert "end ran in run 2" in printed
    with d.client() as hw:
        work = d.tasks("ForeachFlow/2", "work")
        assert [t.index for t in work] == [0, 1, 2, 3]
        origins = [t.origin_pathspec for t in work]
        assert all(o is not None and o.startswith("ForeachFlow/1/work/") for o in origins[:3])
        assert origins[3] is None
        (join,) = d.tasks("ForeachFlow/2", "join")
        assert join.origin_pathspec is None
        assert hw.Run("ForeachFlow/2").data.squares == [0, 1, 4, 9]


def test_nested_foreach_reruns_only_the_failed_inner_split(done):
    d, failed, resumed = outcome(done, "nested")
    assert failed.returncode != 0
    assert resumed.returncode == 0, resumed
    printed = "\n".join(run_lines(resumed.stdout, 2))
    assert "inner b2 ran in run 2" in printed
    assert not any(f"inner {v} ran" in printed for v in ("a1", "a2", "b1"))
    with d.client() as hw:
        for t in d.tasks("NestedFlow/2", "outer"):
            assert t.origin_pathspec is not None
        by_value = {t.data.v: t for t in d.tasks("NestedFlow/2", "inner")}
        assert sorted(by_value) == ["a1", "a2", "b1", "b2"]
        assert by_value["b2"].origin_pathspec is None
        assert hw.Run("NestedFlow/2").data.all == ["a1", "a2", "b1", "b2"]


def test_conditional_loop_replays_the_good_iterations_and_reruns_from_the_failed_one(done):
    d, failed, resumed = outcome(done, "loop")
    assert failed.returncode != 0
    assert "ValueError: the third iteration failed" in failed.stdout
    assert resumed.returncode == 0, resumed
    printed = "\n".join(run_lines(resumed.stdout, 2))
    assert "iteration 1 ran" not in printed and "iteration 2 ran" not in printed
    for i in (3, 4, 5):
        assert f"iteration {i} ran in run 2" in printed
    with d.client() as hw:
        body = d.tasks("LoopFlow/2", "body")
        assert [t.data.i for t in body] == [1, 2, 3, 4, 5]
        assert [t.origin_pathspec is not None for t in body] == [True, True, False, False, False]
        assert hw.Run("LoopFlow/2").data.i == 5


# -- bugs ----------------------------------------------------------------------------------------


def test_a_split_that_succeeded_while_the_run_was_stopping_is_recorded_as_succeeded(done):
    d, failed, _ = outcome(done, "stopping")
    assert failed.returncode != 0
    with d.client():
        first, second = d.tasks("StoppingFlow/1", "work")
        assert first.successful and first.data.sq == 0
        assert not second.successful


def test_resume_clones_a_split_that_succeeded_while_the_run_was_stopping(done):
    d, _, resumed = outcome(done, "stopping")
    assert resumed.returncode == 0, resumed
    assert "work 0 ran in run 2" not in resumed.stdout
    with d.client():
        first, _ = d.tasks("StoppingFlow/2", "work")
        assert first.origin_pathspec == f"StoppingFlow/1/work/{first.id}"


def test_logs_of_a_task_cloned_by_two_resumes_stay_readable(done):
    d, (first, second, third, logs) = outcome(done, "chain")
    assert first.returncode != 0 and second.returncode != 0, (first, second)
    assert third.returncode == 0, third
    with d.client():
        (start,) = d.tasks("ChainFlow/3", "start")
        assert start.origin_pathspec is not None
        assert start.stdout == "start printed this\n"
    assert "start printed this" in logs.output
