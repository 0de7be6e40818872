"""@timeout: an attempt that runs too long is stopped, with an error naming the step and limit.

It combines with @retry (the timed-out attempt is retried) and @catch (the flow goes on). A
step stuck where the alarm cannot reach it is still killed by the scheduler and recorded.
"""

from __future__ import annotations

import psutil
import pytest

from .conftest import concurrently, outcome

SLOW = """
import os
import signal
import time
from headwater import catch, retry, timeout

class SlowFlow(FlowSpec):
    mode = Parameter("mode", default="sleep")

    @step
    def start(self):
        self.next(self.slow)

    DECORATORS
    @timeout(seconds=1)
    @step
    def slow(self):
        print("slow starts in pid", os.getpid(), "attempt", current.retry_count, flush=True)
        if self.mode == "blocked":
            # The alarm can no longer interrupt this thread: only the scheduler can stop it.
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
        if self.mode != "quick-retry" or current.retry_count == 0:
            time.sleep(30)
        self.finished = True
        self.next(self.end)

    @step
    def end(self):
        print("end ran")
        self.err_seen = None
        if hasattr(self, "err") and self.err is not None:
            self.err_seen = (self.err.type, self.err.message)

if __name__ == "__main__":
    SlowFlow()
"""

CASES = {
    "alarm": ("", "sleep"),
    "retried": ("@retry(times=1, minutes_between_retries=0)", "quick-retry"),
    "caught": ('@catch(var="err")', "sleep"),
    "backstop": ("", "blocked"),
    "backstop_caught": ('@catch(var="err")', "blocked"),
}


@pytest.fixture(scope="module")
def done(dirs):
    def scenario(name, decorators, mode):
        def run():
            d = dirs(name)
            d.write(SLOW.replace("DECORATORS", decorators or "# no other decorator"))
            return d, d.run("--mode", mode)
        return run

    return concurrently({name: scenario(name, *case) for name, case in CASES.items()})


def slow_task(d):
    (task,) = d.tasks("SlowFlow/1", "slow")
    return task


def names_step_and_limit(text):
    return "'slow'" in text and "@timeout of 1" in text


def test_the_attempt_is_stopped_with_an_error_naming_the_step_and_the_limit(done):
    d, run = outcome(done, "alarm")
    assert run.returncode != 0
    assert "Run SlowFlow/1 failed" in run.stdout
    assert "end ran" not in run.stdout
    assert d.runs("SlowFlow") == [(1, "failed")]
    with d.client():
        task = slow_task(d)
        assert not task.successful
        exc = task.exception
        assert exc is not None
        assert "Timeout" in exc.type
        assert names_step_and_limit(exc.message), exc.message
        assert "time.sleep(30)" in exc.traceback, "the traceback shows where the step was stuck"
        assert task.stdout.startswith("slow starts")
        assert "finished" not in task.data
    failure_lines = [line for line in run.stdout.splitlines() if "failed:" in line]
    assert any(names_step_and_limit(line) for line in failure_lines), run


def test_a_timed_out_attempt_is_retried(done):
    d, run = outcome(done, "retried")
    assert run.returncode == 0, run
    with d.client() as hw:
        task = slow_task(d)
        assert task.attempts == [0, 1]
        assert task.data.finished is True
        first = hw.Task(task.pathspec, attempt=0)
        assert names_step_and_limit(first.exception.message)
        assert first.stdout.startswith("slow starts")


def test_a_timed_out_attempt_is_caught_and_the_flow_continues(done):
    d, run = outcome(done, "caught")
    assert run.returncode == 0, run
    assert "end ran" in run.stdout
    with d.client() as hw:
        kind, message = hw.Run("SlowFlow/1").data.err_seen
        assert "Timeout" in kind
        assert names_step_and_limit(message)


def test_a_step_that_ignores_the_alarm_is_killed_by_the_scheduler_and_recorded(done):
    d, run = outcome(done, "backstop")
    assert run.returncode != 0
    assert "Run SlowFlow/1 failed" in run.stdout
    assert d.runs("SlowFlow") == [(1, "failed")]
    with d.client():
        task = slow_task(d)
        assert task.finished and not task.successful
        reason = " ".join(filter(None, [task.exit_reason, str(task.exception or "")]))
        assert names_step_and_limit(reason), reason
        out = task.stdout
    assert out.startswith("slow starts in pid"), "its output before the kill is kept"
    pid = int(out.split()[4])
    if psutil.pid_exists(pid):
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, "the stuck task is gone"


def test_a_step_that_ignores_the_alarm_is_caught_after_the_kill(done):
    d, run = outcome(done, "backstop_caught")
    assert run.returncode == 0, run
    assert "end ran" in run.stdout
    with d.client() as hw:
        err = hw.Run("SlowFlow/1").data.err_seen
        assert err is not None
        assert names_step_and_limit(err[1]), err
