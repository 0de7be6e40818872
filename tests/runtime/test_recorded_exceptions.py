"""The exception an attempt records, as Metaflow's tooling reads it.

- ``type`` is the fully qualified class name of a user's exception, also when the class derives
  from Headwater's (as ``MetaflowException`` subclasses do once the import is changed); Headwater's
  own errors keep their short name, and a timeout is recorded under Metaflow's type name.
- The client's exception object also answers to Metaflow's attribute names (``.exception`` for
  the message, ``.stacktrace``).
"""

from __future__ import annotations

from headwater.client.task import TaskException
from headwater.exceptions import HeadwaterException, StepError
from headwater.plugins.timeout import StepTimeout
from headwater.task import describe_exception


class RetryMe(HeadwaterException):
    headline = "Testing retry"


class PlainError(Exception):
    pass


def test_a_users_exception_is_recorded_by_its_fully_qualified_name():
    assert describe_exception(PlainError("x"))["type"] == f"{__name__}.PlainError"
    assert describe_exception(RetryMe("x"))["type"] == f"{__name__}.RetryMe"


def test_builtins_and_headwaters_own_errors_keep_their_short_names():
    assert describe_exception(KeyError("k"))["type"] == "KeyError"
    assert describe_exception(StepError("s"))["type"] == "StepError"


def test_a_timeout_is_recorded_under_metaflows_type_name():
    info = describe_exception(StepTimeout("step 'slow' exceeded its @timeout of 1 seconds."))
    assert info["type"] == "metaflow.plugins.timeout_decorator.TimeoutException"
    assert "exceeded its @timeout" in info["message"]


def test_the_clients_exception_answers_to_metaflows_names():
    exc = TaskException(type="KeyError", message="'Something has gone wrong'",
                        traceback="Traceback ...")
    assert exc.exception == "'Something has gone wrong'"
    assert exc.stacktrace == "Traceback ..."
    assert "KeyError" in str(exc)


RETRIED = """
from headwater import retry


class RetriedFlow(FlowSpec):
    @retry(times=2, minutes_between_retries=0)
    @step
    def start(self):
        if current.retry_count < 2:
            raise ValueError("not yet")
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    RetriedFlow()
"""


def test_task_metadata_lists_one_attempt_entry_per_attempt_as_metaflow_does(fd):
    fd.write(RETRIED)
    done = fd.run()
    assert done.returncode == 0, done
    with fd.client() as hw:
        task = hw.Run(f"RetriedFlow/{done.run_id('RetriedFlow')}")["start"].task
        entries = task.metadata
        assert sorted(m.value for m in entries if m.type == "attempt") == ["0", "1", "2"]
        assert all(m.name == m.type and m.task.pathspec == task.pathspec for m in entries)
        assert {m.name for m in entries} >= {"attempt", "status", "step"}
        assert all(isinstance(m.value, str) for m in entries)
