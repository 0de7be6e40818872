"""Bad input to resume and the failure decorators is refused before anything runs.

Each case checks what a user sees: a non-zero exit, a message that says what is wrong (and
suggests the close name where there is one), no step output, and no new run recorded.
"""

from __future__ import annotations

import pytest

from .conftest import concurrently, outcome

GOOD = """
import os

class GoodFlow(FlowSpec):
    @step
    def start(self):
        print("start ran")
        self.next(self.middle)

    @step
    def middle(self):
        print("middle ran")
        if os.environ.get("BREAK"):
            raise RuntimeError("middle broke")
        self.next(self.end)

    @step
    def end(self):
        print("end ran")

if __name__ == "__main__":
    GoodFlow()
"""

OTHER = """
class OtherFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    OtherFlow()
"""

DECORATED = """
from headwater import catch, retry, timeout

class DecoratedFlow(FlowSpec):
    START_DECORATOR
    @step
    def start(self):
        print("start ran")
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    WORK_DECORATOR
    @step
    def work(self):
        print("work ran")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    DecoratedFlow()
"""

# name -> (decorator on start, decorator on work, extra args before `run`, words in the message)
DECORATOR_CASES = {
    "retry_negative": ("", "@retry(times=-1)", (), ["@retry", "'work'", "times", "-1"]),
    "retry_huge": ("", "@retry(times=1000)", (), ["@retry", "'work'", "times", "1000"]),
    "retry_negative_wait": ("", "@retry(times=1, minutes_between_retries=-1)", (),
                            ["@retry", "'work'", "minutes_between_retries", "-1"]),
    "timeout_without_limit": ("", "@timeout()", (), ["@timeout", "'work'", "no limit"]),
    "catch_on_foreach": ('@catch(var="err")', "", (), ["@catch", "'start'", "foreach"]),
    "with_unknown": ("", "", ("--with", "retyr:times=2"),
                     ["unknown decorator", "'retyr'", "Did you mean 'retry'"]),
    "with_bad_value": ("", "", ("--with", "retry:times=-1"), ["@retry", "times", "-1"]),
}

# A limit no clock can hold: refuse it up front, or treat it as no limit; not fail the run.
ABSURD_TIMEOUTS = {
    "timeout_infinite": "@timeout(seconds=float('inf'))",
    "timeout_nan": "@timeout(seconds=float('nan'))",
    "timeout_eons": "@timeout(hours=10**9)",
}


def history(d):
    """Two flows in one datastore, then every bad resume, recording the runs around each."""
    d.write(GOOD, "good.py")
    d.write(OTHER, "other.py")
    out = {"no_runs": d.resume(flow="good.py")}
    out["no_runs_after"] = d.runs()
    setup = [d.run(flow="good.py", BREAK="1"), d.run(flow="other.py"), d.run(flow="other.py")]
    assert [s.returncode for s in setup] == [1, 0, 0], setup
    out["runs"] = d.runs()
    attempts = {
        "missing_run": ("resume", "--origin-run-id", "99"),
        "other_flows_run": ("resume", "--origin-run-id", "2"),
        "not_a_number": ("resume", "--origin-run-id", "latest"),
        "no_such_step": ("resume", "nosuchstep"),
        "misspelt_step": ("resume", "midle"),
    }
    for name, args in attempts.items():
        out[name] = d.cli(*args, flow="good.py")
        out[name + "_after"] = d.runs()
    return d, out


@pytest.fixture(scope="module")
def done(dirs):
    def decorated(name, start, work, extra):
        def scenario():
            d = dirs(name)
            d.write(DECORATED.replace("START_DECORATOR", start or "# none")
                    .replace("WORK_DECORATOR", work or "# none"))
            return d, d.cli(*extra, "run")
        return scenario

    scenarios = {name: decorated(name, s, w, x) for name, (s, w, x, _) in DECORATOR_CASES.items()}
    scenarios.update({name: decorated(name, "", deco, ()) for name, deco in ABSURD_TIMEOUTS.items()})
    scenarios["history"] = lambda: history(dirs("history"))
    return concurrently(scenarios)


def refused(done_cmd, *words):
    assert done_cmd.returncode != 0, done_cmd
    for word in words:
        assert word in done_cmd.stderr, f"{word!r} not in the message:\n{done_cmd}"
    assert "Traceback" not in done_cmd.output, done_cmd
    assert "ran" not in done_cmd.stdout, "nothing runs"


# -- resume ----------------------------------------------------------------------------------


def test_resume_of_a_flow_without_runs_is_refused(done):
    _, out = outcome(done, "history")
    refused(out["no_runs"], "GoodFlow", "no runs")
    assert out["no_runs_after"] == []


def test_resume_of_a_run_that_does_not_exist_is_refused(done):
    _, out = outcome(done, "history")
    refused(out["missing_run"], "GoodFlow", "no run 99")
    assert out["missing_run_after"] == out["runs"]


def test_resume_of_another_flows_run_is_refused(done):
    _, out = outcome(done, "history")
    assert ("OtherFlow", 2, "succeeded") in out["runs"]
    refused(out["other_flows_run"], "GoodFlow", "no run 2", "OtherFlow")
    assert out["other_flows_run_after"] == out["runs"]


def test_resume_of_a_run_id_that_is_not_a_number_is_refused(done):
    _, out = outcome(done, "history")
    refused(out["not_a_number"], "'latest'", "not a run id")
    assert out["not_a_number_after"] == out["runs"]


def test_resume_of_an_unknown_step_is_refused(done):
    _, out = outcome(done, "history")
    refused(out["no_such_step"], "no step 'nosuchstep'")
    assert out["no_such_step_after"] == out["runs"]


def test_resume_of_a_misspelt_step_suggests_the_close_name(done):
    _, out = outcome(done, "history")
    refused(out["misspelt_step"], "no step 'midle'", "Did you mean 'middle'?")
    assert out["misspelt_step_after"] == out["runs"]


# -- decorator arguments -------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(DECORATOR_CASES))
def test_bad_decorator_arguments_are_refused_before_anything_runs(done, case):
    d, run = outcome(done, case)
    refused(run, *DECORATOR_CASES[case][3])
    assert d.runs() == [], "no run is recorded"


@pytest.mark.parametrize("case", list(ABSURD_TIMEOUTS))
def test_an_absurd_timeout_is_refused_up_front_or_treated_as_no_limit(done, case):
    d, run = outcome(done, case)
    if run.returncode == 0:
        assert d.runs() == [("DecoratedFlow", 1, "succeeded")], run
    else:
        refused(run, "@timeout", "'work'")
        assert d.runs() == [], "refused before anything was recorded"
