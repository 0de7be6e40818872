"""@retry: a failed attempt runs again as a new attempt of the same task.

Only the last attempt's artifacts count; every attempt's output and exception stay readable
(``Task(pathspec, attempt=N)``, ``python flow.py logs ... --attempt N``); ``--with retry`` and
``HEADWATER_DEFAULT_DECOSPECS`` add it to every step; the wait between attempts holds no worker.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from .conftest import concurrently, outcome, wait_for

FLAKY = """
from headwater import retry

class FlakyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        print(f"attempt {current.retry_count} of task {current.task_id}")
        self.mark = current.retry_count
        if current.retry_count < 2:
            self.left_by_a_failed_attempt = current.retry_count
            raise ValueError(f"fail on attempt {current.retry_count}")
        self.next(self.end)

    @step
    def end(self):
        print("end saw mark", self.mark)

if __name__ == "__main__":
    FlakyFlow()
"""

EXHAUSTED = """
from headwater import retry

class HopelessFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.hopeless)

    @retry(times=1, minutes_between_retries=0)
    @step
    def hopeless(self):
        print("trying, attempt", current.retry_count)
        raise RuntimeError(f"still broken on attempt {current.retry_count}")
        self.next(self.end)

    @step
    def end(self):
        print("end ran")

if __name__ == "__main__":
    HopelessFlow()
"""

# No decorator in the code: the retries come from the command line or the environment.
UNDECORATED = """
class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.wobbly)

    @step
    def wobbly(self):
        print("wobbly attempt", current.retry_count)
        if current.retry_count == 0:
            raise ConnectionError("the first attempt always fails")
        self.value = "from attempt %d" % current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    PlainFlow()
"""

# One worker only: if the retry's wait held it, `steady` could not run before attempt 1.
DELAYED = """
import time
from headwater import retry

class DelayFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky, self.steady)

    @retry(times=1, minutes_between_retries=0.02)
    @step
    def flaky(self):
        self.flaky_started = time.time()
        if current.retry_count == 0:
            raise RuntimeError("try again later")
        self.next(self.join)

    @step
    def steady(self):
        self.steady_started = time.time()
        time.sleep(0.2)
        self.steady_finished = time.time()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.flaky_started = inputs.flaky.flaky_started
        self.steady_started = inputs.steady.steady_started
        self.steady_finished = inputs.steady.steady_finished
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    DelayFlow()
"""

# `flaky` fails at once and waits WAIT minutes to retry; meanwhile `broken` fails for good.
PENDING = """
import time
from headwater import retry

class PendingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky, self.broken)

    @retry(times=1, minutes_between_retries=WAIT)
    @step
    def flaky(self):
        raise ValueError("flaky fails and waits to retry")
        self.next(self.join)

    @step
    def broken(self):
        time.sleep(0.5)
        raise RuntimeError("broken for good")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    PendingFlow()
"""

SPEC = "retry:times=2,minutes_between_retries=0"


def fail_while_a_retry_waits_long(d):
    """Start a run whose retry waits a minute; see whether it ends once `broken` has failed."""
    d.write(PENDING.replace("WAIT", "1"))
    proc = subprocess.Popen(d.command([sys.executable, "flow.py", "run"]), cwd=d.path, env=d.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def broken_failed():
            try:
                return d.query("SELECT 1 FROM tasks WHERE step = 'broken' AND status = 'failed'")
            except sqlite3.OperationalError:  # the database is still being created
                return False

        wait_for(broken_failed, 60, "the broken step to fail")
        try:
            # Ten seconds is generous: nothing is left to run, only a retry that cannot help.
            wait_for(lambda: proc.poll() is not None, 10, "the run to end")
            ended = True
        except AssertionError:
            ended = False
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return d, ended


@pytest.fixture(scope="module")
def done(dirs):
    def flaky():
        d = dirs("flaky")
        d.write(FLAKY)
        run = d.run()
        ((task_id,),) = d.query("SELECT task_id FROM tasks WHERE step = 'flaky'")
        pathspec = f"FlakyFlow/1/flaky/{task_id}"
        logs = {n: d.cli("logs", f"1/flaky/{task_id}", "--attempt", str(n)) for n in (0, 1)}
        return d, run, pathspec, logs

    def exhausted():
        d = dirs("exhausted")
        d.write(EXHAUSTED)
        return d, d.run()

    def with_cli():
        d = dirs("with_cli")
        d.write(UNDECORATED)
        return d, d.run(), d.cli("--with", SPEC, "run")

    def with_env():
        d = dirs("with_env")
        d.write(UNDECORATED)
        return d, d.run(HEADWATER_DEFAULT_DECOSPECS=SPEC)

    def delayed():
        d = dirs("delayed")
        d.write(DELAYED)
        return d, d.run("--max-workers", "1")

    def pending_short():
        d = dirs("pending_short")
        d.write(PENDING.replace("WAIT", "0.02"))
        return d, d.run()

    return concurrently({"flaky": flaky, "exhausted": exhausted, "with_cli": with_cli,
                         "with_env": with_env, "delayed": delayed, "pending_short": pending_short,
                         "pending_long": lambda: fail_while_a_retry_waits_long(dirs("pending_long"))})


# -- a flaky step ---------------------------------------------------------------------------------


def test_a_failing_attempt_is_retried_as_a_new_attempt_of_the_same_task(done):
    d, run, pathspec, _ = outcome(done, "flaky")
    assert run.returncode == 0, run
    assert "Run FlakyFlow/1 succeeded" in run.stdout
    with d.client() as hw:
        tasks = d.tasks("FlakyFlow/1", "flaky")
        assert len(tasks) == 1, "retries are attempts of one task, not new tasks"
        task = tasks[0]
        assert task.attempts == [0, 1, 2]
        assert task.current_attempt == 2
        assert task.successful
        assert [hw.Task(pathspec, attempt=n).successful for n in (0, 1, 2)] == [False, False, True]


def test_each_attempt_sees_its_own_retry_count(done):
    d, _, pathspec, _ = outcome(done, "flaky")
    task_id = pathspec.rsplit("/", 1)[1]
    with d.client() as hw:
        for n in (0, 1, 2):
            assert hw.Task(pathspec, attempt=n).stdout == f"attempt {n} of task {task_id}\n"


def test_only_the_last_attempts_artifacts_count(done):
    d, run, pathspec, _ = outcome(done, "flaky")
    assert "end saw mark 2" in run.stdout
    with d.client() as hw:
        task = hw.Task(pathspec)
        assert task.data.mark == 2
        assert "left_by_a_failed_attempt" not in task.data
        data = hw.Run("FlakyFlow/1").data
        assert data.mark == 2
        assert "left_by_a_failed_attempt" not in data


def test_every_attempts_exception_stays_readable(done):
    d, _, pathspec, _ = outcome(done, "flaky")
    with d.client() as hw:
        for n in (0, 1):
            exc = hw.Task(pathspec, attempt=n).exception
            assert exc is not None, f"attempt {n} lost its exception"
            assert exc.type == "ValueError"
            assert exc.message == f"fail on attempt {n}"
            assert 'raise ValueError(f"fail on attempt {current.retry_count}")' in exc.traceback
            assert f"ValueError: fail on attempt {n}" in hw.Task(pathspec, attempt=n).stderr
        assert hw.Task(pathspec, attempt=2).exception is None
        assert hw.Task(pathspec).exception is None, "the task shows its last, successful attempt"


def test_logs_command_shows_an_earlier_attempt(done):
    _, _, _, logs = outcome(done, "flaky")
    for n in (0, 1):
        out = logs[n]
        assert out.returncode == 0, out
        assert f"attempt {n} of task" in out.output
        assert f"ValueError: fail on attempt {n}" in out.output
        assert "attempt 2" not in out.output


def test_console_says_an_attempt_failed_and_is_retried(done):
    _, run, pathspec, _ = outcome(done, "flaky")
    task_id = pathspec.rsplit("/", 1)[1]
    assert f"[1/flaky/{task_id}] attempt 0 failed (ValueError: fail on attempt 0); retrying" in run.stdout
    assert f"[1/flaky/{task_id}] attempt 1 failed (ValueError: fail on attempt 1); retrying" in run.stdout


# -- retries run out ---------------------------------------------------------------------------


def test_when_retries_run_out_the_run_fails_with_every_attempt_recorded(done):
    d, run = outcome(done, "exhausted")
    assert run.returncode != 0
    assert "Run HopelessFlow/1 failed" in run.stdout
    assert "RuntimeError: still broken on attempt 1" in run.stdout
    assert "end ran" not in run.stdout
    assert d.runs("HopelessFlow") == [(1, "failed")]
    with d.client() as hw:
        (task,) = d.tasks("HopelessFlow/1", "hopeless")
        assert task.attempts == [0, 1]
        assert not task.successful and task.finished
        for n in (0, 1):
            attempt = hw.Task(task.pathspec, attempt=n)
            assert attempt.exception.message == f"still broken on attempt {n}"
            assert attempt.stdout == f"trying, attempt {n}\n"
        assert "end" not in hw.Run("HopelessFlow/1")


# -- retries added from outside the code ----------------------------------------------------------


def test_with_retry_on_the_command_line_retries_every_step(done):
    d, plain, with_retry = outcome(done, "with_cli")
    assert plain.returncode != 0, "without --with the step fails: the control"
    assert "ConnectionError: the first attempt always fails" in plain.stdout
    assert with_retry.returncode == 0, with_retry
    run = with_retry.run_id("PlainFlow")
    with d.client() as hw:
        (task,) = d.tasks(f"PlainFlow/{run}", "wobbly")
        assert task.attempts == [0, 1]
        assert task.data.value == "from attempt 1"
        assert hw.Task(task.pathspec, attempt=0).exception.type == "ConnectionError"


def test_default_decospecs_environment_variable_retries_every_step(done):
    d, run = outcome(done, "with_env")
    assert run.returncode == 0, run
    with d.client():
        (task,) = d.tasks("PlainFlow/1", "wobbly")
        assert task.attempts == [0, 1]
        assert task.data.value == "from attempt 1"


# -- the wait between attempts -----------------------------------------------------------------


def test_waiting_to_retry_does_not_hold_a_worker(done):
    d, run = outcome(done, "delayed")
    assert run.returncode == 0, run
    with d.client() as hw:
        (flaky,) = d.tasks("DelayFlow/1", "flaky")
        assert flaky.attempts == [0, 1]
        first_failed = hw.Task(flaky.pathspec, attempt=0).finished_at.timestamp()
        data = hw.Run("DelayFlow/1").data
    # With one worker: attempt 0 fails, the sibling runs while the retry waits, then attempt 1.
    assert first_failed <= data.steady_started
    assert data.steady_finished <= data.flaky_started, (
        "the sibling branch should finish while the retry waits, not after it")


# -- the run fails while a retry waits ---------------------------------------------------------


def test_a_task_waiting_to_retry_when_the_run_fails_is_not_left_running(done):
    d, run = outcome(done, "pending_short")
    assert run.returncode != 0
    assert "RuntimeError: broken for good" in run.stdout
    assert d.runs("PendingFlow") == [(1, "failed")]
    with d.client():
        (flaky,) = d.tasks("PendingFlow/1", "flaky")
        assert flaky.status != "running", "a task of a finished run is still 'running'"
        assert flaky.finished


def test_a_failed_run_ends_without_waiting_for_a_pending_retry(done):
    d, ended = outcome(done, "pending_long")
    assert ended, "the run was still going 10 s after its only other task failed for good"
    assert d.runs("PendingFlow") == [(1, "failed")]
