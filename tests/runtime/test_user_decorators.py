"""Metaflow's user-defined decorators and mutators, and ``@exit_hook``, run end to end.

- ``@user_step_decorator`` generators: code before ``yield`` runs before the step, after it
  after; nesting order (the topmost is outermost); ``attributes``; ``inputs`` in a join;
  skipping (``USER_SKIP_STEP``, also on a foreach whose list the decorator set); swallowing
  the step's exception; yielding a replacement; ``--with module.decorator``.
- ``UserStepDecorator`` subclasses (``init``, ``pre_step``, ``post_step``).
- ``FlowMutator`` (``pre_mutate`` adds a parameter; ``mutate`` adds ``@retry`` and removes
  ``@environment``) and ``StepMutator`` (adds ``@environment`` from a config). Each mode runs
  the flow, and the subprocess mode rebuilds it in a fresh interpreter, so the mutators must
  give the same steps there.
- Mistakes are one line with the file:line; errors raised by a decorator fail the step.
- ``@exit_hook``: the functions run after the run, get ``run=``, print, and a failing hook
  changes nothing.
"""

from __future__ import annotations

import pytest

DECOS = '''
from headwater import (USER_SKIP_STEP, FlowMutator, Parameter, StepMutator, UserStepDecorator,
                       environment, retry, user_step_decorator)


@user_step_decorator
def trace(step_name, flow, inputs=None, attributes=None):
    flow.before = f"{step_name}:{attributes.get('tag', '-')}"
    yield
    flow.after = getattr(flow, "value", 0) + 1


@user_step_decorator
def outer(step_name, flow, inputs, attributes):
    flow.order = ["outer pre"]
    yield
    flow.order = flow.order + ["outer post"]


@user_step_decorator
def inner(step_name, flow, inputs):
    flow.order = flow.order + ["inner pre"]
    yield
    flow.order = flow.order + ["inner post"]


@user_step_decorator
def skip(step_name, flow, inputs=None, attributes=None):
    flow.skipped = step_name
    yield USER_SKIP_STEP


@user_step_decorator
def prefill(step_name, flow, inputs=None, attributes=None):
    flow.items = [1, 2, 3]
    yield {}


@user_step_decorator
def swallow(step_name, flow, inputs=None, attributes=None):
    try:
        yield
    except ValueError as exc:
        flow.caught = str(exc)


@user_step_decorator
def replace(step_name, flow, inputs=None, attributes=None):
    def instead(self):
        self.replaced = True
    yield instead


@user_step_decorator
def count_inputs(step_name, flow, inputs=None, attributes=None):
    flow.n_inputs = len(inputs)
    yield


class Scale(UserStepDecorator):
    def init(self, factor=1):
        self.factor = factor

    def pre_step(self, step_name, flow, inputs=None):
        flow.factor = self.factor

    def post_step(self, step_name, flow, exception=None):
        flow.x = flow.x * self.factor
        return exception


class EnvFromConfig(StepMutator):
    def init(self, key):
        self.key = key

    def mutate(self, mutable_step):
        value = mutable_step.flow.settings[self.key]
        mutable_step.add_decorator(environment, deco_kwargs={"vars": {"FROM_MUTATOR": value}})


class Harden(FlowMutator):
    def pre_mutate(self, mutable_flow):
        mutable_flow.add_parameter("added", Parameter("added", default=5))

    def mutate(self, mutable_flow):
        for name, s in mutable_flow.steps:
            if name == "flaky":
                s.add_decorator("retry:times=2,minutes_between_retries=0")
            if s.has_decorator("environment") and name == "cleaned":
                s.remove_decorator("environment")
'''

FLOW = '''
import os
from headwater import Config, environment
from mydecos import (Harden, Scale, EnvFromConfig, trace, outer, inner, skip, prefill, swallow,
                     replace, count_inputs)


@Harden
class DecoFlow(FlowSpec):
    settings = Config("settings", default_value={"env": "from config"})

    @trace(tag="x")
    @step
    def start(self):
        self.value = 1
        self.next(self.nested)

    @outer
    @inner
    @step
    def nested(self):
        self.order = self.order + ["step"]
        self.next(self.skipped_step)

    @step
    @skip
    def skipped_step(self):
        self.ran = True
        self.next(self.fan)

    @prefill
    @step
    def fan(self):
        self.items = ["never"]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.item = self.input
        self.next(self.gather)

    @count_inputs
    @step
    def gather(self, inputs):
        self.items_seen = sorted(i.item for i in inputs)
        self.next(self.failing)

    @swallow
    @step
    def failing(self):
        raise ValueError("swallowed")
        self.next(self.replaced_step)

    @replace
    @step
    def replaced_step(self):
        raise RuntimeError("never runs")
        self.next(self.scaled)

    @Scale(factor=3)
    @step
    def scaled(self):
        self.x = 2
        self.next(self.flaky)

    @EnvFromConfig("env")
    @step
    def flaky(self):
        from headwater import current
        self.from_mutator = os.environ.get("FROM_MUTATOR")
        self.added_value = self.added
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.next(self.cleaned)

    @environment(vars={"GONE": "1"})
    @step
    def cleaned(self):
        self.gone = os.environ.get("GONE")
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    DecoFlow()
'''


@pytest.fixture(scope="module")
def deco_run(module_fd):
    module_fd.write(DECOS, "mydecos.py", header=False)
    module_fd.write(FLOW, "decoflow.py")
    done = module_fd.run(flow="decoflow.py")
    assert done.returncode == 0, done
    return module_fd, done.run_id("DecoFlow")


def test_code_before_and_after_yield_runs_around_the_step_with_attributes(deco_run):
    fd, run = deco_run
    assert fd.value("DecoFlow", run, "start", "before") == "start:x"
    assert fd.value("DecoFlow", run, "start", "after") == 2


def test_the_topmost_decorator_is_outermost(deco_run):
    fd, run = deco_run
    assert fd.value("DecoFlow", run, "nested", "order") == [
        "outer pre", "inner pre", "step", "inner post", "outer post"]


def test_yielding_a_dict_skips_the_step_and_follows_the_graph(deco_run):
    fd, run = deco_run
    assert fd.value("DecoFlow", run, "skipped_step", "skipped") == "skipped_step"
    with fd.client():
        (task,) = fd.task_objects("DecoFlow", run, "skipped_step")
        assert "ran" not in task
    # a skipped foreach splits over the list its decorator set
    assert fd.value("DecoFlow", run, "gather", "items_seen") == [1, 2, 3]
    assert fd.value("DecoFlow", run, "gather", "n_inputs") == 3


def test_an_exception_caught_around_yield_lets_the_step_succeed(deco_run):
    fd, run = deco_run
    assert fd.value("DecoFlow", run, "failing", "caught") == "swallowed"
    assert fd.value("DecoFlow", run, "replaced_step", "replaced") is True


def test_user_step_decorator_class_with_init_pre_and_post_step(deco_run):
    fd, run = deco_run
    assert fd.value("DecoFlow", run, "scaled", "factor") == 3
    assert fd.value("DecoFlow", run, "scaled", "x") == 6


def test_mutators_add_and_remove_decorators_and_parameters(deco_run):
    fd, run = deco_run
    assert fd.value("DecoFlow", run, "flaky", "from_mutator") == "from config"
    assert fd.value("DecoFlow", run, "flaky", "added_value") == 5
    assert [t["attempt"] for t in fd.tasks("DecoFlow", run, "flaky")] == [1], "@retry added by mutate()"
    assert fd.value("DecoFlow", run, "cleaned", "gone") is None, "@environment removed by mutate()"


def test_a_parameter_added_by_a_mutator_is_an_option_of_run(deco_run):
    fd, _ = deco_run
    done = fd.cli("run", "--added", "7", flow="decoflow.py")
    assert done.returncode == 0, done
    assert fd.value("DecoFlow", done.run_id("DecoFlow"), "flaky", "added_value") == 7


def test_with_adds_a_user_decorator_by_import_path(deco_run):
    fd, _ = deco_run
    fd.write('''
class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.value = 41
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    PlainFlow()
''', "plain.py")
    done = fd.cli("--with", "mydecos.trace:tag=w", "run", flow="plain.py")
    assert done.returncode == 0, done
    run = done.run_id("PlainFlow")
    assert fd.value("PlainFlow", run, "start", "before") == "start:w"
    assert fd.value("PlainFlow", run, "start", "after") == 42
    assert fd.value("PlainFlow", run, "end", "before") == "end:w"
    # by its bare name when the flow's code imports it
    done = fd.cli("--with", "trace:tag=short", "run", flow="decoflow.py")
    assert done.returncode == 0, done
    assert fd.value("DecoFlow", done.run_id("DecoFlow"), "end", "before") == "end:short"


def test_errors_raised_by_a_decorator_fail_the_step_with_the_users_traceback(fd):
    fd.write('''
from headwater import user_step_decorator

@user_step_decorator
def guard(step_name, flow, inputs=None, attributes=None):
    raise RuntimeError("refused by guard")
    yield

class GuardFlow(FlowSpec):
    @guard
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    GuardFlow()
''')
    done = fd.run()
    assert done.returncode == 1, done
    assert "RuntimeError: refused by guard" in done.output
    assert "headwater/user_decorators.py" not in done.output and "headwater/task.py" not in done.output
    exc = fd.exception("GuardFlow", done.run_id("GuardFlow"), "start")
    assert exc.type == "RuntimeError"


@pytest.mark.parametrize("source, words", [
    ('''
from headwater import FlowMutator

class M(FlowMutator):
    pass

class BadFlow(FlowSpec):
    @M
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''', "is a FlowMutator: it decorates the flow class"),
    ('''
from headwater import StepMutator

class S(StepMutator):
    pass

@S
class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''', "goes above a step"),
    ('''
from headwater import UserStepDecorator

class NoInit(UserStepDecorator):
    pass

class BadFlow(FlowSpec):
    @NoInit(level=2)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''', "does not implement init()"),
    ('''
from headwater import exit_hook

@exit_hook
class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''', "at least one of on_success"),
    ('''
from headwater import StepMutator

class AddRetry(StepMutator):
    def mutate(self, mutable_step):
        mutable_step.add_decorator("retry:times=x2")

class BadFlow(FlowSpec):
    @AddRetry
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''', "times must be a whole number"),
    ('''
from headwater import user_step_decorator

@user_step_decorator
def not_a_generator(step_name, flow, inputs=None, attributes=None):
    print("no yield")

class BadFlow(FlowSpec):
    @not_a_generator
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''', "decorates a generator function"),
], ids=["flow-mutator-on-step", "step-mutator-on-class", "arguments-without-init", "bare-exit-hook",
        "bad-argument-from-a-mutator", "not-a-generator"])
def test_misuse_is_one_line_with_the_file_and_line(fd, source, words):
    fd.write(source + '\nif __name__ == "__main__":\n    BadFlow()\n')
    done = fd.cli("check")
    assert done.returncode != 0, done
    assert words in done.stderr, done
    lines = (fd.HEADER + source.lstrip("\n")).splitlines()
    marked = [i + 1 for i, line in enumerate(lines)
              if line.startswith(("    @M", "@S", "    @NoInit", "@exit_hook", "        mutable_step.add",
                                  "@user_step_decorator"))]
    assert f"flow.py:{marked[0]}" in done.stderr, done
    assert "Traceback" not in done.output


HOOKS = '''
from headwater import exit_hook

def announce(run):
    print(f"hook saw {run.pathspec} successful={run.successful}")

def broken():
    raise KeyError("hook broke")

def on_failure(run=None):
    print(f"error hook saw {run.pathspec}")

@exit_hook(on_success=[announce, broken], on_error=[on_failure])
class HookFlow(FlowSpec):
    fail = Parameter("fail", default=False)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        if self.fail:
            raise RuntimeError("end failed")

if __name__ == "__main__":
    HookFlow()
'''


def test_exit_hooks_run_after_the_run_and_never_change_its_outcome(fd):
    fd.write(HOOKS)
    done = fd.run()
    assert done.returncode == 0, done
    run = done.run_id("HookFlow")
    assert f"hook saw HookFlow/{run} successful=True" in done.stdout
    assert "[exit_hook] Hook 'broken' failed" in done.stdout
    assert "KeyError: 'hook broke'" in done.output
    assert "error hook saw" not in done.output
    assert done.stdout.index(f"Run HookFlow/{run} succeeded") < done.stdout.index("hook saw")

    failed = fd.run("--fail", "true")
    assert failed.returncode == 1, failed
    run = failed.run_id("HookFlow")
    assert f"error hook saw HookFlow/{run}" in failed.stdout
    assert "hook saw HookFlow" not in failed.stdout.replace("error hook saw", "")


DOCS_EXAMPLE = '''
from headwater import FlowMutator, Config, resources, user_step_decorator


@user_step_decorator
def fallback(step_name, flow, inputs=None, attributes=None):
    def _fallback_step(self):
        print("step failed: executing a fallback")
        var = attributes.get("indicator")
        if var:
            setattr(self, var, True)

    if current.retry_count == 0:
        yield
    else:
        yield _fallback_step


class robust_flow(FlowMutator):
    def init(self, *args, **kwargs):
        self.fallback_attributes = {}
        if kwargs.get("fallback_indicator"):
            self.fallback_attributes["indicator"] = kwargs["fallback_indicator"]

    def mutate(self, mutable_flow):
        for step_name, step in mutable_flow.steps:
            step.add_decorator("retry:minutes_between_retries=0", duplicates=step.IGNORE)
            step.add_decorator(fallback, deco_kwargs=self.fallback_attributes, duplicates=step.IGNORE)


class flow_linter(FlowMutator):
    def mutate(self, mutable_flow):
        limits = mutable_flow.limits
        for step_name, step in mutable_flow.steps:
            for deco_name, _module, _args, attributes in step.decorator_specs:
                if deco_name == "resources":
                    for key, limit in limits.items():
                        val = attributes.get(key)
                        if val and float(val) > limit:
                            print(f"Step[{step_name}] @{deco_name}({key}={val}) is over {limit} - fixed")
                            attributes[key] = limit
                            step.add_decorator(deco_name, deco_kwargs=attributes,
                                               duplicates=step.OVERRIDE)


@flow_linter
@robust_flow(fallback_indicator="failed")
class FailFlow(FlowSpec):
    limits = Config("limits", default_value={"cpu": 1})

    @resources(cpu=16)
    @step
    def start(self):
        import math
        x = 3
        for i in range(5):
            math.sqrt(x - i)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    FailFlow()
'''


def test_the_mutator_examples_of_metaflows_docs(fd):
    """``@robust_flow`` (``@retry`` and a ``@fallback`` that replaces the step on retries) and
    ``@flow_linter`` (rewrites ``@resources`` over a config's limits), from Metaflow's docs."""
    fd.write(DOCS_EXAMPLE)
    done = fd.run()
    assert done.returncode == 0, done
    run = done.run_id("FailFlow")
    assert "Step[start] @resources(cpu=16) is over 1 - fixed" in done.output
    assert "step failed: executing a fallback" in done.output
    assert fd.value("FailFlow", run, "start", "failed") is True
    assert [t["attempt"] for t in fd.tasks("FailFlow", run, "start")] == [1]


WIRED = '''
from headwater import FlowMutator, StepMutator, user_step_decorator


@user_step_decorator
def mark(step_name, flow, inputs, attributes):
    flow.marks = attributes["label"]
    yield


def done_hook():
    print("the flow's hook ran")


class Wire(FlowMutator):
    def pre_mutate(self, mutable_flow):
        mutable_flow.add_decorator("exit_hook:on_success=['done_hook']")

    def mutate(self, mutable_flow):
        for name, s in mutable_flow.steps:
            s.add_decorator(mark, deco_kwargs={"label": "from Wire"})


class Unmark(StepMutator):
    def mutate(self, mutable_step):
        names = sorted(spec[0] for spec in mutable_step.decorator_specs)
        print(f"decorators of {mutable_step.name}: {names}")
        assert mutable_step.remove_decorator("mark")
        assert not mutable_step.has_decorator("mark")


@Wire
class WiredFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @Unmark
    @step
    def end(self):
        pass

if __name__ == "__main__":
    WiredFlow()
'''


def test_mutators_add_user_decorators_and_exit_hooks_and_see_each_others_work(fd):
    fd.write(WIRED)
    done = fd.run()
    assert done.returncode == 0, done
    run = done.run_id("WiredFlow")
    assert "decorators of end: ['Unmark', 'mark']" in done.output
    assert fd.value("WiredFlow", run, "start", "marks") == "from Wire"
    with fd.client():
        (task,) = fd.task_objects("WiredFlow", run, "end")
        assert task["marks"].data == "from Wire", "inherited from start, not set again in end"
    assert "the flow's hook ran" in done.stdout


def test_a_run_stopped_by_sigterm_runs_the_error_hooks(fd):
    import signal

    fd.write('''
import time
from headwater import exit_hook

def on_err(run):
    print(f"error hook saw {run.pathspec}")

@exit_hook(on_error=[on_err])
class StopFlow(FlowSpec):
    @step
    def start(self):
        print("started", flush=True)
        time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    StopFlow()
''')
    proc = fd.popen("run")
    seen = []
    for line in proc.stdout:  # wait until the step runs
        seen.append(line)
        if "/start/" in line and "started" in line:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    out = "".join(seen) + out
    assert proc.returncode != 0, out + err
    assert "error hook saw StopFlow/" in out, out + err
