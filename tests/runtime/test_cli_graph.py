"""``check``, ``show`` and ``output-dot`` through the command line, and lint refusing a run."""

from __future__ import annotations

import re

import pytest

GOOD = '''
class ShowFlow(FlowSpec):
    """A flow to look at."""

    @step
    def start(self):
        """Pick the items."""
        self.items = [1, 2]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        """Work on one item."""
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.decide)

    @step
    def decide(self):
        self.way = "x"
        self.next({"x": self.left, "y": self.right}, condition="way")

    @step
    def left(self):
        self.next(self.end)

    @step
    def right(self):
        self.next(self.end)

    @step
    def end(self):
        """All done."""

if __name__ == "__main__":
    ShowFlow()
'''

BROKEN = """
class BrokenFlow(FlowSpec):
    @step
    def start(self):
        print("start ran")
        self.next(self.middel)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    BrokenFlow()
"""

DEVIATES = """
class DeviatesFlow(FlowSpec):
    @step
    def start(self):
        self.fast = True
        if self.fast:
            self.next(self.b)
            return
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    DeviatesFlow()
"""


@pytest.fixture(scope="module")
def good(module_fd):
    module_fd.write(GOOD, "good.py")
    return module_fd


def line_of(path, text):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_check_passes_a_good_flow(good):
    done = good.cli("check", flow="good.py")
    assert done.returncode == 0, done
    assert "ShowFlow" in done.stdout and "no problems" in done.stdout
    assert good.files() == {}, "check writes nothing"


def test_show_lists_steps_docstrings_and_transitions(good):
    done = good.cli("show", flow="good.py")
    assert done.returncode == 0, done
    out = done.stdout
    assert "A flow to look at." in out
    order = [m for m in re.findall(r"Step (\w+)", out)]
    assert order[0] == "start" and order[-1] == "end"
    assert set(order) == {"start", "body", "join", "decide", "left", "right", "end"}
    assert "Pick the items." in out and "Work on one item." in out and "All done." in out
    assert "foreach items" in out
    assert re.search(r"switch on way: 'x' -> left, 'y' -> right", out)
    start_line = line_of(good.path / "good.py", "def start")
    assert f"line {start_line}" in out


def test_output_dot_is_a_graphviz_digraph(good):
    done = good.cli("output-dot", flow="good.py")
    assert done.returncode == 0, done
    out = done.stdout
    assert out.lstrip().startswith('digraph "ShowFlow"') and out.rstrip().endswith("}")
    edges = set(re.findall(r'"(\w+)" -> "(\w+)"', out))
    assert edges == {("start", "body"), ("body", "join"), ("join", "decide"),
                     ("decide", "left"), ("decide", "right"), ("left", "end"), ("right", "end")}
    assert re.search(r'"decide" -> "left" \[label="x"\]', out)
    assert "foreach items" in out


def test_check_reports_a_broken_flow_with_file_and_line(fd):
    path = fd.write(BROKEN)
    done = fd.cli("check")
    assert done.returncode != 0
    lineno = line_of(path, "self.next(self.middel)")
    assert re.search(rf"flow\.py:{lineno}:", done.stderr), done
    assert "middel" in done.stderr and "middle" in done.stderr, "names the typo and the fix"
    assert "Traceback" not in done.output


def test_run_refuses_a_flow_that_fails_check_and_writes_nothing(fd):
    path = fd.write(BROKEN)
    done = fd.run()
    assert done.returncode != 0
    lineno = line_of(path, "self.next(self.middel)")
    assert re.search(rf"flow\.py:{lineno}:", done.stderr), done
    assert "start ran" not in done.output
    assert fd.files() == {}


def test_show_of_a_broken_flow_reports_the_problem(fd):
    fd.write(BROKEN)
    done = fd.cli("show")
    assert done.returncode != 0
    assert "middel" in done.stderr


def test_runtime_deviation_from_the_graph_fails_the_task_clearly(fd):
    path = fd.write(DEVIATES)
    done = fd.run()
    assert done.returncode != 0
    assert fd.runs("DeviatesFlow") == [(1, "failed")]
    message = fd.exception("DeviatesFlow", 1, "start")["message"]
    assert "self.next(self.b)" in message
    assert f"flow.py:{line_of(path, 'self.next(self.a)')}" in message
    assert "self.next(self.b)" in done.stdout
    assert fd.tasks("DeviatesFlow", 1, "b") == [] and fd.tasks("DeviatesFlow", 1, "a") == []
