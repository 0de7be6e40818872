"""Lint rules: every valid shape passes, every rule fires with the step name and line.

A flow's source is written to a file (the graph reads source code); ``# <-`` marks the line
a finding must point at.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import textwrap

import pytest

from headwater.exceptions import LintError
from headwater.graph import FlowGraph
from headwater.lint import Finding, check, lint

HEADER = "from headwater.decorators import step\nfrom headwater.plugins.parallel import parallel\n\n\n"
MARK = "# <-"
_counter = itertools.count()


@pytest.fixture
def load_flow(tmp_path):
    """Write flow source to a module file, import it, and return its only class."""

    def load(source: str) -> type:
        text = HEADER + textwrap.dedent(source)
        path = tmp_path / f"lintflow_{next(_counter)}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        (cls,) = [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == path.stem]
        cls.marked_line = next((i for i, line in enumerate(text.splitlines(), 1) if MARK in line), None)
        return cls

    return load


# -- valid flows ------------------------------------------------------------------------

VALID = {
    "linear": """
        class LinearFlow:
            @step
            def start(self):
                '''Docstrings are fine.'''
                self.next(self.middle)

            @step
            def middle(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """,
    "static_split": """
        class SplitFlow:
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.join)

            @step
            def b(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
    """,
    "foreach": """
        class ForeachFlow:
            @step
            def start(self):
                self.items = [1, 2]
                self.next(self.body, foreach="items")

            @step
            def body(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
    """,
    "nested_foreach_and_split": """
        class NestedFlow:
            @step
            def start(self):
                self.next(self.outer, foreach="xs")

            @step
            def outer(self):
                self.next(self.inner, foreach="ys")

            @step
            def inner(self):
                self.next(self.left, self.right)

            @step
            def left(self):
                self.next(self.join_branches)

            @step
            def right(self):
                self.next(self.join_branches)

            @step
            def join_branches(self, inputs):
                self.next(self.join_inner)

            @step
            def join_inner(self, inputs):
                self.next(self.join_outer)

            @step
            def join_outer(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
    """,
    "switch": """
        class SwitchFlow:
            @step
            def start(self):
                self.route = "high"
                self.next({"high": self.high, "low": self.low, "skip": self.end}, condition="route")

            @step
            def high(self):
                self.next(self.merge)

            @step
            def low(self):
                self.next(self.merge)

            @step
            def merge(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """,
    "switch_self_loop": """
        class LoopFlow:
            @step
            def start(self):
                self.next(self.again)

            @step
            def again(self):
                self.next({"again": self.again, "done": self.end}, condition="status")

            @step
            def end(self):
                pass
    """,
    "switch_inside_foreach": """
        class SwitchInForeachFlow:
            @step
            def start(self):
                self.next(self.body, foreach="items")

            @step
            def body(self):
                self.next({1: self.small, 2: self.big}, condition="size")

            @step
            def small(self):
                self.next(self.join)

            @step
            def big(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
    """,
    "custom_start_end_names": """
        class NamedFlow:
            @step(start=True)
            def begin(self):
                self.next(self.finish)

            @step(end=True)
            def finish(self):
                pass
    """,
    "one_step_flagged": """
        class OneStepFlow:
            @step(start=True, end=True)
            def only(self):
                self.x = 1
    """,
    "one_step_named_start": """
        class OneStartFlow:
            @step(end=True)
            def start(self):
                pass
    """,
}


@pytest.mark.parametrize("name", VALID)
def test_valid_flows_have_no_findings(load_flow, name):
    graph = FlowGraph(load_flow(VALID[name]))
    assert lint(graph) == []
    check(graph)  # does not raise


# -- one test per rule ------------------------------------------------------------------

END = """
            @step
            def end(self):
                pass
"""  # indented like the class bodies below, which it completes

CASES = [
    ("reserved-name", "index", """
        class F:
            @step
            def start(self):
                self.next(self.index)

            @step
            def index(self):  # <-
                self.next(self.end)
    """ + END),
    ("invalid-name", "TrainModel", """
        class F:
            @step
            def start(self):
                self.next(self.TrainModel)

            @step
            def TrainModel(self):  # <-
                self.next(self.end)
    """ + END),
    ("missing-start", "start", """
        class F:
            @step
            def begin(self):  # <-
                self.next(self.end)
    """ + END),
    ("missing-end", "end", """
        class F:
            @step
            def start(self):
                self.next(self.finish)

            @step
            def finish(self):  # <-
                pass
    """),
    ("multiple-start", "two", """
        class F:
            @step(start=True)
            def one(self):
                self.next(self.end)

            @step(start=True)
            def two(self):  # <-
                self.next(self.end)
    """ + END),
    ("multiple-end", "fin", """
        class F:
            @step
            def start(self):
                self.next(self.done, self.fin)

            @step(end=True)
            def done(self):
                pass

            @step(end=True)
            def fin(self):  # <-
                pass
    """),
    ("ambiguous-start", "begin", """
        class F:
            @step(start=True)
            def begin(self):
                self.next(self.end)

            @step
            def start(self):  # <-
                self.next(self.end)
    """ + END),
    ("start-is-join", "start", """
        class F:
            @step
            def start(self, inputs):  # <-
                self.next(self.end)
    """ + END),
    ("start-has-incoming", "back", """
        class F:
            @step
            def start(self):
                self.next(self.back)

            @step
            def back(self):
                self.next(self.start)  # <-
    """ + END),
    ("end-has-next", "end", """
        class F:
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                self.next(self.start)  # <-
    """),
    ("end-is-join", "end", """
        class F:
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.end)

            @step
            def b(self):
                self.next(self.end)

            @step
            def end(self, inputs):  # <-
                pass
    """),
    ("too-many-arguments", "train", """
        class F:
            @step
            def start(self):
                self.next(self.train)

            @step
            def train(self, inputs, extra):  # <-
                self.next(self.end)
    """ + END),
    ("missing-self", "start", """
        class F:
            @step
            def start():  # <-
                self.next(self.end)
    """ + END),
    ("join-and-split", "join", """
        class F:
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.join)

            @step
            def b(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.c, foreach="xs")  # <-

            @step
            def c(self):
                self.next(self.end)
    """ + END),
    ("missing-next", "train", """
        class F:
            @step
            def start(self):
                self.next(self.train)

            @step
            def train(self):  # <-
                self.next(self.end)
                print("self.next must be the last line")
    """ + END),
    ("invalid-next", "start", """
        class F:
            @step
            def start(self):
                self.next(self.end, foreach=ITEMS)  # <-
    """ + END),
    ("invalid-next", "start", """
        class F:
            @step
            def start(self):
                self.next({"a": self.a, "b": self.end}, condition=ROUTE)  # <-

            @step
            def a(self):
                self.next(self.end)
    """ + END),
    ("unknown-transition", "trian", """
        class F:
            @step
            def start(self):
                self.next(self.trian)  # <-

            @step
            def train(self):
                self.next(self.end)
    """ + END),
    ("switch-keys", "start", """
        class F:
            @step
            def start(self):
                self.next({KEY: self.a, "b": self.end}, condition="route")  # <-

            @step
            def a(self):
                self.next(self.end)
    """ + END),
    ("switch-cases", "start", """
        class F:
            @step
            def start(self):
                self.next({"a": self.end, "b": self.end}, condition="route")  # <-
    """ + END),
    ("empty-foreach", "join", """
        class F:
            @step
            def start(self):
                self.next(self.join, foreach="items")  # <-

            @step
            def join(self, inputs):
                self.next(self.end)
    """ + END),
    ("switch-into-join", "join", """
        class F:
            @step
            def start(self):
                self.next(self.body, foreach="items")

            @step
            def body(self):
                self.next({"x": self.join, "y": self.other}, condition="route")  # <-

            @step
            def other(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)
    """ + END),
    ("cycle", "a -> b -> a", """
        class F:
            @step
            def start(self):
                self.next(self.a)

            @step
            def a(self):
                self.next(self.b)

            @step
            def b(self):
                self.next(self.a)  # <-
    """ + END),
    ("cycle", "again", """
        class F:
            @step
            def start(self):
                self.next(self.again)

            @step
            def again(self):
                self.next(self.again)  # <-
    """ + END),
    ("cycle", "check -> retry -> check", """
        class F:
            @step
            def start(self):
                self.next(self.check)

            @step
            def check(self):
                self.next({"again": self.retry, "done": self.end}, condition="status")

            @step
            def retry(self):
                self.next(self.check)  # <-
    """ + END),
    ("orphan", "lost", """
        class F:
            @step
            def start(self):
                self.next(self.end)

            @step
            def lost(self):  # <-
                self.next(self.end)
    """ + END),
    ("join-without-split", "merge", """
        class F:
            @step
            def start(self):
                self.next({"x": self.a, "y": self.b}, condition="route")

            @step
            def a(self):
                self.next(self.merge)

            @step
            def b(self):
                self.next(self.merge)

            @step
            def merge(self, inputs):  # <-
                self.next(self.end)
    """ + END),
    ("cross-join", "cross", """
        class F:
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.a1, self.a2)

            @step
            def a1(self):
                self.next(self.cross)

            @step
            def a2(self):
                self.next(self.cross)

            @step
            def b(self):
                self.next(self.cross)

            @step
            def cross(self, inputs):  # <-
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)
    """ + END),
    ("join-mismatch", "c never reach", """
        class F:
            @step
            def start(self):
                self.next(self.a, self.b, self.c)

            @step
            def a(self):
                self.next(self.join)

            @step
            def b(self):
                self.next(self.join)

            @step
            def c(self):
                self.next(self.other)

            @step
            def other(self):
                self.next(self.join2)

            @step
            def join(self, inputs):  # <-
                self.next(self.join2)

            @step
            def join2(self, inputs):
                self.next(self.end)
    """ + END),
    ("missing-inputs", "merge", """
        class F:
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.merge)

            @step
            def b(self):
                self.next(self.merge)

            @step
            def merge(self):  # <-
                self.next(self.end)
    """ + END),
    ("num-parallel", "num_parallel=", """
        class F:
            @step
            def start(self):
                self.next(self.train, num_parallel=4)  # <-

            @step
            def train(self):
                self.next(self.end)
    """ + END),
    ("parallel-without-num", "num_parallel=N", """
        class F:
            @step
            def start(self):
                self.next(self.train)

            @parallel
            @step
            def train(self):  # <-
                self.next(self.end)
    """ + END),
    ("unjoined-split", "start", """
        class F:
            @step
            def start(self):
                self.next(self.body, foreach="items")  # <-

            @step
            def body(self):
                self.next(self.end)
    """ + END),
]


@pytest.mark.parametrize(
    ("rule_id", "expected_text", "source"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_rule(load_flow, rule_id, expected_text, source):
    flow = load_flow(source)
    findings = lint(FlowGraph(flow))
    matching = [f for f in findings if f.rule == rule_id]
    assert matching, f"no {rule_id} finding in {[str(f) for f in findings]}"
    finding = matching[0]
    assert expected_text in finding.message
    assert finding.lineno == flow.marked_line
    assert finding.file is not None and finding.file.endswith(".py")
    assert str(finding).startswith(f"{finding.file}:{flow.marked_line}: ")


def test_unknown_transition_suggests_closest_step(load_flow):
    flow = load_flow(CASES[[c[0] for c in CASES].index("unknown-transition")][2])
    (finding,) = [f for f in lint(FlowGraph(flow)) if f.rule == "unknown-transition"]
    assert "Did you mean self.train?" in finding.message


def test_missing_next_tells_how_to_fix(load_flow):
    flow = load_flow(CASES[[c[0] for c in CASES].index("missing-next")][2])
    (finding,) = lint(FlowGraph(flow))
    assert "add self.next(self.<step>) as the last line" in finding.message.lower()


def test_one_typo_is_reported_once(load_flow):
    # The misspelt target leaves 'train' unreachable; that knock-on is not reported.
    flow = load_flow(CASES[[c[0] for c in CASES].index("unknown-transition")][2])
    assert [f.rule for f in lint(FlowGraph(flow))] == ["unknown-transition"]


def test_several_problems_are_all_reported(load_flow):
    flow = load_flow("""
        class F:
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.join)

            @step
            def b(self):
                self.next(self.jion)

            @step
            def join(self, inputs):
                print("forgot self.next")

            @step
            def name(self, inputs, extra):
                self.next(self.end)

            @step
            def end(self):
                self.next(self.start)
    """)
    rules = {f.rule for f in lint(FlowGraph(flow))}
    assert {
        "unknown-transition", "missing-next", "reserved-name",
        "too-many-arguments", "end-has-next",
    } <= rules
    with pytest.raises(LintError) as err:
        check(FlowGraph(flow))
    assert len(err.value.findings) == len(lint(FlowGraph(flow)))
    assert "jion" in str(err.value)


def test_flow_without_steps(load_flow):
    findings = lint(FlowGraph(load_flow("class F:\n    pass\n")))
    assert [(f.rule, f.lineno) for f in findings] == [("missing-start", None), ("missing-end", None)]


def test_finding_str_without_location():
    assert str(Finding("missing-start", "No start step.")) == "No start step."
    assert str(Finding("x", "msg", "flow.py", None)) == "flow.py: msg"
    assert str(Finding("x", "msg", "flow.py", 3, "a")) == "flow.py:3: msg"
