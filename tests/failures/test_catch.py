"""@catch: once the last attempt has failed, the flow goes on and the error is an artifact.

Downstream, ``self.err`` holds what went wrong (type, message, traceback), or None when the
step succeeded. That holds when the process itself dies (``os._exit``, SIGKILL, a segfault),
not only for Python exceptions, and with @retry the catch acts only once retries are used up.
"""

from __future__ import annotations

import pytest

from .conftest import concurrently, outcome

CATCH = """
import ctypes
import os
import signal
from headwater import catch

class CatchFlow(FlowSpec):
    how = Parameter("how", default="ok")

    @step
    def start(self):
        self.next(self.risky)

    @catch(var="err", print_exception=True)
    @step
    def risky(self):
        print("risky starts, attempt", current.retry_count, flush=True)
        if self.how == "raise":
            raise KeyError("boom")
        elif self.how == "exit":
            os._exit(3)
        elif self.how == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif self.how == "segfault":
            ctypes.string_at(0)
        self.result = "risky finished"
        self.next(self.end)

    @step
    def end(self):
        print("end sees", "no error" if self.err is None else f"a caught {self.err.type}")
        self.has_result = hasattr(self, "result")
        self.seen = None if self.err is None else {
            "type": self.err.type, "message": self.err.message, "traceback": self.err.traceback}

if __name__ == "__main__":
    CatchFlow()
"""

RETRY_CATCH = """
import os
from headwater import catch, retry

class PatientFlow(FlowSpec):
    how = Parameter("how", default="raise")

    @step
    def start(self):
        self.next(self.risky)

    @retry(times=2, minutes_between_retries=0)
    @catch(var="err", print_exception=False)
    @step
    def risky(self):
        print("attempt", current.retry_count, flush=True)
        if self.how == "recover" and current.retry_count == 1:
            self.value = "recovered on attempt 1"
        elif self.how == "exit":
            os._exit(3)
        else:
            raise ValueError(f"attempt {current.retry_count} failed")
        self.next(self.end)

    @step
    def end(self):
        self.seen = None if self.err is None else (self.err.type, self.err.message)

if __name__ == "__main__":
    PatientFlow()
"""

HOWS = ("ok", "raise", "exit", "sigkill", "segfault")


@pytest.fixture(scope="module")
def done(dirs):
    def catch(how):
        def scenario():
            d = dirs(f"catch_{how}")
            d.write(CATCH)
            return d, d.run("--how", how)
        return scenario

    def patient(how):
        def scenario():
            d = dirs(f"patient_{how}")
            d.write(RETRY_CATCH)
            return d, d.run("--how", how)
        return scenario

    scenarios = {f"catch_{h}": catch(h) for h in HOWS}
    scenarios.update({f"patient_{h}": patient(h) for h in ("raise", "exit", "recover")})
    return concurrently(scenarios)


def caught(done, how):
    d, run = outcome(done, f"catch_{how}")
    assert run.returncode == 0, run
    assert "Run CatchFlow/1 succeeded" in run.stdout
    with d.client() as hw:
        data = hw.Run("CatchFlow/1").data
        return d, run, data.seen, data.has_result


def test_on_success_the_variable_is_none(done):
    _, run, seen, has_result = caught(done, "ok")
    assert seen is None
    assert has_result
    assert "end sees no error" in run.stdout
    assert "@catch" not in run.output


def test_a_python_exception_is_caught_and_the_flow_continues(done):
    d, run, seen, has_result = caught(done, "raise")
    assert seen["type"] == "KeyError"
    assert "boom" in seen["message"]
    assert 'raise KeyError("boom")' in seen["traceback"]
    assert "KeyError" in seen["traceback"]
    assert not has_result, "the step stopped at the exception"
    assert "end sees a caught KeyError" in run.stdout
    with d.client():
        (risky,) = d.tasks("CatchFlow/1", "risky")
        assert risky.successful
        assert "@catch" in risky.stderr and "KeyError" in risky.stderr, "print_exception=True"


@pytest.mark.parametrize("how, named", [
    ("exit", "code 3"),
    ("sigkill", "SIGKILL"),
    ("segfault", "SIGSEGV"),
])
def test_a_dying_process_is_caught_too(done, how, named):
    d, run, seen, has_result = caught(done, how)
    assert seen is not None, f"self.err is None although the process died ({how})"
    # Metaflow's type for a failure that raised nothing, so `err.type` checks carry over
    assert seen["type"] == "metaflow.plugins.catch_decorator.FailureHandledByCatch", seen
    assert named in seen["message"] and "your code did not raise an exception" in seen["message"], seen
    assert isinstance(seen["traceback"], str)
    assert not has_result
    assert f"end sees a caught {seen['type']}" in run.stdout
    with d.client() as hw:
        (risky,) = d.tasks("CatchFlow/1", "risky")
        assert risky.successful, "the flow went on past the step"
        first = hw.Task(risky.pathspec, attempt=0)
        assert not first.successful
        assert first.stdout == "risky starts, attempt 0\n", "what it printed before dying is kept"
        assert named in first.exit_reason


def test_with_retry_catch_acts_only_after_the_last_attempt(done):
    d, run = outcome(done, "patient_raise")
    assert run.returncode == 0, run
    with d.client() as hw:
        (risky,) = d.tasks("PatientFlow/1", "risky")
        assert risky.attempts == [0, 1, 2]
        assert risky.successful
        for n in (0, 1):
            attempt = hw.Task(risky.pathspec, attempt=n)
            assert not attempt.successful
            assert attempt.exception.message == f"attempt {n} failed"
        assert hw.Task(risky.pathspec, attempt=2).stdout == "attempt 2\n"
        assert hw.Run("PatientFlow/1").data.seen == ("ValueError", "attempt 2 failed")
    assert "@catch: the step failed" not in run.output, "print_exception=False"


def test_with_retry_a_later_success_leaves_nothing_caught(done):
    d, run = outcome(done, "patient_recover")
    assert run.returncode == 0, run
    with d.client() as hw:
        (risky,) = d.tasks("PatientFlow/1", "risky")
        assert risky.attempts == [0, 1]
        assert risky.data.value == "recovered on attempt 1"
        assert hw.Run("PatientFlow/1").data.seen is None


def test_with_retry_a_dying_process_is_retried_then_caught(done):
    d, run = outcome(done, "patient_exit")
    assert run.returncode == 0, run
    with d.client() as hw:
        (risky,) = d.tasks("PatientFlow/1", "risky")
        assert risky.successful
        assert risky.attempts[:3] == [0, 1, 2], "every retry ran before @catch acted"
        for n in (0, 1, 2):
            attempt = hw.Task(risky.pathspec, attempt=n)
            assert not attempt.successful
            assert attempt.stdout == f"attempt {n}\n"
            assert "code 3" in attempt.exit_reason
        seen = hw.Run("PatientFlow/1").data.seen
        assert seen is not None and "code 3" in seen[1]
