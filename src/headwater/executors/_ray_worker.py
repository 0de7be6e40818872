"""What runs inside Ray: the remote attempt and the console sink (``executors/ray.py``).

Imported by the driver after Ray is connected, and by Ray's workers when they run these
functions, so it may import ``ray`` at the top.

In a worker, an attempt runs the way the fork executor runs one: a template process (started
fresh, since a Ray worker has threads and must not fork; it loads the run's flow once) forks
a child per attempt. So the worker outlives a step that crashes, the outcome names the exit
code or the signal, and stopping an attempt stops the processes its step started. The
worker keeps one template, for the flow (code, configuration) it last served.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

import ray

_BASELINE = dict(os.environ)  # the worker's own environment, under each task's
_current: dict[str, Any] = {}  # the run this worker serves: key, executor, events, console


@ray.remote
class ConsoleSink:
    """Lines the run's tasks printed, held until the scheduler drains them for its console."""

    def __init__(self) -> None:
        self.lines: list[tuple] = []

    def put(self, lines: list[tuple]) -> None:
        self.lines.extend(lines)

    def drain(self) -> list[tuple]:
        out, self.lines = self.lines, []
        return out


class _SinkConsole:
    """The console a worker-side executor prints to: lines go to the run's sink in batches."""

    EVERY = 0.1  # seconds between sends while a task prints

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.pending: list[tuple] = []
        self.lock = threading.Lock()
        self.sent: Any = None
        self.stopped = threading.Event()
        threading.Thread(target=self._loop, daemon=True, name="headwater-console").start()

    def _loop(self) -> None:
        while not self.stopped.wait(self.EVERY):
            with self.lock:
                self._send()

    def close(self) -> None:
        self.stopped.set()

    def task_line(self, spec: Any, stream: str, text: str) -> None:
        with self.lock:
            self.pending.append((spec.task_id, spec.attempt, spec.step, stream, text))
            if len(self.pending) >= 100:
                self._send()

    def _send(self) -> None:
        if self.pending:
            self.sent = self.sink.put.remote(self.pending)
            self.pending = []

    def flush(self) -> None:
        """Send what is pending and wait until the sink has it."""
        with self.lock:
            self._send()
            sent, self.sent = self.sent, None
        if sent is not None:
            ray.get(sent)

    def event(self, text: str) -> None:
        pass  # the outcome reaches the scheduler, which reports it

    info = error = event


def _executor_for(spec: Any, spec_json: str, sink: Any) -> tuple[Any, queue.Queue, _SinkConsole]:
    from ..datastore.datastore import open_datastore
    from .fork import ForkExecutor

    # One template per code and configuration: runs of the same flow with the same values
    # (parameters and configs, by content key) share it, as they share the loaded graph.
    code = spec.code or {}
    values = sorted((name, ref[0]) for name, ref in (spec.params or {}).items())
    key = repr((code.get("key"), code.get("dir"), code.get("file"), code.get("cls"), spec.decospecs,
                spec.flow, spec.root, values))
    if _current.get("key") != key:
        if _current.get("executor") is not None:  # another run now: let the last one's go
            _current["executor"].close()
            _current["console"].close()
        executor = ForkExecutor(None, None, open_datastore(spec.root))  # type: ignore[arg-type]
        executor.spawn_spec = spec_json
        events: queue.Queue = queue.Queue()
        console = _SinkConsole(sink)
        executor.start(events, console)
        _current.update(key=key, executor=executor, events=events, console=console)
    return _current["executor"], _current["events"], _current["console"]


@ray.remote
def run_attempt_remote(spec_json: str, env: dict[str, str], sink: Any,
                       limit: tuple[float, str] | None = None) -> dict[str, Any]:
    """One attempt in this Ray worker's template: what ended it, and where it ran.
    ``limit`` is the step's time limit and the decorator that set it: the attempt is
    stopped here once it has run that long (and the grace its own alarm gets)."""
    os.environ.clear()
    os.environ.update(_BASELINE)
    os.environ.update(env)
    from ..task import TaskSpec

    spec = TaskSpec.from_json(spec_json)
    executor, events, console = _executor_for(spec, spec_json, sink)
    executor.submit(spec)
    timer = None
    if limit is not None:
        from ..runtime.scheduler import TIMEOUT_GRACE

        seconds, source = limit
        timer = threading.Timer(seconds + TIMEOUT_GRACE, executor.cancel,
                                args=(spec, f"step {spec.step!r} exceeded its @{source} of {seconds:g} s"))
        timer.daemon = True
        timer.start()
    try:
        done = _outcome(events, spec)
    except KeyboardInterrupt:  # ray.cancel(): stop the attempt, report how it ended
        executor.cancel(spec, "stopped by the scheduler")
        done = _outcome(events, spec)
    finally:
        if timer is not None:
            timer.cancel()
    console.flush()  # its lines reach the console before its outcome does
    return {"result": done.result, "exit_code": done.exit_code, "signal": done.signal,
            "reason": done.reason, "node": ray.util.get_node_ip_address()}


def _outcome(events: queue.Queue, spec: Any) -> Any:
    """The AttemptDone of ``spec`` (the template serves one attempt at a time here)."""
    while True:
        done = events.get()
        if (done.spec.task_id, done.spec.attempt) == (spec.task_id, spec.attempt):
            return done
