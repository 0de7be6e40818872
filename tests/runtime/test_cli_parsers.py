"""The flow file's two command-line parsers agree.

``quick_parse`` (``cli/options.py``) reads plain ``run``/``resume``/``check`` command lines
without click; everything else must come back None so that click (``cli/flow_cli.py``) reads
it and, for a mistake, reports it. Here every command line goes through both: the quick parser
either steps aside or produces exactly the Invocation click hands to its ``execute``.
"""

from __future__ import annotations

import click
import pytest

from headwater import FlowSpec, Parameter, step
from headwater.cli.flow_cli import build_cli
from headwater.cli.options import Invocation, quick_parse
from headwater.parameters import flow_parameters


class ParsersFlow(FlowSpec):
    """Only its parameters are read (by both parsers); it is never instantiated or run."""

    alpha = Parameter("alpha", default=0.5)
    num_epochs = Parameter("num_epochs", default=3)  # --num_epochs and --num-epochs
    verbose = Parameter("verbose", default=False)  # bool: a bare --verbose means "true"
    name = Parameter("name", type=str, required=True)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


PARAMETERS = flow_parameters(ParsersFlow)


@pytest.fixture(autouse=True)
def _no_headwater_home(monkeypatch):
    """HEADWATER_HOME is the default of --datastore-root: start every test without it."""
    monkeypatch.delenv("HEADWATER_HOME", raising=False)


def quick(argv: list[str]) -> Invocation | None:
    return quick_parse(list(argv), PARAMETERS)


def via_click(argv: list[str]) -> Invocation:
    """The Invocation click's ``run``/``resume``/``check`` callback hands to ``execute``."""
    captured: list[Invocation] = []
    cli = build_cli(ParsersFlow, execute=lambda flow_cls, invocation: captured.append(invocation))
    cli.main(args=list(argv), prog_name="flow.py", standalone_mode=False)
    assert len(captured) == 1, f"click did not reach run/resume/check for {argv}"
    return captured[0]


# What Metaflow's test harness puts before every command (--datastore=local included).
METAFLOW_TOP = ["--metadata=local", "--datastore=local", "--environment=local",
                "--event-logger=nullSidecarLogger", "--monitor=nullSidecarMonitor", "--no-pylint",
                "--quiet"]

# Valid command lines: click accepts every one of them.
PARITY = [
    pytest.param(["run"], id="run"),
    # run options, "--opt value" and "--opt=value"
    pytest.param(["run", "--tag", "a"], id="tag"),
    pytest.param(["run", "--tag=a"], id="tag-eq"),
    pytest.param(["run", "--tag", "a", "--tag", "b"], id="tag-repeated"),
    pytest.param(["run", "--max-workers", "4"], id="max-workers"),
    pytest.param(["run", "--max-workers=4"], id="max-workers-eq"),
    pytest.param(["run", "--max-num-splits", "7"], id="max-num-splits"),
    pytest.param(["run", "--max-num-splits=7"], id="max-num-splits-eq"),
    pytest.param(["run", "--max-cpu", "1.5"], id="max-cpu"),
    pytest.param(["run", "--max-cpu=1.5"], id="max-cpu-eq"),
    pytest.param(["run", "--max-memory", "512"], id="max-memory"),
    pytest.param(["run", "--max-memory=512"], id="max-memory-eq"),
    pytest.param(["run", "--run-id-file", "rid.txt"], id="run-id-file"),
    pytest.param(["run", "--run-id-file=rid.txt"], id="run-id-file-eq"),
    pytest.param(["run", "--executor", "inprocess"], id="executor"),
    pytest.param(["run", "--executor=inprocess"], id="executor-eq"),
    pytest.param(["run", "--quiet"], id="run-quiet"),
    pytest.param(["run", "--tag="], id="tag-empty-eq"),
    pytest.param(["run", "--tag=-x"], id="tag-eq-dash-value"),
    # group options before the command
    pytest.param(["--quiet", "run"], id="group-quiet"),
    pytest.param(["--quiet", "run", "--quiet"], id="group-and-run-quiet"),
    pytest.param(["--with", "retry", "--with", "catch", "run"], id="group-with-twice"),
    pytest.param(["--config", "NAME", "cfg.json", "run"], id="group-config"),
    pytest.param(["--config", "A", "a.json", "--config", "B", "b.json", "run"],
                 id="group-config-twice"),
    pytest.param(["--config-value", "NAME", '{"a": 1}', "run"], id="group-config-value"),
    pytest.param(["--datastore-root", "/tmp/x", "run"], id="group-datastore-root"),
    pytest.param(["--datastore-root=/tmp/x", "run"], id="group-datastore-root-eq"),
    pytest.param(["--datastore-root", "/tmp/x", "check"], id="group-datastore-root-check"),
    pytest.param(["--quiet", "run", "--tag", "x"], id="group-quiet-run-tag"),
    # flow parameters
    pytest.param(["run", "--alpha", "0.1"], id="param"),
    pytest.param(["run", "--alpha=0.1"], id="param-eq"),
    pytest.param(["run", "--alpha=-1"], id="param-eq-negative"),
    pytest.param(["run", "--num_epochs", "5"], id="param-underscore"),
    pytest.param(["run", "--num-epochs", "5"], id="param-dash"),
    pytest.param(["run", "--num_epochs=5"], id="param-underscore-eq"),
    pytest.param(["run", "--num-epochs=5"], id="param-dash-eq"),
    pytest.param(["run", "--alpha", "0.1", "--alpha", "0.2"], id="param-twice"),
    pytest.param(["run", "--num-epochs", "2", "--num_epochs", "9"], id="param-twice-both-spellings"),
    pytest.param(["run", "--name", "bob", "--alpha", "1"], id="str-param"),
    pytest.param(["run", "--name="], id="str-param-empty-eq"),
    pytest.param(["run", "--max-workers", "4", "--alpha", "0.1"], id="option-and-param"),
    pytest.param(["run", "--alpha", "0.1", "--tag", "t", "--max-workers", "2", "--name", "n"],
                 id="options-and-params-interleaved"),
    # the bool parameter
    pytest.param(["run", "--verbose"], id="bool-bare"),
    pytest.param(["run", "--verbose", "--alpha", "1"], id="bool-bare-then-option"),
    pytest.param(["run", "--verbose", "--max-workers", "2"], id="bool-bare-then-run-option"),
    pytest.param(["run", "--verbose", "false"], id="bool-value"),
    pytest.param(["run", "--verbose=false"], id="bool-eq"),
    pytest.param(["run", "--verbose", "true", "--verbose"], id="bool-value-then-bare"),
    # resume and check
    pytest.param(["resume"], id="resume"),
    pytest.param(["resume", "end"], id="resume-step"),
    pytest.param(["resume", "--origin-run-id", "3", "start"], id="resume-origin-then-step"),
    pytest.param(["resume", "start", "--origin-run-id=3"], id="resume-step-then-origin-eq"),
    pytest.param(["resume", "start", "--max-workers", "2"], id="resume-step-then-option"),
    pytest.param(["resume", "--tag", "a", "end", "--tag", "b"], id="resume-step-between-tags"),
    pytest.param(["--quiet", "resume", "--executor", "inprocess"], id="resume-group-and-option"),
    pytest.param(["check"], id="check"),
    pytest.param(["--with", "retry", "check"], id="check-with-group-option"),
    # Metaflow's top-level options, as its tooling writes them
    pytest.param(METAFLOW_TOP + ["run", "--max-workers", "50"], id="metaflow-top-options"),
    pytest.param(["--metadata", "local", "--environment", "local", "run"], id="metadata-environment"),
    pytest.param(["--event-logger", "nullSidecarLogger", "--monitor", "nullSidecarMonitor", "run"],
                 id="event-logger-monitor"),
    pytest.param(["--no-pylint", "run"], id="no-pylint"),
    pytest.param(["--pylint", "run"], id="pylint"),
    pytest.param(["--no-pylint", "--pylint", "check"], id="pylint-last-wins"),
    pytest.param(METAFLOW_TOP + ["resume", "end"], id="metaflow-top-options-resume"),
]


@pytest.mark.parametrize("argv", PARITY)
def test_quick_parser_steps_aside_or_agrees_with_click(argv):
    from_click = via_click(argv)
    from_quick = quick(argv)
    assert from_quick is None or from_quick == from_click


def test_headwater_home_is_the_datastore_root_for_both(monkeypatch):
    monkeypatch.setenv("HEADWATER_HOME", "/somewhere/hwhome")
    argv = ["run", "--alpha", "0.1"]
    from_click = via_click(argv)
    from_quick = quick(argv)
    assert from_click.group["datastore_root"] == "/somewhere/hwhome"
    assert from_quick == from_click
    # the command line still wins over the environment, in both
    argv = ["--datastore-root", "/given", "run"]
    assert via_click(argv).group["datastore_root"] == "/given"
    assert quick(argv) == via_click(argv)


@pytest.mark.parametrize("argv", [
    pytest.param(["run"], id="run"),
    pytest.param(["run", "--max-workers", "4", "--alpha", "0.1"], id="run-option-and-param"),
    pytest.param(["resume"], id="resume"),
    pytest.param(["resume", "end"], id="resume-step"),
    pytest.param(["check"], id="check"),
    pytest.param(["--quiet", "run", "--tag", "x"], id="group-option-run-tag"),
    pytest.param(METAFLOW_TOP + ["run", "--max-workers", "50"], id="metaflow-top-options"),
])
def test_quick_parser_takes_the_common_command_lines(argv):
    from_quick = quick(argv)
    assert from_quick is not None, f"{argv} should not need click"
    assert from_quick == via_click(argv)


# What both parsers must make of a command line, not only agree on.
VALUES = [
    pytest.param(["run", "--alpha", "0.1", "--alpha", "0.2"], "params", "alpha", "0.2",
                 id="last-param-wins"),
    pytest.param(["run", "--num-epochs", "5"], "params", "num_epochs", "5", id="dash-spelling"),
    pytest.param(["run", "--verbose"], "params", "verbose", "true", id="bool-bare-is-true"),
    pytest.param(["run", "--verbose", "--alpha", "1"], "params", "verbose", "true",
                 id="bool-bare-before-option"),
    pytest.param(["run", "--verbose", "false"], "params", "verbose", "false", id="bool-false"),
    pytest.param(["run"], "params", "name", None, id="param-not-given"),
    pytest.param(["run", "--tag", "a", "--tag", "b"], "options", "tags", ("a", "b"),
                 id="tags-in-order"),
    pytest.param(["run", "--max-workers=4"], "options", "max_workers", 4, id="max-workers-int"),
    pytest.param(["run", "--max-cpu", "1.5"], "options", "max_cpu", 1.5, id="max-cpu-float"),
    pytest.param(["run"], "options", "executor", "fork", id="executor-default"),
    pytest.param(["--config-value", "NAME", '{"a": 1}', "run"], "group", "config_values",
                 (("NAME", '{"a": 1}'),), id="config-value-pair"),
    pytest.param(["--with", "retry", "--with", "catch", "run"], "group", "decospecs",
                 ("retry", "catch"), id="decospecs-in-order"),
    pytest.param(["--quiet", "run"], "group", "quiet", True, id="group-quiet"),
    pytest.param(["--quiet", "run"], "options", "quiet", False, id="group-quiet-not-run-quiet"),
    pytest.param(["resume", "--origin-run-id", "3", "start"], "options", "origin_run_id", "3",
                 id="origin-run-id"),
    pytest.param(["run"], "group", "metadata", "local", id="metadata-default"),
    pytest.param(["run"], "group", "environment", "local", id="environment-default"),
    pytest.param(["run"], "group", "pylint", True, id="pylint-default"),
    pytest.param(["--no-pylint", "run"], "group", "pylint", False, id="no-pylint"),
    pytest.param(["--no-pylint", "--pylint", "run"], "group", "pylint", True, id="pylint-last-wins"),
    pytest.param(METAFLOW_TOP + ["run"], "group", "event_logger", "nullSidecarLogger",
                 id="event-logger"),
    pytest.param(METAFLOW_TOP + ["run"], "group", "monitor", "nullSidecarMonitor", id="monitor"),
    pytest.param(METAFLOW_TOP + ["run"], "group", "datastore", "local", id="metaflow-datastore"),
]


@pytest.mark.parametrize("argv, part, key, expected", VALUES)
def test_both_parsers_read_the_documented_values(argv, part, key, expected):
    from_click = via_click(argv)
    assert getattr(from_click, part)[key] == expected
    from_quick = quick(argv)
    assert from_quick is not None
    assert getattr(from_quick, part)[key] == expected


def test_resume_step_is_read_by_both():
    argv = ["resume", "start", "--max-workers", "2"]
    for invocation in (via_click(argv), quick(argv)):
        assert invocation.command == "resume"
        assert invocation.step == "start"
        assert invocation.options["max_workers"] == 2
        assert invocation.params == {}


FALLBACK = [
    pytest.param(["run", "--help"], id="run-help"),
    pytest.param(["-h"], id="short-help"),
    pytest.param(["run", "--bogus", "1"], id="unknown-option"),
    pytest.param(["run", "--max-workers", "0"], id="max-workers-below-minimum"),
    pytest.param(["run", "--max-workers", "abc"], id="max-workers-not-int"),
    pytest.param(["run", "--max-cpu", "0"], id="max-cpu-below-minimum"),
    pytest.param(["run", "--executor", "nope"], id="executor-not-a-choice"),
    pytest.param(["show"], id="show"),
    pytest.param(["logs", "1/start"], id="logs"),
    pytest.param(["run", "extra-positional"], id="run-extra-positional"),
    pytest.param(["resume", "a", "b"], id="resume-two-steps"),
    pytest.param(["run", "--tag"], id="missing-value"),
    pytest.param(["run", "--alpha"], id="param-missing-value"),
    pytest.param(["run", "--alpha", "-1"], id="value-starting-with-dash"),
    pytest.param(["run", "--quiet=yes"], id="flag-with-value"),
    pytest.param(["--quiet=yes", "run"], id="group-flag-with-value"),
    pytest.param(["check", "--tag", "x"], id="check-with-option"),
    pytest.param(["resume", "--alpha", "1"], id="resume-with-parameter"),
    pytest.param(["run", "--datastore-root", "/x"], id="group-option-after-command"),
    pytest.param(["--quiet"], id="group-option-without-command"),
    pytest.param([], id="empty"),
    pytest.param(["--no-pylint=yes", "run"], id="switch-with-value"),
    pytest.param(["--metadata", "nope", "run"], id="metadata-not-a-choice"),
]


@pytest.mark.parametrize("argv", FALLBACK)
def test_quick_parser_leaves_the_rest_to_click(argv):
    assert quick(argv) is None


@pytest.mark.parametrize("argv, error", [
    pytest.param(["run", "--bogus", "1"], click.NoSuchOption, id="unknown-option"),
    pytest.param(["run", "--max-workers", "0"], click.BadParameter, id="max-workers-below-minimum"),
    pytest.param(["run", "--max-workers", "abc"], click.BadParameter, id="max-workers-not-int"),
    pytest.param(["run", "--executor", "nope"], click.BadParameter, id="executor-not-a-choice"),
    pytest.param(["run", "extra-positional"], click.UsageError, id="run-extra-positional"),
    pytest.param(["resume", "a", "b"], click.UsageError, id="resume-two-steps"),
    pytest.param(["run", "--tag"], click.UsageError, id="missing-value"),
    pytest.param(["run", "--quiet=yes"], click.UsageError, id="flag-with-value"),
    pytest.param(["check", "--tag", "x"], click.NoSuchOption, id="check-with-option"),
    pytest.param(["run", "--max-cpu", "nan"], click.BadParameter, id="max-cpu-nan"),
    pytest.param(["run", "--max-memory", "inf"], click.BadParameter, id="max-memory-inf"),
    pytest.param(["--metadata", "nope", "run"], click.BadParameter, id="metadata-not-a-choice"),
    pytest.param(["--event-logger", "x", "run"], click.BadParameter, id="event-logger-not-a-choice"),
])
def test_click_reports_what_the_quick_parser_refused(argv, error):
    assert quick(argv) is None
    with pytest.raises(error):
        via_click(argv)


@pytest.mark.parametrize("argv, words", [
    pytest.param(["--environment=conda", "run"], "@conda", id="environment-conda"),
    pytest.param(["--environment", "pypi", "check"], "@pypi", id="environment-pypi"),
])
def test_a_capability_not_there_yet_stops_in_both_parsers(argv, words):
    from headwater.cli.commands import execute
    from headwater.exceptions import NotAvailableYet

    invocation = quick(argv)
    if invocation is not None:
        with pytest.raises(NotAvailableYet, match=words) as raised:
            execute(ParsersFlow, invocation)
        assert "not available in Headwater yet" in str(raised.value)
    cli = build_cli(ParsersFlow, execute=lambda flow_cls, invocation: None)
    with pytest.raises(NotAvailableYet, match=words):
        cli.main(args=list(argv), prog_name="flow.py", standalone_mode=False)


# -- end to end: `python flow.py ...` as a user types it -----------------------------------------

E2E_FLOW = """
class CliFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)
    verbose = Parameter("verbose", default=False)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    CliFlow()
"""


def test_bad_max_workers_gets_clicks_error_and_no_run(fd):
    fd.write(E2E_FLOW)
    done = fd.run("--max-workers", "0")
    assert done.returncode == 2, done  # click's exit code for a usage error
    assert "Invalid value for '--max-workers'" in done.stderr, done
    assert "Usage: flow.py run" in done.stderr, done
    assert fd.runs("CliFlow") == []
    assert fd.files() == {}


def test_run_with_parameter_and_tag_end_to_end(fd):
    fd.write(E2E_FLOW)
    done = fd.run("--alpha", "0.25", "--tag", "t1")
    assert done.returncode == 0, done
    run_id = done.run_id("CliFlow")
    assert fd.runs("CliFlow") == [(run_id, "succeeded")]
    with fd.client() as hw:
        run = hw.Run(f"CliFlow/{run_id}")
        assert run.successful
        assert run.data.alpha == 0.25
        assert run.data.verbose is False
        assert "t1" in run.tags
        assert "t1" in run.user_tags


def test_metaflow_top_level_options_run_the_flow(fd):
    """The options Metaflow's tooling puts before every command (less --datastore, which is
    the mode's) are accepted; a value Headwater cannot honour yet stops before any run."""
    fd.write(E2E_FLOW)
    top = [o for o in METAFLOW_TOP if not o.startswith("--datastore")]
    done = fd.cli(*top, "run", "--alpha", "0.75")
    assert done.returncode == 0, done
    run_id = done.run_id("CliFlow")
    assert fd.runs("CliFlow") == [(run_id, "succeeded")]
    assert "[" not in done.stdout.split("Run CliFlow")[0], done  # --quiet: no task output lines

    done = fd.cli("--metadata", "service", "run")  # the service selected, but not where it is
    assert done.returncode != 0, done
    assert "HEADWATER_SERVICE_URL is not set" in done.stderr, done
    assert "Traceback" not in done.stderr, done
    assert fd.runs("CliFlow") == [(run_id, "succeeded")]
