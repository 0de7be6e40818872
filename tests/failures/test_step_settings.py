"""@environment and @resources, and ``run --max-cpu`` holding tasks back to fit the CPUs."""

from __future__ import annotations

import pytest

from .conftest import concurrently, outcome

ENVIRONMENT = """
import os
from headwater import environment, resources

class EnvFlow(FlowSpec):
    @environment(vars={"GREETING": "hello from the decorator", "ANSWER": 42})
    @resources(cpu=1, memory=512)
    @step
    def start(self):
        self.greeting = os.environ.get("GREETING")
        self.answer = os.environ.get("ANSWER")
        self.next(self.end)

    @step
    def end(self):
        self.greeting_in_end = os.environ.get("GREETING")

if __name__ == "__main__":
    EnvFlow()
"""

# Three branches that each need 2 CPUs; the run may use 2: one branch at a time.
CPUS = """
import time
from headwater import resources

class CpuFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @resources(cpu=2)
    @step
    def a(self):
        self.began = time.time()
        time.sleep(0.3)
        self.ended = time.time()
        self.next(self.join)

    @resources(cpu=2)
    @step
    def b(self):
        self.began = time.time()
        time.sleep(0.3)
        self.ended = time.time()
        self.next(self.join)

    @resources(cpu=2)
    @step
    def c(self):
        self.began = time.time()
        time.sleep(0.3)
        self.ended = time.time()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.intervals = sorted((i.began, i.ended) for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    CpuFlow()
"""


@pytest.fixture(scope="module")
def done(dirs):
    def env():
        d = dirs("env")
        d.write(ENVIRONMENT)
        return d, d.run()

    def cpus():
        d = dirs("cpus")
        d.write(CPUS)
        return d, d.run("--max-cpu", "2")

    return concurrently({"env": env, "cpus": cpus})


def test_environment_variables_are_visible_inside_the_step(done):
    d, run = outcome(done, "env")
    assert run.returncode == 0, run
    with d.client() as hw:
        (start,) = d.tasks("EnvFlow/1", "start")
        assert start.data.greeting == "hello from the decorator"
        assert start.data.answer == "42"
        assert hw.Run("EnvFlow/1").data.greeting_in_end is None, "only the decorated step has them"


def test_resources_are_accepted(done):
    _, run = outcome(done, "env")
    assert run.returncode == 0, run
    assert "Run EnvFlow/1 succeeded" in run.stdout


def test_max_cpu_runs_steps_that_need_all_the_cpus_one_at_a_time(done):
    d, run = outcome(done, "cpus")
    assert run.returncode == 0, run
    with d.client() as hw:
        recorded = []
        for step in ("a", "b", "c"):
            (task,) = d.tasks("CpuFlow/1", step)
            recorded.append((task.started_at.timestamp(), task.finished_at.timestamp()))
        own = hw.Run("CpuFlow/1").data.intervals
    for intervals in (sorted(recorded), own):
        for (_, end), (begin, _) in zip(intervals, intervals[1:]):
            assert end <= begin, f"two 2-CPU tasks ran at once with --max-cpu 2: {intervals}"


# A team's own decorators, written in the flow file: the runtime asks every decorator the same
# hook methods, so these get a time limit, retries and an executor without being built in.
HOOKS = """
import time
from headwater.decorators import StepDecorator

class deadline(StepDecorator):
    name = "deadline"
    defaults = {"seconds": 1}

    def runtime_timeout(self):
        return float(self.attributes["seconds"])

class twice(StepDecorator):
    name = "twice"

    def runtime_retry_count(self):
        return 1

    def runtime_retry_delay(self):
        return 0.0

class HookFlow(FlowSpec):
    @twice
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("the first attempt fails")
        self.next(self.slow)

    @deadline(seconds=1)
    @step
    def slow(self):
        time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    HookFlow()
"""

ELSEWHERE = """
from headwater.decorators import StepDecorator

class on_cluster(StepDecorator):
    name = "on_cluster"

    def runtime_executor(self):
        return "%s"

class ClusterFlow(FlowSpec):
    @on_cluster
    @step
    def start(self):
        import os, sys
        print("start ran in", os.path.basename(sys.argv[0]))
        self.next(self.end)

    @step
    def end(self):
        import os, sys
        print("end ran in", os.path.basename(sys.argv[0]))

if __name__ == "__main__":
    ClusterFlow()
"""


@pytest.fixture(scope="module")
def hooked(dirs):
    def hooks():
        d = dirs("hooks")
        d.write(HOOKS)
        return d, d.run()

    return concurrently({"hooks": hooks})


def test_a_decorator_of_the_flows_own_gets_retries_through_the_hooks(hooked):
    d, run = outcome(hooked, "hooks")
    with d.client():
        (start,) = d.tasks("HookFlow/1", "start")
        assert start.attempts == [0, 1] and start.successful, run


def test_a_decorator_of_the_flows_own_sets_a_time_limit_through_the_hooks(hooked):
    d, run = outcome(hooked, "hooks")
    assert run.returncode == 1, run
    assert "exceeded its @deadline of 1 s" in run.stdout + run.stderr
    with d.client() as hw:
        (slow,) = d.tasks("HookFlow/1", "slow")
        assert not slow.successful
        assert "exceeded its @deadline of 1 s" in hw.Task(slow.pathspec).exit_reason


def test_a_step_that_needs_an_executor_this_installation_lacks_is_refused_before_anything_runs(dirs):
    d = dirs("elsewhere-warp")
    d.write(ELSEWHERE % "warp")
    run = d.run()
    assert run.returncode != 0
    assert "@on_cluster needs the 'warp' executor, which this installation of Headwater does not have" \
        in run.stderr and "Traceback" not in run.stderr, run
    assert d.runs("ClusterFlow") == [], "nothing was recorded"


@pytest.mark.not_on_ray
def test_a_step_that_needs_another_executor_runs_on_it_and_the_others_on_the_runs_own(dirs):
    d = dirs("elsewhere-subprocess")
    d.write(ELSEWHERE % "subprocess")
    run = d.run()
    assert run.returncode == 0, run
    with d.client() as hw:
        (start,) = d.tasks("ClusterFlow/1", "start")
        (end,) = d.tasks("ClusterFlow/1", "end")
        assert hw.Task(start.pathspec).stdout == "start ran in task.py\n", "a fresh interpreter"
        if d.executor == "fork":
            assert hw.Task(end.pathspec).stdout == "end ran in flow.py\n", "forked from the flow's own"
