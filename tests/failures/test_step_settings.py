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
