"""Parameters: defaults, command line, environment, types, callable defaults, errors."""

from __future__ import annotations

import pytest

PARAMS = """
import uuid

def fresh_token(ctx):
    return f"{ctx.flow_name}-{ctx.parameter_name}-{uuid.uuid4().hex}"

class ParamFlow(FlowSpec):
    LIMIT = 7
    greeting = Parameter("greeting", default="hello", help="what to say")
    count = Parameter("count", default=3)
    alpha = Parameter("alpha", default=0.5)
    flag = Parameter("flag", default=False)
    settings = Parameter("settings", type=JSONType, default='{"a": 1}')
    nums = Parameter("nums", type=int, separator=",", default="1,2")
    max_depth = Parameter("max_depth", default=4)
    token = Parameter("token", default=fresh_token)

    @step
    def start(self):
        self.seen = {name: getattr(self, name) for name in
                     ["greeting", "count", "alpha", "flag", "settings", "nums", "max_depth"]}
        self.types = {k: type(v).__name__ for k, v in self.seen.items()}
        self.limit_seen = self.LIMIT
        self.tokens_start = self.token
        self.shards = [0, 1, 2]
        self.next(self.each, foreach="shards")

    @step
    def each(self):
        self.my_token = self.token
        self.next(self.join)

    @step
    def join(self, inputs):
        self.tokens = [i.my_token for i in inputs]
        self.greeting_in_join = self.greeting
        self.next(self.end)

    @step
    def end(self):
        print("greeting in end:", self.greeting)

if __name__ == "__main__":
    ParamFlow()
"""

ASSIGN = """
class AssignParamFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.alpha = 0.9
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    AssignParamFlow()
"""

ASSIGN_CONST = """
class AssignConstFlow(FlowSpec):
    LIMIT = 7

    @step
    def start(self):
        self.LIMIT = 8
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    AssignConstFlow()
"""

REQUIRED = """
class RequiredFlow(FlowSpec):
    who = Parameter("who", required=True)
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        print("hello", self.who)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    RequiredFlow()
"""


@pytest.fixture(scope="module")
def runs(module_fd):
    fd = module_fd
    fd.write(PARAMS, "params.py")
    out = {}
    out["default"] = fd.run(flow="params.py")
    out["cli"] = fd.run("--greeting", "hi there", "--count", "12", "--alpha", "2.5", "--flag",
                        "--settings", '{"b": [1, 2], "c": null}', "--nums", "5, 6,7",
                        "--max-depth", "9", flow="params.py")
    out["env"] = fd.run(flow="params.py", env=fd.env(
        HEADWATER_RUN_GREETING="from env", HEADWATER_RUN_COUNT="21", HEADWATER_RUN_FLAG="yes",
        HEADWATER_RUN_MAX_DEPTH="11"))
    out["env_and_cli"] = fd.run("--greeting", "from cli", flow="params.py",
                                env=fd.env(HEADWATER_RUN_GREETING="from env"))
    out["flag_false"] = fd.run("--flag", "false", "--max_depth", "2", flow="params.py")
    return out


def seen(fd, runs, which):
    done = runs[which]
    assert done.returncode == 0, done
    return fd.value("ParamFlow", done.run_id("ParamFlow"), "start", "seen")


def test_defaults(module_fd, runs):
    assert seen(module_fd, runs, "default") == {
        "greeting": "hello", "count": 3, "alpha": 0.5, "flag": False, "settings": {"a": 1},
        "nums": [1, 2], "max_depth": 4}


def test_command_line_values_are_converted_to_the_parameter_type(module_fd, runs):
    got = seen(module_fd, runs, "cli")
    assert got == {
        "greeting": "hi there", "count": 12, "alpha": 2.5, "flag": True,
        "settings": {"b": [1, 2], "c": None}, "nums": [5, 6, 7], "max_depth": 9}
    types = module_fd.value("ParamFlow", runs["cli"].run_id("ParamFlow"), "start", "types")
    assert types["count"] == "int" and types["alpha"] == "float" and types["flag"] == "bool"


def test_environment_variables_give_values(module_fd, runs):
    got = seen(module_fd, runs, "env")
    assert got["greeting"] == "from env"
    assert got["count"] == 21
    assert got["flag"] is True
    assert got["max_depth"] == 11


def test_command_line_wins_over_environment(module_fd, runs):
    assert seen(module_fd, runs, "env_and_cli")["greeting"] == "from cli"


def test_bool_false_and_underscore_spelling(module_fd, runs):
    got = seen(module_fd, runs, "flag_false")
    assert got["flag"] is False
    assert got["max_depth"] == 2


def test_parameters_are_visible_in_every_step(module_fd, runs):
    done = runs["cli"]
    run = done.run_id("ParamFlow")
    assert module_fd.value("ParamFlow", run, "join", "greeting_in_join") == "hi there"
    assert "greeting in end: hi there" in done.stdout


def test_callable_default_is_evaluated_once_per_run(module_fd, runs):
    tokens = {}
    for which in ("default", "cli"):
        run = runs[which].run_id("ParamFlow")
        start = module_fd.value("ParamFlow", run, "start", "tokens_start")
        each = module_fd.value("ParamFlow", run, "join", "tokens")
        assert each == [start] * 3, "every task of a run sees the same value"
        assert start.startswith("ParamFlow-token-"), "the default got the context"
        tokens[which] = start
    assert tokens["default"] != tokens["cli"], "each run evaluates the default again"


def test_class_constants_are_readable_in_steps(module_fd, runs):
    run = runs["default"].run_id("ParamFlow")
    assert module_fd.value("ParamFlow", run, "start", "limit_seen") == 7
    with module_fd.client() as hw:
        data = hw.Run(f"ParamFlow/{run}").data
        assert data.LIMIT == 7, "stored with the run, like a parameter"
        assert data.greeting == "hello" and data.alpha == 0.5


def test_help_lists_parameters_with_env_names(module_fd):
    done = module_fd.cli("run", "--help", flow="params.py")
    assert done.returncode == 0, done
    assert "--greeting" in done.stdout and "what to say" in done.stdout
    assert "HEADWATER_RUN_MAX_DEPTH" in done.stdout


def test_assigning_a_parameter_in_a_step_fails_clearly(fd):
    fd.write(ASSIGN)
    done = fd.run()
    assert done.returncode != 0
    assert "read-only" in done.output and "alpha" in done.output
    assert fd.runs("AssignParamFlow") == [(1, "failed")]
    assert fd.tasks("AssignParamFlow", 1, "end") == []


def test_assigning_a_class_constant_in_a_step_fails_clearly(fd):
    fd.write(ASSIGN_CONST)
    done = fd.run()
    assert done.returncode != 0
    assert "LIMIT" in done.output and "read-only" in done.output
    assert fd.runs("AssignConstFlow") == [(1, "failed")]


@pytest.mark.parametrize("args, env, words", [
    ([], {}, ["--who", "required", "HEADWATER_RUN_WHO"]),
    (["--who", "x", "--alpha", "abc"], {}, ["--alpha", "'abc'", "number"]),
    (["--who", "x", "--nope", "1"], {}, ["--nope"]),
    (["--who", "x"], {"HEADWATER_RUN_ALPHA": "zero"}, ["--alpha", "'zero'"]),
])
def test_bad_parameters_fail_before_anything_is_written(fd, args, env, words):
    fd.write(REQUIRED)
    done = fd.run(*args, env=fd.env(**env))
    assert done.returncode != 0
    for word in words:
        assert word in done.stderr, done
    assert "Traceback" not in done.output
    assert fd.files() == {}, "a refused run leaves nothing in the datastore"
    assert "hello" not in done.stdout


def test_required_parameter_given_by_environment(fd):
    fd.write(REQUIRED)
    done = fd.run(env=fd.env(HEADWATER_RUN_WHO="env-person"))
    assert done.returncode == 0, done
    assert "hello env-person" in done.stdout


SEPARATED = """
class SeparatedFlow(FlowSpec):
    words = Parameter("words", default="a,b", separator=",")

    @step
    def start(self):
        self.words_seen = self.words
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    SeparatedFlow()
"""


def test_separator_splits_a_value_from_the_command_line(fd):
    fd.write(SEPARATED)
    done = fd.run("--words", "x,y,z")
    assert done.returncode == 0, done
    assert fd.value("SeparatedFlow", 1, "start", "words_seen") == ["x", "y", "z"]


def test_separator_splits_the_default_too(fd):
    fd.write(SEPARATED)
    done = fd.run()
    assert done.returncode == 0, done
    assert fd.value("SeparatedFlow", 1, "start", "words_seen") == ["a", "b"]


SHADOWING = """
class ShadowFlow(FlowSpec):
    tag = Parameter("tag", default="x")

    @step
    def start(self):
        self.tag_seen = self.tag
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    ShadowFlow()
"""


def test_a_parameter_may_not_take_over_an_option_of_run(fd):
    fd.write(SHADOWING)
    done = fd.run("--tag", "hello")
    user_tags = fd.query("SELECT tag FROM tags WHERE flow = 'ShadowFlow' AND system = 0")
    if done.returncode == 0:
        assert user_tags == [("hello",)], "the run was not tagged: the parameter took --tag"
    else:
        assert "tag" in done.stderr and "Traceback" not in done.output
        assert fd.files() == {}


@pytest.mark.parametrize("args, words", [
    (["--settings", "{bad"], ["--settings", "JSON"]),
    (["--flag", "maybe"], ["--flag", "true or false"]),
    (["--count", "1.5"], ["--count", "1.5"]),
    (["--nums", "1,x"], ["--nums", "'x'"]),
])
def test_malformed_values_of_each_type_are_refused(module_fd, runs, args, words):
    before = module_fd.files()
    done = module_fd.run(*args, flow="params.py")
    assert done.returncode != 0
    for word in words:
        assert word in done.stderr, done
    assert "Traceback" not in done.output
    assert module_fd.files() == before
