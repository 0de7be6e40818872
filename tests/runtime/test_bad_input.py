"""Bad input gives one clear error. Input that is wrong before the run starts leaves the
datastore untouched; a step that breaks a rule fails its run without starting what follows."""

from __future__ import annotations

import json
import re

import pytest

GOOD = """
class GoodFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        print("start ran")
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    GoodFlow()
"""

CONFIGURED = """
class ConfiguredFlow(FlowSpec):
    cfg = Config("cfg", default="cfg.json")
    data = IncludeFile("data", default="data.txt")

    @step
    def start(self):
        print("start ran")
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    ConfiguredFlow()
"""

FOREACH = """
class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = ITEMS
        self.next(self.body, foreach="items")

    @step
    def body(self):
        print("body ran")
        self.item = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    ForeachFlow()
"""


@pytest.fixture
def with_history(fd):
    """A datastore that already holds one good run, to check nothing is added to it."""
    fd.write(GOOD, "good.py")
    done = fd.run(flow="good.py")
    assert done.returncode == 0, done
    return fd


def refused(fd, done, before):
    """The command failed without a traceback and wrote nothing."""
    assert done.returncode != 0, done
    assert "Traceback" not in done.output or "SyntaxError" in done.output
    assert "start ran" not in done.output
    assert fd.files() == before, "a refused command leaves the datastore as it was"


def test_syntax_error_in_the_flow_file(with_history):
    fd = with_history
    fd.write(GOOD.replace("def start(self):", "def start(self)"))
    before = fd.files()
    done = fd.run()
    refused(fd, done, before)
    assert "SyntaxError" in done.stderr
    assert fd.runs() == [("GoodFlow", 1, "succeeded")]


def test_flow_that_fails_lint(with_history):
    fd = with_history
    fd.write(GOOD.replace("self.next(self.end)", "self.next(self.ending)"))
    before = fd.files()
    done = fd.run()
    refused(fd, done, before)
    assert re.search(r"flow\.py:\d+: .*ending", done.stderr)


@pytest.mark.parametrize("decorators, words", [
    ("@retry(time=2)", "@retry got an unknown argument 'time'; it accepts: times, minutes_between_retries"),
    ("@retry\n    @retry(times=2)", "@retry is applied twice to step 'start'; keep one."),
    ("@timeout(5)", "@timeout takes keyword arguments only"),
])
def test_a_bad_decorator_names_its_line_without_a_traceback(with_history, decorators, words):
    fd = with_history
    source = "from headwater import retry, timeout\n" + GOOD
    path = fd.write(source.replace("    @step\n    def start", f"    {decorators}\n    @step\n    def start"))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "@retry" in text or "@timeout" in text)
    before = fd.files()
    done = fd.run()
    refused(fd, done, before)
    assert "Traceback" not in done.stderr
    assert f"{path}:{line}: {words}" in done.stderr, done


@pytest.mark.parametrize("args, words", [
    (["--alpha", "abc"], ["--alpha", "abc"]),
    (["--unknown-option", "1"], ["--unknown-option"]),
    (["--max-workers", "0"], ["--max-workers"]),
    (["--tag", ""], ["tag"]),
])
def test_bad_command_line(with_history, args, words):
    fd = with_history
    fd.write(GOOD)
    before = fd.files()
    done = fd.run(*args)
    refused(fd, done, before)
    for word in words:
        assert word in done.stderr


@pytest.mark.parametrize("setup, args, words", [
    ({"data.txt": "x"}, [], ["cfg.json", "does not exist"]),
    ({"cfg.json": "{not json", "data.txt": "x"}, [], ["cfg", "not valid JSON"]),
    ({"cfg.json": "{}", "data.txt": "x"}, ["--config", "cfg", "missing.json"], ["missing.json"]),
    ({"cfg.json": "{}", "data.txt": "x"}, ["--config-value", "cfg", "[1, 2"], ["not valid JSON"]),
    ({"cfg.json": "{}", "data.txt": "x"}, ["--config-value", "other", "{}"], ["other"]),
    ({"cfg.json": "{}"}, [], ["data.txt", "does not exist"]),
    ({"cfg.json": "{}", "data.txt": "x"}, ["run", "--data", "nope.txt"], ["nope.txt"]),
])
def test_bad_config_or_included_file(with_history, setup, args, words):
    fd = with_history
    fd.write(CONFIGURED)
    for name, text in setup.items():
        (fd.path / name).write_text(text)
    before = fd.files()
    cmd = args if "run" in args else [*args, "run"]
    done = fd.cli(*cmd)
    refused(fd, done, before)
    for word in words:
        assert word in done.stderr, done


def test_configured_flow_runs_when_its_inputs_exist(fd):
    fd.write(CONFIGURED)
    (fd.path / "cfg.json").write_text(json.dumps({"a": 1}))
    (fd.path / "data.txt").write_text("x")
    done = fd.run()
    assert done.returncode == 0, done


@pytest.mark.parametrize("items, words", [
    ("5", ["foreach", "items", "int"]),
    ("None", ["foreach", "items"]),
    ("[]", ["foreach", "items", "empty"]),
    ("list(range(5))", ["--max-num-splits", "5"]),
])
def test_bad_foreach_fails_the_run_before_any_branch(fd, items, words):
    fd.write(FOREACH.replace("ITEMS", items))
    done = fd.run("--max-num-splits", "3")
    assert done.returncode != 0
    assert fd.runs("ForeachFlow") == [(1, "failed")]
    message = fd.exception("ForeachFlow", 1, "start")["message"]
    for word in words:
        assert word in message, message
    assert "body ran" not in done.stdout
    assert fd.tasks("ForeachFlow", 1, "body") == []


def test_max_num_splits_allows_exactly_the_limit(fd):
    fd.write(FOREACH.replace("ITEMS", "list(range(3))"))
    done = fd.run("--max-num-splits", "3")
    assert done.returncode == 0, done
    assert len(fd.tasks("ForeachFlow", 1, "body")) == 3


def test_foreach_over_a_dict_iterates_its_keys_or_says_what_to_do(fd):
    fd.write(FOREACH.replace("ITEMS", '{"a": 1, "b": 2}'))
    done = fd.run()
    if done.returncode == 0:
        assert sorted(fd.values("ForeachFlow", 1, "body", "item")) == ["a", "b"]
        return
    message = fd.exception("ForeachFlow", 1, "start")["message"]
    assert "items" in message and "list(" in message, message
    assert "headwater/task.py" not in done.output


SWITCH = """
class SwitchFlow(FlowSpec):
    @step
    def start(self):
        SET_CHOICE
        self.next({"a": self.a, "b": self.b}, condition="choice")

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    SwitchFlow()
"""


@pytest.mark.parametrize("set_choice, words", [
    ('self.choice = "c"', ["choice", "'c'", "'a'", "'b'"]),
    ("pass", ["choice", "not set"]),
])
def test_conditional_without_a_matching_case_fails_clearly(fd, set_choice, words):
    fd.write(SWITCH.replace("SET_CHOICE", set_choice))
    done = fd.run()
    assert done.returncode != 0
    assert fd.runs("SwitchFlow") == [(1, "failed")]
    message = fd.exception("SwitchFlow", 1, "start")["message"]
    for word in words:
        assert word in message, message
    assert fd.steps_run("SwitchFlow", 1) == ["start"]
