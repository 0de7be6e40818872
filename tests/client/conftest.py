"""Records written straight through SQLiteMetadata and BlobStore, so the client is tested alone.

``datastore`` is an empty datastore in a temporary directory (``HEADWATER_HOME`` points at it,
the user is ``ana``). ``sample`` fills it with a small history:

    TrainFlow/1  ana  succeeded  start(1) -foreach 3-> train(2,3,4) -> join(5) -> end(6)
                                 task 3 failed once (attempt 0) then succeeded (attempt 1)
    TrainFlow/2  bob  failed     start(1) -> end(2) failed with an exception
    TrainFlow/3  ana  running    start(1) succeeded, train(2) running with some output
    TrainFlow/4  ana  succeeded  resumed from 1: start cloned from TrainFlow/1/start/1, end(2)
    OtherFlow/1  bob  succeeded  start(1) -> end(2)
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headwater.client import default_namespace
from headwater.client.stores import clear_cache
from headwater.datastore import BlobStore, LocalStorage
from headwater.datastore.datastore import open_datastore
from headwater.metadata import PARAMS_STEP, PARAMS_TASK, SQLiteMetadata, Status

FLOW_SOURCE = '''from headwater import FlowSpec, Parameter, step


class TrainFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

GRAPH = {"name": "TrainFlow", "steps": [
    {"name": "start", "type": "start"}, {"name": "train", "type": "linear"},
    {"name": "join", "type": "join"}, {"name": "end", "type": "end"}]}


class Builder:
    """Writes runs, tasks, attempts, artifacts, logs and tags the way the runtime does."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.md = SQLiteMetadata(root)
        self.blobs = BlobStore(LocalStorage(root))

    def close(self) -> None:
        self.md.close()

    def run(self, flow: str = "TrainFlow", *, user: str = "ana", tags: tuple[str, ...] = (),
            params: dict[str, Any] | None = None, origin_run_id: str | None = None,
            graph: dict | None = None) -> int:
        number = self.md.new_run(flow, user=user, tags=list(tags),
                                 system_tags=[f"user:{user}", "runtime:local"],
                                 origin_run_id=origin_run_id, graph=graph)
        params = {"alpha": 0.5} if params is None else params
        arts = [self._save(name, value) for name, value in params.items()]
        with self.md.transaction():
            self.md.new_task(flow, number, PARAMS_TASK, PARAMS_STEP, status=Status.SUCCEEDED, finished=True)
            self.md.start_attempt(flow, number, PARAMS_TASK, 0)
            self.md.finish_attempt(flow, number, PARAMS_TASK, 0, status=Status.SUCCEEDED, artifacts=arts)
        return number

    def _save(self, name: str, value: Any) -> tuple[str, str, str, int]:
        ref = self.blobs.save(value)
        return (name, ref.key, ref.type, ref.size)

    def params_of(self, flow: str, run: int) -> dict[str, tuple[str, str, int]]:
        from headwater.metadata import open_reader

        reader = open_reader(self.md.url)
        try:
            return {a.name: (a.key, a.type, a.size) for a in reader.artifacts(flow, run, PARAMS_TASK, 0)}
        finally:
            reader.close()

    def task(self, flow: str, run: int, task_id: int, step: str, *, parents: tuple[int, ...] = (0,),
             frames: list[dict] | None = None) -> None:
        self.md.new_task(flow, run, task_id, step, foreach_stack=frames, parents=list(parents))

    def attempt(self, flow: str, run: int, task_id: int, attempt: int = 0, *,
                artifacts: dict[str, Any] | None = None, ok: bool | None = True,
                exception: dict | None = None, exit_reason: str | None = None,
                stdout: list[str] = (), stderr: list[str] = (), final: bool = True,
                step: str | None = None, with_params: bool = True) -> None:
        """Start an attempt, write its logs and, unless ``ok`` is None, finish it."""
        self.md.start_attempt(flow, run, task_id, attempt, host="testhost", pid=4242)
        step = step or self.md.query("SELECT step FROM tasks WHERE flow = ? AND run_number = ? AND task_id = ?",
                                     (flow, run, task_id))[0][0]
        for stream, lines in (("stdout", stdout), ("stderr", stderr)):
            if lines:
                self.log(flow, run, step, task_id, attempt, stream, lines)
        if ok is None:
            return
        arts = [self._save(n, v) for n, v in (artifacts or {}).items()]
        if with_params:
            arts += [(n, *ref) for n, ref in self.params_of(flow, run).items()]
        self.md.finish_attempt(flow, run, task_id, attempt, status=Status.SUCCEEDED if ok else Status.FAILED,
                               artifacts=arts, exception=exception, exit_reason=exit_reason,
                               task_final=final)

    def log(self, flow: str, run: int, step: str, task_id: int, attempt: int, stream: str,
            lines: list[str]) -> None:
        writer = open_datastore(self.root).log_writer(flow, run, step, task_id, attempt, stream)
        for line in lines:
            writer.write(time.time(), line)
        writer.close()

    def finish(self, flow: str, run: int, ok: bool = True) -> None:
        self.md.finish_run(flow, run, Status.SUCCEEDED if ok else Status.FAILED)

    def set_code(self, flow: str, run: int, tmp: Path) -> None:
        from headwater.datastore.codepackage import build_package

        folder = tmp / "project"
        folder.mkdir(exist_ok=True)
        (folder / "train.py").write_text(FLOW_SOURCE)
        (folder / "utils.py").write_text("HELPER = 1\n")
        # The package holds the modules the flow imported from its folder: import utils as a flow would.
        spec = importlib.util.spec_from_file_location("hw_test_utils", folder / "utils.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["hw_test_utils"] = module
        try:
            package = build_package(folder / "train.py")
        finally:
            del sys.modules["hw_test_utils"]
        self.md.set_run_code(flow, run, self.blobs.save_bytes(package))


@dataclass
class Sample:
    b: Builder
    root: Path


def foreach_frame(i: int) -> list[dict]:
    return [{"task": 1, "step": "start", "var": "shards", "index": i, "num_splits": 3, "value": i}]


def build_sample(b: Builder, tmp: Path) -> None:
    f = "TrainFlow"
    # TrainFlow/1: ana, foreach, a retried task, hidden artifact, logs, code package
    r = b.run(f, tags=("experiment", "v2"), params={"alpha": 0.5, "_hidden_param": 1}, graph=GRAPH)
    b.set_code(f, r, tmp)
    b.task(f, r, 1, "start")
    b.attempt(f, r, 1, artifacts={"shards": [0, 1, 2], "_private": "secret"},
              stdout=["starting", "3 shards"])
    for i, tid in enumerate((2, 3, 4)):
        b.task(f, r, tid, "train", parents=(1,), frames=foreach_frame(i))
        if tid == 3:
            b.attempt(f, r, tid, 0, ok=False, final=False, stderr=["boom <b>"],
                      exception={"type": "ValueError", "message": "bad <shard>",
                                 "traceback": "Traceback (most recent call last):\nValueError: bad <shard>\n"})
            b.attempt(f, r, tid, 1, artifacts={"score": i * 0.5}, stdout=["retry ok"])
        else:
            b.attempt(f, r, tid, artifacts={"score": i * 0.5}, stdout=[f"train {i}"])
    b.task(f, r, 5, "join", parents=(2, 3, 4))
    b.attempt(f, r, 5, artifacts={"best": 1.0})
    b.task(f, r, 6, "end", parents=(5,))
    b.attempt(f, r, 6, artifacts={"best": 1.0}, stdout=["best 1.0"])
    b.md.set_task_meta(f, r, 6, {"runtime": "local", "python": "3.11"})
    b.finish(f, r)

    # TrainFlow/2: bob, failed in end
    r = b.run(f, user="bob", params={"alpha": 0.9})
    b.task(f, r, 1, "start")
    b.attempt(f, r, 1, artifacts={"x": 1})
    b.task(f, r, 2, "end", parents=(1,))
    b.attempt(f, r, 2, ok=False, exception={"type": "KeyError", "message": "'y'", "traceback": "tb"})
    b.finish(f, r, ok=False)

    # TrainFlow/3: ana, still running
    r = b.run(f, params={"alpha": 0.1})
    b.task(f, r, 1, "start")
    b.attempt(f, r, 1, artifacts={"x": 1})
    b.task(f, r, 2, "train", parents=(1,))
    b.attempt(f, r, 2, ok=None, stdout=["epoch 1"])

    # TrainFlow/4: ana, resumed from 1 with a cloned start task
    r = b.run(f, params={"alpha": 0.5}, origin_run_id="1")
    b.md.clone_task(f, r, 1, origin_run=1, origin_task=1, parents=[0])
    b.task(f, r, 2, "end", parents=(1,))
    b.attempt(f, r, 2, artifacts={"best": 2.0})
    b.finish(f, r)

    # OtherFlow/1: bob only
    r = b.run("OtherFlow", user="bob", params={})
    b.task("OtherFlow", r, 1, "start")
    b.attempt("OtherFlow", r, 1, artifacts={"y": 2})
    b.task("OtherFlow", r, 2, "end", parents=(1,))
    b.attempt("OtherFlow", r, 2, artifacts={"y": 2})
    b.finish("OtherFlow", r)


@pytest.fixture
def datastore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Builder]:
    root = tmp_path / ".headwater"
    root.mkdir()
    monkeypatch.setenv("HEADWATER_HOME", str(root))
    monkeypatch.setenv("HEADWATER_USER", "ana")
    monkeypatch.chdir(tmp_path)
    default_namespace()
    clear_cache()
    b = Builder(root)
    yield b
    b.close()
    clear_cache()
    default_namespace()


@pytest.fixture
def sample(datastore: Builder, tmp_path: Path) -> Builder:
    build_sample(datastore, tmp_path)
    return datastore
