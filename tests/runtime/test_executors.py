"""The executors on their own: submit an attempt, get one AttemptDone back, with its logs.

Each executor is driven directly, without the scheduler: a spec in, an event out. The same
checks run on every executor, so they agree on what a result, a failure, a killed process
and a cancel look like to the runtime.
"""

from __future__ import annotations

import importlib.util
import queue
import sys
import textwrap

import pytest

FLOW = '''
import os, time
from headwater import FlowSpec, step

class UnitFlow(FlowSpec):
    @step
    def start(self):
        print("hello from", os.getpid())
        self.x = 41
        self.next(self.end)

    @step
    def end(self):
        with open(os.path.join(os.path.dirname(__file__), "mode")) as f:
            mode = f.read()
        if mode == "raise":
            raise KeyError("no such thing")
        if mode == "die":
            os.kill(os.getpid(), 9)
        if mode == "sleep":
            print("sleeping", flush=True)
            time.sleep(60)
'''


class Lines:
    """A console that keeps what it is given."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []

    def task_line(self, spec, stream: str, text: str) -> None:
        self.lines.append((spec.step, stream, text))


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unitflow")
    path = folder / "unit_flow.py"
    path.write_text(textwrap.dedent(FLOW))
    spec = importlib.util.spec_from_file_location("unit_flow", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["unit_flow"] = module
    sys.path.insert(0, str(folder))
    spec.loader.exec_module(module)
    from headwater.build import prepare_flow

    graph, _ = prepare_flow(module.UnitFlow)
    yield module.UnitFlow, graph, folder
    sys.modules.pop("unit_flow", None)
    sys.path.remove(str(folder))


@pytest.fixture(params=["fork", "subprocess", "inprocess"])
def running(request, flow, tmp_path, capsys):
    from headwater.datastore.datastore import open_datastore
    from headwater.executors import make_executor

    flow_cls, graph, folder = flow
    ds = open_datastore(tmp_path / "store", create=True)
    events: queue.Queue = queue.Queue()
    console = Lines()
    ex = make_executor(request.param, flow_cls, graph, ds)
    with capsys.disabled():  # the fork template keeps the sys.stdout it starts with: the real one
        ex.start(events, console)
    yield ex, events, console, ds, folder
    ex.close()


def _spec(ds, folder, step: str, task_id: int, parents=None, inputs=None):
    from headwater.task import TaskSpec

    return TaskSpec(flow="UnitFlow", run=1, step=step, task_id=task_id, attempt=0, root=ds.url,
                    parents=parents or [(0, "_parameters", 0)], params={}, inputs=inputs or {},
                    code={"key": None, "file": "unit_flow.py", "dir": str(folder),
                          "module": "unit_flow", "cls": "UnitFlow"})


def test_a_successful_attempt_returns_its_artifacts_transition_and_logs(running):
    ex, events, console, ds, folder = running
    ex.submit(_spec(ds, folder, "start", 1))
    done = events.get(timeout=60)
    assert done.result["ok"], done
    assert done.result["next"] == ["end"]
    names = {name for name, *_ in done.result["artifacts"]}
    assert "x" in names
    printed = [text for step, stream, text in console.lines if stream == "stdout"]
    assert printed and printed[0].startswith("hello from")
    assert ds.read_log("UnitFlow", 1, "start", 1, 0, "stdout")[0][1] == printed[0]


# In-process attempts share the test's process (nothing to kill) and run to completion
# before submit returns (nothing to cancel): the process executors only, below.
PROCESSES = pytest.mark.parametrize("running", ["fork", "subprocess"], indirect=True)


def test_a_step_that_raises_is_a_failed_result_with_the_exception(running):
    ex, events, console, ds, folder = running
    (folder / "mode").write_text("raise")
    ex.submit(_spec(ds, folder, "end", 2, parents=[(1, "start", 0)]))
    done = events.get(timeout=60)
    assert done.result is not None and not done.result["ok"]
    assert done.result["exception"]["type"] == "KeyError"
    assert done.exit_code == 1


@PROCESSES
def test_a_process_killed_by_a_signal_reports_no_result_and_the_signal(running):
    ex, events, console, ds, folder = running
    (folder / "mode").write_text("die")
    ex.submit(_spec(ds, folder, "end", 2, parents=[(1, "start", 0)]))
    done = events.get(timeout=60)
    assert done.result is None, "a killed process reports nothing"
    assert done.signal == 9


@PROCESSES
def test_cancel_stops_a_running_attempt_and_gives_the_reason(running):
    ex, events, console, ds, folder = running
    (folder / "mode").write_text("sleep")
    spec = _spec(ds, folder, "end", 2, parents=[(1, "start", 0)])
    ex.submit(spec)
    import time

    deadline = time.monotonic() + 60
    while not any(text == "sleeping" for _, _, text in console.lines) and time.monotonic() < deadline:
        time.sleep(0.02)
    ex.cancel(spec, "the test had enough")
    done = events.get(timeout=30)
    assert done.reason == "the test had enough"
    assert done.result is None


def test_an_unknown_executor_is_named_in_the_error(flow, tmp_path):
    from headwater.exceptions import CommandError
    from headwater.executors import make_executor

    with pytest.raises(CommandError, match="unknown executor 'kubernetez'"):
        make_executor("kubernetez", flow[0], flow[1], None)
