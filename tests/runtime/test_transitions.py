"""Every kind of transition, run for real: what each task sees and what the run records."""

from __future__ import annotations

import pytest

LINEAR = """
class LinearFlow(FlowSpec):
    @step
    def start(self):
        self.trail = ["start"]
        self.next(self.middle)

    @step
    def middle(self):
        self.trail = self.trail + ["middle"]
        self.untouched = "set in middle"
        self.next(self.end)

    @step
    def end(self):
        self.trail = self.trail + ["end"]
        print("trail:", "/".join(self.trail), "|", self.untouched)

if __name__ == "__main__":
    LinearFlow()
"""

SPLIT = """
import time

class SplitFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        time.sleep(0.3)  # finish last: inputs still come in split order
        self.x = self.base + 1
        self.next(self.join)

    @step
    def b(self):
        self.x = self.base + 2
        self.next(self.join)

    @step
    def c(self):
        self.x = self.base + 3
        self.next(self.join)

    @step
    def join(self, inputs):
        self.by_name = [inputs.a.x, inputs.b.x, inputs.c.x]
        self.in_order = [i.x for i in inputs]
        self.first, self.last = inputs[0].x, inputs[-1].x
        self.count = len(inputs)
        self.base_seen = inputs.b.base
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    SplitFlow()
"""

FOREACH = """
import time

class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.letters = ["p", "q", "r", "s"]
        self.next(self.body, foreach="letters")

    @step
    def body(self):
        if self.index == 0:
            time.sleep(0.3)  # finish last: inputs still come in foreach order
        self.got = (self.input, self.index, self.foreach_stack())
        self.upper = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.joined = "".join(i.upper for i in inputs)
        self.gots = [i.got for i in inputs]
        self.outside_input = self.input
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    ForeachFlow()
"""

NESTED = """
class NestedFlow(FlowSpec):
    @step
    def start(self):
        self.rows = ["r0", "r1"]
        self.next(self.outer, foreach="rows")

    @step
    def outer(self):
        self.row = self.input
        self.cols = [10, 20, 30]
        self.next(self.inner, foreach="cols")

    @step
    def inner(self):
        self.cell = (self.row, self.input)
        self.stack = self.foreach_stack()
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.cells = [i.cell for i in inputs]
        self.row = inputs[0].row
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.grid = [i.cells for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    NestedFlow()
"""

SWITCH = """
class SwitchFlow(FlowSpec):
    level = Parameter("level", default="high")

    @step
    def start(self):
        self.choice = "hi" if self.level == "high" else "lo"
        self.next({"hi": self.high, "lo": self.low}, condition="choice")

    @step
    def high(self):
        self.path = "high"
        self.next(self.end)

    @step
    def low(self):
        self.path = "low"
        self.next(self.end)

    @step
    def end(self):
        print("took", self.path)

if __name__ == "__main__":
    SwitchFlow()
"""

LOOP = """
class LoopFlow(FlowSpec):
    @step
    def start(self):
        self.n = 0
        self.seen = []
        self.next(self.again)

    @step
    def again(self):
        self.n += 1
        self.seen = self.seen + [current.task_id]
        self.more = "yes" if self.n < 4 else "no"
        self.next({"yes": self.again, "no": self.end}, condition="more")

    @step
    def end(self):
        pass

if __name__ == "__main__":
    LoopFlow()
"""

ONE_STEP = """
class OneStepFlow(FlowSpec):
    @step(start=True, end=True)
    def only(self):
        self.done = current.step_name
        print("the only step ran")

if __name__ == "__main__":
    OneStepFlow()
"""

RENAMED = """
class RenamedFlow(FlowSpec):
    @step(start=True)
    def begin(self):
        self.trail = [current.step_name]
        self.next(self.work)

    @step
    def work(self):
        self.trail = self.trail + [current.step_name]
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        self.trail = self.trail + [current.step_name]

if __name__ == "__main__":
    RenamedFlow()
"""

FLOWS = {
    "linear.py": LINEAR, "split.py": SPLIT, "foreach.py": FOREACH, "nested.py": NESTED,
    "switch.py": SWITCH, "loop.py": LOOP, "onestep.py": ONE_STEP, "renamed.py": RENAMED,
}


@pytest.fixture(scope="module")
def runs(module_fd):
    """Run each flow once; the switch flow once per branch."""
    done = {}
    for name, source in FLOWS.items():
        module_fd.write(source, name)
    for name in FLOWS:
        done[name] = module_fd.run(flow=name)
    done["switch_low"] = module_fd.run("--level", "low", flow="switch.py")
    return done


def ok(done):
    assert done.returncode == 0, done
    return done


def test_linear_artifacts_flow_from_step_to_step(module_fd, runs):
    out = ok(runs["linear.py"]).stdout
    assert "trail: start/middle/end | set in middle" in out
    assert module_fd.runs("LinearFlow") == [(1, "succeeded")]
    assert module_fd.steps_run("LinearFlow", 1) == ["start", "middle", "end"]
    assert module_fd.value("LinearFlow", 1, "end", "trail") == ["start", "middle", "end"]
    # an artifact not touched in 'end' is still part of the end task
    assert module_fd.value("LinearFlow", 1, "end", "untouched") == "set in middle"


def test_static_split_join_sees_branches_by_name_in_order_by_index(module_fd, runs):
    ok(runs["split.py"])
    v = lambda name: module_fd.value("SplitFlow", 1, "join", name)
    assert v("by_name") == [11, 12, 13]
    assert v("in_order") == [11, 12, 13]
    assert (v("first"), v("last")) == (11, 13)
    assert v("count") == 3
    assert v("base_seen") == 10
    assert sorted(module_fd.steps_run("SplitFlow", 1)) == sorted(
        ["start", "a", "b", "c", "join", "end"])


def test_foreach_tasks_see_input_index_and_stack(module_fd, runs):
    ok(runs["foreach.py"])
    gots = module_fd.value("ForeachFlow", 1, "join", "gots")
    assert [g[0] for g in gots] == ["p", "q", "r", "s"]
    assert [g[1] for g in gots] == [0, 1, 2, 3]
    # foreach_stack: (index, num_splits, value) for the one open foreach
    assert [list(map(tuple, g[2])) for g in gots] == [
        [(i, 4, v)] for i, v in enumerate("pqrs")]
    assert module_fd.value("ForeachFlow", 1, "join", "joined") == "PQRS"
    assert module_fd.value("ForeachFlow", 1, "join", "outside_input") is None
    body = module_fd.tasks("ForeachFlow", 1, "body")
    assert len(body) == 4 and all(t["status"] == "succeeded" for t in body)


def test_nested_foreach_runs_every_cell_and_joins_in_order(module_fd, runs):
    ok(runs["nested.py"])
    grid = module_fd.value("NestedFlow", 1, "outer_join", "grid")
    assert grid == [[("r0", 10), ("r0", 20), ("r0", 30)], [("r1", 10), ("r1", 20), ("r1", 30)]]
    stacks = module_fd.values("NestedFlow", 1, "inner", "stack")
    assert len(stacks) == 6
    assert sorted((s[0][0], s[1][0]) for s in stacks) == [(i, j) for i in range(2) for j in range(3)]
    assert all(s[0][1] == 2 and s[1][1] == 3 for s in stacks)
    assert len(module_fd.tasks("NestedFlow", 1, "inner_join")) == 2


def test_conditional_takes_the_high_branch(module_fd, runs):
    done = ok(runs["switch.py"])
    assert "took high" in done.stdout
    assert module_fd.steps_run("SwitchFlow", 1) == ["start", "high", "end"]


def test_conditional_takes_the_low_branch(module_fd, runs):
    done = ok(runs["switch_low"])
    assert "took low" in done.stdout
    assert module_fd.steps_run("SwitchFlow", 2) == ["start", "low", "end"]
    assert module_fd.value("SwitchFlow", 2, "end", "path") == "low"


def test_conditional_self_loop_makes_a_new_task_per_iteration(module_fd, runs):
    ok(runs["loop.py"])
    assert module_fd.steps_run("LoopFlow", 1) == ["start", "again", "again", "again", "again", "end"]
    ids = [t["id"] for t in module_fd.tasks("LoopFlow", 1, "again")]
    assert len(set(ids)) == 4
    assert module_fd.value("LoopFlow", 1, "end", "n") == 4
    assert module_fd.value("LoopFlow", 1, "end", "seen") == [str(i) for i in ids]


def test_one_step_flow_is_both_start_and_end(module_fd, runs):
    done = ok(runs["onestep.py"])
    assert "the only step ran" in done.stdout
    assert module_fd.steps_run("OneStepFlow", 1) == ["only"]
    assert module_fd.value("OneStepFlow", 1, "only", "done") == "only"


def test_start_and_end_may_have_other_names(module_fd, runs):
    ok(runs["renamed.py"])
    assert module_fd.steps_run("RenamedFlow", 1) == ["begin", "work", "finish"]
    assert module_fd.value("RenamedFlow", 1, "finish", "trail") == ["begin", "work", "finish"]


def test_every_run_is_recorded_as_succeeded(module_fd, runs):
    assert all(status == "succeeded" for _, _, status in module_fd.runs())
    assert len(module_fd.runs()) == len(FLOWS) + 1


NESTED_JOIN_INPUT = """
class NestedInputFlow(FlowSpec):
    @step
    def start(self):
        self.rows = ["r0", "r1"]
        self.next(self.outer, foreach="rows")

    @step
    def outer(self):
        self.cols = [10, 20]
        self.next(self.inner, foreach="cols")

    @step
    def inner(self):
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.outer_index = self.index
        self.outer_input = self.input
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    NestedInputFlow()
"""


def test_input_in_the_join_of_a_nested_foreach(fd):
    fd.write(NESTED_JOIN_INPUT)
    done = fd.run()
    assert done.returncode == 0, done
    assert sorted(fd.values("NestedInputFlow", 1, "inner_join", "outer_index")) == [0, 1]
    assert sorted(fd.values("NestedInputFlow", 1, "inner_join", "outer_input"),
                  key=str) in ([None, None], ["r0", "r1"])


STACK_VALUES = """
class StackValueFlow(FlowSpec):
    @step
    def start(self):
        self.models = [{"name": "m1", "depth": 3}, "x" * 100]
        self.next(self.outer, foreach="models")

    @step
    def outer(self):
        self.seeds = [1, 2]
        self.next(self.inner, foreach="seeds")

    @step
    def inner(self):
        # The Metaflow way to reach the outer foreach's item from an inner foreach.
        self.outer_item = self.foreach_stack()[0][2]
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.items = [i.outer_item for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.items = [i.items[0] for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    StackValueFlow()
"""


def test_foreach_stack_values_are_the_items_themselves(fd):
    fd.write(STACK_VALUES)
    done = fd.run()
    assert done.returncode == 0, done
    assert fd.value("StackValueFlow", 1, "outer_join", "items") == [
        {"name": "m1", "depth": 3}, "x" * 100]
