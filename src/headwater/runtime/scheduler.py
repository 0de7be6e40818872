"""The local scheduler: runs one flow run to completion on an executor.

State fields:

    ready      deque of TaskInfo whose inputs are all stored, in the order they became ready
    running    (task_id, attempt) -> TaskInfo currently on the executor
    state      RunState: task ids, open splits and joins waiting for branches (runtime/state.py)
    failed     descriptions of tasks that failed for good; once set, nothing new is launched
    counts     step -> tasks finished, for the summary

Policy: launch ready tasks first-in first-out up to ``max_workers``; block on the executor's
event queue (never poll); on each finished attempt, record it, then either queue its
successors, retry it (after ``minutes_between_retries``, without holding a worker), or fail
the run: running attempts are stopped, the run is marked failed, and the console says how
to resume. Ctrl-C does the same within seconds.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter, deque
from typing import Any

from ..executors.base import AttemptDone
from ..metadata import Status
from ..task import TaskSpec
from .state import RunState, TaskInfo

HEARTBEAT_SECONDS = 10.0


class _Retry:
    def __init__(self, task: TaskInfo) -> None:
        self.task = task


class Scheduler:
    def __init__(self, *, flow_cls: type, graph: Any, executor: Any, events: queue.Queue,
                 md: Any, console: Any, run: int, root: str, user: str, tags: list[str],
                 max_workers: int = 16, max_num_splits: int = 100,
                 origin_run_id: str | None = None, parameter_names: list[str] | None = None,
                 script: str = "flow.py") -> None:
        self.flow = flow_cls.__name__
        self.graph = graph
        self.executor = executor
        self.events = events
        self.md = md
        self.console = console
        self.run_number = run
        self.root = root
        self.user = user
        self.tags = tags
        self.max_workers = max(1, max_workers)
        self.max_num_splits = max_num_splits
        self.origin_run_id = origin_run_id
        self.parameter_names = parameter_names or []
        self.script = script
        self.state = RunState(graph)
        self.ready: deque[TaskInfo] = deque()
        self.running: dict[tuple[int, int], TaskInfo] = {}
        self.failed: list[str] = []
        self.counts: Counter[str] = Counter()
        self.retries_pending = 0
        self._stop_heartbeat = threading.Event()

    # -- the loop --------------------------------------------------------------------------------
    def execute(self, first: list[TaskInfo] | None = None) -> bool:
        """Run until every task is done or the run fails; return True on success."""
        started = time.time()
        self.ready.extend(first if first is not None else [self.state.first_task()])
        beat = threading.Thread(target=self._heartbeat, daemon=True, name="headwater-heartbeat")
        beat.start()
        interrupted = False
        try:
            while self.ready or self.running or self.retries_pending:
                while self.ready and len(self.running) < self.max_workers and not self.failed:
                    self._launch(self.ready.popleft())
                if not self.running and not self.retries_pending:
                    break
                self._handle(self.events.get())
        except KeyboardInterrupt:
            interrupted = True
            self.failed.append("interrupted by Ctrl-C")
            self._stop_all("the run was interrupted")
        finally:
            self._stop_heartbeat.set()
        ok = not self.failed
        self.md.finish_run(self.flow, self.run_number, Status.SUCCEEDED if ok else Status.FAILED)
        self.console.summary(flow=self.flow, run=self.run_number, ok=ok, started=started,
                             steps=self.counts, failed=self.failed, hints=self._hints(ok, interrupted))
        return ok

    def _handle(self, event: Any) -> None:
        if isinstance(event, _Retry):
            self.retries_pending -= 1
            if not self.failed:
                self.ready.appendleft(event.task)
            return
        assert isinstance(event, AttemptDone)
        spec = event.spec
        task = self.running.pop((spec.task_id, spec.attempt), None)
        if task is None:
            return
        result = event.result or {}
        if result.get("ok"):
            self._succeeded(task, result)
        else:
            self._attempt_failed(task, event, result)

    def _launch(self, task: TaskInfo) -> None:
        spec = self._spec(task)
        with self.md.transaction():
            if task.attempt == 0:
                self.md.new_task(self.flow, self.run_number, task.task_id, task.step,
                                 foreach_stack=task.frames or None, parents=[p[0] for p in task.parents])
            self.md.start_attempt(self.flow, self.run_number, task.task_id, task.attempt)
        self.running[(task.task_id, task.attempt)] = task
        self.executor.submit(spec)

    def _spec(self, task: TaskInfo) -> TaskSpec:
        return TaskSpec(
            flow=self.flow, run=self.run_number, step=task.step, task_id=task.task_id,
            attempt=task.attempt, root=self.root, parents=task.parents, frames=task.frames,
            max_num_splits=self.max_num_splits, max_retries=self._max_retries(task.step),
            user=self.user, tags=self.tags, origin_run_id=self.origin_run_id,
            parameter_names=self.parameter_names,
        )

    # -- outcomes ----------------------------------------------------------------------------
    def _succeeded(self, task: TaskInfo, result: dict[str, Any]) -> None:
        self.md.finish_attempt(self.flow, self.run_number, task.task_id, task.attempt,
                               status=Status.SUCCEEDED, artifacts=result.get("artifacts", ()),
                               host_pid=(result.get("host"), result.get("pid")))
        self.counts[task.step] += 1
        if not self.failed:
            self.ready.extend(self.state.on_success(task, result))

    def _attempt_failed(self, task: TaskInfo, event: AttemptDone, result: dict[str, Any]) -> None:
        exc = result.get("exception")
        reason = event.reason or _exit_reason(event)
        retry = task.attempt < self._max_retries(task.step) and not self.failed and not event.reason
        self.md.finish_attempt(self.flow, self.run_number, task.task_id, task.attempt,
                               status=Status.FAILED, exit_reason=reason, exception=exc,
                               task_final=not retry, host_pid=(result.get("host"), result.get("pid")))
        where = f"{self.run_number}/{task.step}/{task.task_id}"
        what = f"{exc['type']}: {exc['message']}" if exc else reason
        if retry:
            delay = self._retry_delay(task.step)
            self.console.event(f"[{where}] attempt {task.attempt} failed ({what}); retrying"
                               + (f" in {delay:.0f} s" if delay else ""))
            nxt = TaskInfo(task.task_id, task.step, task.parents, task.frames, task.attempt + 1)
            self.retries_pending += 1
            timer = threading.Timer(delay, self.events.put, args=(_Retry(nxt),))
            timer.daemon = True
            timer.start()
            return
        self.counts[task.step] += 1
        first_failure = not self.failed
        self.failed.append(f"step {task.step!r} (task {where}) failed: {what}")
        if first_failure and self.running:
            self._stop_all(f"stopped because task {where} failed")

    def _stop_all(self, reason: str) -> None:
        """Stop running attempts and wait (briefly) for their outcomes to be recorded."""
        self.executor.cancel_all(reason)
        deadline = time.monotonic() + 10
        while self.running and time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if isinstance(event, AttemptDone):
                task = self.running.pop((event.spec.task_id, event.spec.attempt), None)
                if task is not None:
                    result = event.result or {}
                    status = Status.SUCCEEDED if result.get("ok") else Status.FAILED
                    self.md.finish_attempt(self.flow, self.run_number, task.task_id, task.attempt,
                                           status=status, exit_reason=None if result.get("ok") else reason,
                                           exception=result.get("exception"),
                                           artifacts=result.get("artifacts", ()))
        for task in self.running.values():
            self.md.finish_attempt(self.flow, self.run_number, task.task_id, task.attempt,
                                   status=Status.FAILED, exit_reason=reason)
        self.running.clear()

    # -- step settings from decorators ----------------------------------------------------------
    def _max_retries(self, step: str) -> int:
        return max([d.runtime_retry_count() for d in self.graph[step].decorators] or [0])

    def _retry_delay(self, step: str) -> float:
        for d in self.graph[step].decorators:
            minutes = d.attributes.get("minutes_between_retries")
            if minutes is not None:
                return float(minutes) * 60.0
        return 0.0

    def _heartbeat(self) -> None:
        while not self._stop_heartbeat.wait(HEARTBEAT_SECONDS):
            try:
                self.md.heartbeat(self.flow, self.run_number)
            except Exception:  # noqa: BLE001 - a missed heartbeat is not worth failing the run
                pass

    def _hints(self, ok: bool, interrupted: bool) -> list[str]:
        pathspec = f"{self.flow}/{self.run_number}"
        if ok:
            return [
                f"Artifacts:  python {self.script} dump {self.run_number}/{self.graph.end}",
                f"In Python:  Run({pathspec!r}).data   |   In a browser:  headwater ui",
            ]
        hints = [f"Resume:  python {self.script} resume --origin-run-id {self.run_number}"]
        if not interrupted:
            hints.insert(0, f"Logs:    python {self.script} logs {self.run_number}/<step>/<task>")
        return hints


def _exit_reason(event: AttemptDone) -> str:
    if event.signal:
        import signal

        try:
            name = signal.Signals(event.signal).name
        except ValueError:
            name = f"signal {event.signal}"
        return f"the task process was killed by {name}"
    if event.result is None:
        return f"the task process exited with code {event.exit_code} before reporting a result"
    return "the step raised an exception"
