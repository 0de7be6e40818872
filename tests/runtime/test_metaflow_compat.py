"""Metaflow users' habits, kept: what its tooling reads of a flow, the names its users import,
its commands for reading a run, and its local runtime's behaviour.

- A flow built without the command line (``FlowSpec(use_cli=False)``), iterated for its steps,
  its graph in Metaflow's words (``flow._graph[name].type``, ``in_funcs``, ``out_funcs``), and,
  inside a running step, ``self._current_step`` and ``self._foreach_stack`` (also in a resumed
  run, whose tasks run again from records).
- ``get_metadata``/``metadata``/``default_metadata``, ``parallel_map``, ``profile``,
  ``ConfigValue``, and a clear ImportError for names of capabilities not here yet.
- ``dump --private``, ``logs --stdout/--stderr`` (only the text, to pipe it), ``tag list
  --flat``; ``@retry`` without ``minutes_between_retries`` retrying at once;
  ``merge_artifacts(include=[a parameter])``; ``METAFLOW_RUN_<NAME>``; the client's
  ``finished``, ``origin_pathspec``, ``parent_steps``/``child_steps``.
"""

from __future__ import annotations

import os
import platform
import time

import pytest

import headwater
from headwater import FlowSpec, step


class ShapesFlow(FlowSpec):
    """Every kind of step Metaflow names. Built here, never run."""

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
        self.next(self.fan)

    @step
    def fan(self):
        self.items = [1, 2]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.next(self.choose)

    @step
    def choose(self):
        self.next({"x": self.side, "y": self.end}, condition="pick")

    @step
    def side(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_a_flow_built_without_the_command_line_is_read_as_metaflow_reads_it():
    flow = ShapesFlow(use_cli=False)  # no command line parsed, nothing run
    assert flow.name == "ShapesFlow"
    assert [s.name for s in flow] == ["start", "a", "b", "join", "fan", "body", "gather",
                                      "choose", "side", "end"]
    graph = flow._graph
    assert graph is ShapesFlow._graph  # the class's graph, read once
    types = {node.name: node.type for node in graph}
    assert types == {"start": "split", "a": "linear", "b": "linear", "join": "join",
                     "fan": "foreach", "body": "linear", "gather": "join",
                     "choose": "split-switch", "side": "linear", "end": "end"}
    assert graph["join"].in_funcs == ["a", "b"]
    assert graph["start"].out_funcs == ["a", "b"]
    assert sorted(graph["end"].in_funcs) == ["choose", "side"]
    assert graph["choose"].out_funcs == ["side", "end"]
    assert graph["fan"].foreach_param == "items"
    assert flow._current_step is None and flow._foreach_stack == []


class LinearFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_start_of_a_linear_flow_is_start():
    assert [(n.name, n.type) for n in LinearFlow(use_cli=False)._graph] == [
        ("start", "start"), ("end", "end")]


STACK_FLOW = """
import os

class StackFlow(FlowSpec):
    @step
    def start(self):
        self.outer = ["p", "q"]
        self.next(self.body, foreach="outer")

    @step
    def body(self):
        self.inner = [10, 20, 30]
        self.next(self.leaf, foreach="inner")

    @step
    def leaf(self):
        if os.environ.get("FAIL_LEAF"):
            raise RuntimeError("leaf fails this time")
        self.seen = (self._current_step,
                     [(f.var, f.index, f.num_splits) for f in self._foreach_stack])
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.seen = [i.seen for i in inputs]
        self.join_stack = [(f.var, f.index) for f in self._foreach_stack]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.everything = [i.seen for i in inputs]
        self.join_stacks = [i.join_stack for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.step_here = self._current_step

if __name__ == "__main__":
    StackFlow()
"""


def test_current_step_and_foreach_stack_inside_steps_and_after_resume(fd):
    fd.write(STACK_FLOW)
    failed = fd.run(FAIL_LEAF="1")
    assert failed.returncode == 1, failed
    done = fd.resume()  # every leaf runs again, from the records of the failed run
    assert done.returncode == 0, done
    run_id = done.run_id("StackFlow")
    everything = fd.value("StackFlow", run_id, "outer_join", "everything")
    expected = [[("leaf", [("outer", o, 2), ("inner", i, 3)]) for i in range(3)] for o in range(2)]
    assert everything == expected
    assert fd.value("StackFlow", run_id, "outer_join", "join_stacks") == [[("outer", 0)],
                                                                          [("outer", 1)]]
    assert fd.value("StackFlow", run_id, "end", "step_here") == "end"
    # The client reads the two runs as Metaflow's does.
    with fd.client() as hw:
        first = hw.Run(f"StackFlow/{failed.run_id('StackFlow')}")
        assert first.status == "failed" and not first.finished and not first.successful
        resumed = hw.Run(f"StackFlow/{run_id}")
        assert resumed.finished and resumed.origin_pathspec == first.pathspec
        leaf = resumed["leaf"]
        assert leaf.origin_pathspec == f"{first.pathspec}/leaf"
        assert [s.id for s in leaf.parent_steps] == ["body"]
        assert [s.id for s in leaf.child_steps] == ["inner_join"]
        assert [s.id for s in resumed["start"].parent_steps] == []
        assert [s.id for s in resumed["end"].child_steps] == []
        assert first["start"].origin_pathspec is None


# -- names Metaflow users import ------------------------------------------------------------------

def test_metadata_functions_speak_metaflows_strings(tmp_path, monkeypatch):
    from headwater import default_metadata, get_metadata, metadata
    from headwater.client import ClientError
    from headwater.client.stores import clear_cache

    home, other = tmp_path / "home" / ".headwater", tmp_path / "other"
    home.mkdir(parents=True)
    (other / ".headwater").mkdir(parents=True)
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    clear_cache()
    try:
        assert get_metadata() == f"local@{os.path.realpath(home)}"
        # a folder holding .headwater, or the datastore folder itself, with or without local@
        assert metadata(f"local@{other}") == f"local@{os.path.realpath(other / '.headwater')}"
        assert get_metadata() == f"local@{os.path.realpath(other / '.headwater')}"
        assert metadata(str(home)) == f"local@{os.path.realpath(home)}"
        assert metadata(get_metadata()) == get_metadata()  # round trip
        assert default_metadata() == f"local@{os.path.realpath(home)}"
        # the team's service: read through it until told otherwise
        assert metadata("service@http://127.0.0.1:9/") == "service@http://127.0.0.1:9"
        assert get_metadata() == "service@http://127.0.0.1:9"
        assert os.environ["HEADWATER_DEFAULT_METADATA"] == "service"
        assert default_metadata() == f"local@{os.path.realpath(home)}"
        assert "HEADWATER_DEFAULT_METADATA" not in os.environ, "the environment is as it was"
        with pytest.raises(ClientError, match="given by its URL"):
            metadata("service@metaflow.example.com")
        with pytest.raises(ValueError, match="unknown provider 'spin'"):
            metadata("spin@/x")
        with pytest.raises(ValueError, match="is not a folder"):
            metadata(f"local@{tmp_path / 'nowhere'}")
        assert get_metadata() == f"local@{os.path.realpath(home)}", "a refused choice changes nothing"
    finally:
        default_metadata()
        clear_cache()


def test_metadata_is_also_the_records_package():
    import headwater.metadata as records
    from headwater import metadata

    assert metadata is records and callable(metadata)
    assert metadata.open_reader is records.open_reader


@pytest.mark.parametrize("name, words", [
    ("Runner", "Runner API"), ("project", "@project"), ("schedule", "@schedule"),
    ("pypi", "@pypi"), ("conda", "@conda"), ("kubernetes", "@kubernetes"), ("batch", "@batch"),
    ("trigger", "@trigger"),
])
def test_a_later_capability_says_so_on_import(name, words):
    with pytest.raises(ImportError) as raised:
        exec(f"from headwater import {name}", {})
    message = str(raised.value)
    assert words in message and "not available in Headwater yet" in message
    assert not hasattr(headwater, "no_such_name_at_all")  # others stay AttributeErrors


def test_configvalue_and_profile(capsys):
    from headwater import ConfigValue, profile

    assert ConfigValue({"a": {"b": 1}}).a.b == 1
    with profile("load"):
        time.sleep(0.01)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "PROFILE: load starting"
    assert out[1].startswith("PROFILE: load completed in ") and out[1].endswith("ms")
    assert int(out[1].split(" in ")[1][:-2]) >= 10
    stats: dict[str, int] = {}
    for _ in range(2):
        with profile("parse", stats_dict=stats):
            time.sleep(0.005)
    assert capsys.readouterr().out == "" and stats["parse"] >= 10


def test_parallel_map_keeps_order_and_runs_in_other_processes():
    from headwater import parallel_imap_unordered, parallel_map

    offset = 100  # a closure: fine, items run in forked processes
    assert parallel_map(lambda x: x + offset, range(20), max_parallel=3) == list(range(100, 120))
    pids = set(parallel_imap_unordered(lambda _: os.getpid(), range(4), max_parallel=4))
    assert len(pids) == 4 and os.getpid() not in pids
    assert sorted(parallel_imap_unordered(lambda x: x * x, [3, 1, 2])) == [1, 4, 9]
    assert parallel_map(str, []) == []
    big = parallel_map(lambda n: b"x" * n, [3 << 20])  # larger than a pipe's buffer
    assert len(big[0]) == 3 << 20


def test_parallel_map_reports_a_failed_item_with_its_traceback():
    from headwater import parallel_map
    from headwater.multicore import MulticoreException

    def invert(x):
        return 1 / x

    with pytest.raises(MulticoreException) as raised:
        parallel_map(invert, [1, 0, 2], max_parallel=1)
    assert "item 1 failed" in str(raised.value) and "ZeroDivisionError" in str(raised.value)
    assert "in invert" in str(raised.value)
    with pytest.raises(MulticoreException, match="killed by signal 9"):
        parallel_map(lambda _: os.kill(os.getpid(), 9), [0])


# -- a run read with Metaflow's commands ----------------------------------------------------------

COMPAT_FLOW = """
import sys
from headwater import parallel_map, retry


class CompatFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self._hidden = "private value"
        self.squares = parallel_map(lambda x: x * x, range(5), max_parallel=2)
        print("start says hi")
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 1
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs, include=["alpha", "x", "squares"])
        self.next(self.flaky)

    @retry(times=1)
    @step
    def flaky(self):
        if current.retry_count == 0:
            print("first try fails", file=sys.stderr)
            raise RuntimeError("once")
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    CompatFlow()
"""


def test_a_run_read_with_metaflows_commands(fd):
    fd.write(COMPAT_FLOW)
    done = fd.run("--tag", "t1", METAFLOW_RUN_ALPHA="5")
    assert done.returncode == 0, done
    retried = [line for line in done.output.splitlines() if "attempt 0 failed" in line]
    assert retried and retried[0].rstrip().endswith("retrying"), \
        f"@retry without minutes_between_retries retries at once, with no wait: {retried}"
    run_id = done.run_id("CompatFlow")
    assert fd.value("CompatFlow", run_id, "end", "alpha") == 5  # METAFLOW_RUN_ALPHA honoured
    assert fd.value("CompatFlow", run_id, "join", "squares") == [0, 1, 4, 9, 16]

    dump = fd.cli("dump", f"{run_id}/start")
    assert "squares" in dump.stdout and "_hidden" not in dump.stdout, dump
    dump = fd.cli("dump", "--private", f"{run_id}/start")
    assert "_hidden = 'private value'" in dump.stdout, dump
    # --file: a pickle keyed RUN/STEP/TASK, without the flow name, as Metaflow writes it
    dump = fd.cli("dump", "--include", "_hidden", "--file", str(fd.path / "dump.pkl"), f"{run_id}/start")
    assert dump.returncode == 0, dump
    import pickle

    with open(fd.path / "dump.pkl", "rb") as f:
        ((key, values),) = pickle.load(f).items()
    assert key.split("/")[:2] == [str(run_id), "start"] and key.split("/")[2].isdigit(), key
    assert values == {"_hidden": "private value"}

    logs = fd.cli("--quiet", "logs", "--stdout", f"{run_id}/start")
    assert logs.returncode == 0 and logs.stdout == "start says hi\n", logs
    # the latest attempt of flaky printed nothing: said on stderr, with the attempt that did
    logs = fd.cli("logs", "--stderr", f"{run_id}/flaky")
    assert logs.returncode == 0 and logs.stdout == "", logs
    ((task_id,),) = fd.query("SELECT task_id FROM tasks WHERE step = 'flaky'")
    assert "printed nothing on stderr in attempt 1" in logs.stderr, logs
    assert f"logs {run_id}/flaky/{task_id} --attempt 0 --stderr" in logs.stderr, logs
    logs = fd.cli("logs", "--stderr", "--attempt", "0", f"{run_id}/flaky/{task_id}")
    assert logs.stdout.startswith("first try fails\n") and "RuntimeError: once" in logs.stdout, logs

    tags = fd.cli("tag", "list", "--flat", "--run-id", str(run_id))
    assert tags.returncode == 0 and {"t1", "user:tester"} <= set(tags.stdout.splitlines()), tags
    tags = fd.cli("tag", "list", "--flat", "--hide-system-tags", "--run-id", str(run_id))
    assert tags.stdout.splitlines() == ["t1"], tags

    # Metaflow's task metadata names the interpreter the task ran in; so do the failed attempts.
    with fd.client() as hw:
        for step_name in ("start", "flaky"):
            task = hw.Run(f"CompatFlow/{run_id}")[step_name].task
            assert task.metadata_dict["python_version"] == platform.python_version()
            assert ("python_version", platform.python_version()) in [(m.name, m.value) for m in task.metadata]


RETRIED_FOREACH = """
from headwater import retry

class RetriedFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @retry(times=1)
    @step
    def work(self):
        if current.retry_count == 0:
            raise ValueError(f"item {self.input} fails once")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    RetriedFlow()
"""


def test_logs_of_a_silent_step_point_at_the_attempts_that_printed(fd):
    fd.write(RETRIED_FOREACH)
    done = fd.run()
    assert done.returncode == 0, done
    logs = fd.cli("logs", "1/work")
    assert logs.returncode == 0 and logs.stdout == "", logs
    assert "No task of 1/work printed anything." in logs.stderr
    for (task_id,) in fd.query("SELECT task_id FROM tasks WHERE step = 'work'"):
        assert f"Attempt 0 printed on stderr: python flow.py logs 1/work/{task_id} --attempt 0" in logs.stderr, logs
