"""``merge_artifacts`` in a join: what it copies, what it refuses, and its error messages."""

from __future__ import annotations

import pytest

SPLIT = """
class {name}(FlowSpec):
    @step
    def start(self):
        self.shared = "from start"
        self.next(self.a, self.b)

    @step
    def a(self):
        self.same = [1, 2, 3]
        self.only_a = "a"
        self.differs = "a's value"
        self.also_differs = 1
        self.next(self.join)

    @step
    def b(self):
        self.same = [1, 2, 3]
        self.only_b = "b"
        self.differs = "b's value"
        self.also_differs = 2
        self.next(self.join)

    @step
    def join(self, inputs):
{join_body}
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    {name}()
"""


def make(name: str, join_body: str) -> str:
    body = "\n".join("        " + line for line in join_body.strip().splitlines())
    return SPLIT.format(name=name, join_body=body)


FLOWS = {
    "ok.py": make("MergeOkFlow", """
self.differs = "set in join"
self.also_differs = max(i.also_differs for i in inputs)
self.merge_artifacts(inputs)
"""),
    "conflict.py": make("ConflictFlow", "self.merge_artifacts(inputs)"),
    "exclude.py": make("ExcludeFlow", "self.merge_artifacts(inputs, exclude=['differs', 'also_differs'])"),
    "include.py": make("IncludeFlow", "self.merge_artifacts(inputs, include=['same', 'only_a'])"),
    "include_missing.py": make("IncludeMissingFlow",
                               "self.merge_artifacts(inputs, include=['same', 'nowhere'])"),
}

OUTSIDE = """
class OutsideJoinFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.merge_artifacts([self])
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    OutsideJoinFlow()
"""


@pytest.fixture(scope="module")
def runs(module_fd):
    for name, source in FLOWS.items():
        module_fd.write(source, name)
    module_fd.write(OUTSIDE, "outside.py")
    return {name: module_fd.run(flow=name) for name in [*FLOWS, "outside.py"]}


def test_equal_values_are_merged_and_values_set_in_the_join_win(module_fd, runs):
    assert runs["ok.py"].returncode == 0, runs["ok.py"]
    v = lambda name: module_fd.value("MergeOkFlow", 1, "join", name)
    assert v("same") == [1, 2, 3]
    assert v("only_a") == "a" and v("only_b") == "b"
    assert v("shared") == "from start"
    assert v("differs") == "set in join"
    assert v("also_differs") == 2
    # and they flow on to the next step
    assert module_fd.value("MergeOkFlow", 1, "end", "only_b") == "b"


def test_conflicting_values_fail_the_join_naming_the_artifacts(module_fd, runs):
    done = runs["conflict.py"]
    assert done.returncode != 0
    assert "merge_artifacts" in done.output
    assert "differs" in done.output and "also_differs" in done.output
    # the names that agree are not reported as conflicts
    line = next(ln for ln in done.output.splitlines() if "different values" in ln)
    assert "same" not in line and "only_a" not in line
    assert module_fd.runs("ConflictFlow") == [(1, "failed")]
    exc = module_fd.exception("ConflictFlow", 1, "join")
    assert "differs" in exc["message"] and "also_differs" in exc["message"]
    assert "MergeArtifacts" in exc["type"]
    assert module_fd.tasks("ConflictFlow", 1, "end") == []


def test_exclude_skips_the_conflicting_names(module_fd, runs):
    assert runs["exclude.py"].returncode == 0, runs["exclude.py"]
    names = {r[0] for r in module_fd.query(
        "SELECT name FROM artifacts a JOIN tasks t USING (flow, run_number, task_id)"
        " WHERE a.flow = 'ExcludeFlow' AND t.step = 'join'")}
    assert {"same", "only_a", "only_b", "shared"} <= names
    assert "differs" not in names and "also_differs" not in names


def test_include_copies_only_the_names_given(module_fd, runs):
    assert runs["include.py"].returncode == 0, runs["include.py"]
    names = {r[0] for r in module_fd.query(
        "SELECT name FROM artifacts a JOIN tasks t USING (flow, run_number, task_id)"
        " WHERE a.flow = 'IncludeFlow' AND t.step = 'join'")}
    assert {"same", "only_a"} <= names
    assert not names & {"only_b", "differs", "also_differs", "shared"}


def test_include_of_an_unknown_name_is_an_error_naming_it(module_fd, runs):
    done = runs["include_missing.py"]
    assert done.returncode != 0
    assert "nowhere" in done.output
    assert module_fd.runs("IncludeMissingFlow") == [(1, "failed")]


def test_merge_artifacts_outside_a_join_is_a_clear_error(module_fd, runs):
    done = runs["outside.py"]
    assert done.returncode != 0
    assert "merge_artifacts() can only be called in a join step" in done.output
    assert module_fd.runs("OutsideJoinFlow") == [(1, "failed")]
    assert module_fd.tasks("OutsideJoinFlow", 1, "end") == []
