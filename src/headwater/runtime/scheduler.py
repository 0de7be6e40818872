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
import signal
import threading
import time
from collections import Counter, deque

from ..exceptions import Interrupted, interrupted_by, interruption_message
from ..executors.base import AttemptDone, describe_signal, step_timeout
from ..metadata import Status
from ..task import TRANSITION_KEYS, TaskSpec
from .gangs import Gangs, Retrying, gang_of, node_index
from .state import RunState, TaskInfo

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

HEARTBEAT_SECONDS = 10.0
TIMEOUT_GRACE = 5.0  # the task's own alarm fires first; this kill is the backstop


class _Retry:
    def __init__(self, task: TaskInfo) -> None:
        self.task = task


class _GangRetry:
    def __init__(self, tasks: list[TaskInfo]) -> None:
        self.tasks = tasks


class Scheduler:
    def __init__(self, *, flow_cls: type, graph: Any, executor: Any, events: queue.Queue,
                 md: Any, console: Any, run: int, root: str, user: str, tags: list[str],
                 metadata: str | None = None, code: dict | None = None,
                 decospecs: list[str] | None = None, params: dict | None = None,
                 max_workers: int = 16, max_num_splits: int = 100,
                 origin_run_id: str | None = None, parameter_names: list[str] | None = None,
                 script: str = "flow.py", cloner: Any = None, max_cpu: float | None = None,
                 max_memory: float | None = None) -> None:
        self.flow = flow_cls.__name__
        self.graph = graph
        self.executor = executor
        self._placement = getattr(executor, "placement", None)  # remote executors say where
        self.events = events
        self.md = md
        self.console = console
        self.run_number = run
        self.root = root
        self.metadata = metadata if metadata is not None else root
        self.code = code
        self.decospecs = decospecs or []
        self.params = params or {}  # the run's parameters task's artifact refs
        self.user = user
        self.tags = tags
        self.max_workers = max(1, max_workers)
        self.max_num_splits = max_num_splits
        self.origin_run_id = origin_run_id
        self.parameter_names = parameter_names or []
        self.script = script
        self.cloner = cloner
        self.limits = {"cpu": max_cpu, "memory": max_memory}
        self.in_use = {"cpu": 0.0, "memory": 0.0}
        self.cloned = 0
        self.timers: dict[tuple[int, int], threading.Timer] = {}
        self.waiting_retry: dict[int, tuple[TaskInfo, threading.Timer]] = {}  # task id -> next attempt
        self.state = RunState(graph)
        self.ready: deque[TaskInfo] = deque()
        self.running: dict[tuple[int, int], TaskInfo] = {}
        self.failed: list[str] = []
        self.failed_tasks: list[str] = []
        self.counts: Counter[str] = Counter()
        self.gangs = Gangs()
        self._stop_heartbeat = threading.Event()

    # -- the loop --------------------------------------------------------------------------------
    def execute(self, meanwhile: Callable[[], None] | None = None) -> bool:
        """Run until every task is done or the run fails; return True on success.

        ``meanwhile`` is bookkeeping that no task waits for (recording the code package):
        it runs once the first tasks are launched, while they run.
        """
        started = time.time()
        start = self.state.first_task()
        start.inputs = self.params  # the start step's parent is the parameters task
        self.ready.append(start)
        beat = threading.Thread(target=self._heartbeat, daemon=True, name="headwater-heartbeat")
        beat.start()
        interrupted = False
        previous = _stop_on_sigterm()
        try:
            while self.ready or self.running or self.waiting_retry:
                self._fill()
                if meanwhile is not None:
                    meanwhile()
                    meanwhile = None
                if not self.running and not self.waiting_retry:
                    break
                self._handle(self.events.get())
        except KeyboardInterrupt as exc:
            interrupted = True
            by = interrupted_by(exc)
            self.failed.append(f"interrupted by {by}")
            self._stop_all(interruption_message(by), interrupted=True)
        finally:
            self._stop_heartbeat.set()
            if meanwhile is not None:  # stopped before the first launch: still record it
                try:
                    meanwhile()
                except Exception as exc:  # noqa: BLE001 - do not hide what stopped the run
                    self.console.event(f"could not record the run's code: {exc}")
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        for held in self.gangs.done.values():  # nodes that succeeded in a gang that did not
            for node, _ in held.values():
                self.counts[node.step] += 1
        ok = not self.failed
        self.md.finish_run(self.flow, self.run_number, Status.SUCCEEDED if ok else Status.FAILED)
        for timer in self.timers.values():
            timer.cancel()
        if self.cloned:
            noun = "task" if self.cloned == 1 else "tasks"
            self.console.info(f"Cloned {self.cloned} {noun} from run {self.origin_run_id}.")
        self.console.summary(flow=self.flow, run=self.run_number, ok=ok, started=started,
                             steps=self.counts, failed=self.failed, hints=self._hints(ok, interrupted))
        return ok

    def _handle(self, event: Any) -> None:
        if isinstance(event, _Retry):
            if self.waiting_retry.pop(event.task.task_id, None) is not None and not self.failed:
                self.ready.appendleft(event.task)
            return
        if isinstance(event, _GangRetry):
            if not self.failed:
                self.ready.extendleft(reversed(event.tasks))
            return
        assert isinstance(event, AttemptDone)
        spec = event.spec
        task = self._release((spec.task_id, spec.attempt))
        if task is None:
            return
        result = event.result or {}
        key = gang_of(task)
        if key is not None and key in self.gangs.retrying:
            self._gang_node_stopped(key, task, event, result)
        elif result.get("ok"):
            self._succeeded(task, result)
        else:
            self._attempt_failed(task, event, result)

    def _fill(self) -> None:
        """Clone what resume can reuse, then launch ready tasks while workers and resources allow."""
        while self.ready and not self.failed:
            task = self.ready[0]
            key = gang_of(task)
            if key is not None:
                if not self._fill_gang(key):
                    return
                continue
            if self.cloner is not None:
                result = self.cloner.try_clone(task)
                if result is not None:
                    self.ready.popleft()
                    self.cloned += 1
                    self.counts[task.step] += 1
                    self.ready.extend(self._successors(task, result))
                    continue
            if len(self.running) >= self.max_workers or not self._fits(task.step):
                return
            self._launch(self.ready.popleft())

    def _needs(self, step: str) -> dict[str, float]:
        for d in self.graph[step].decorators:
            wanted = d.runtime_resources()
            if wanted is not None:
                return {"cpu": float(wanted.get("cpu") or 0), "memory": float(wanted.get("memory") or 0)}
        return {"cpu": 1.0, "memory": 0.0}

    def _fits(self, step: str) -> bool:
        if not self.running:
            return True  # a task bigger than the limits still runs, alone
        needs = self._needs(step)
        return all(limit is None or self.in_use[k] + needs[k] <= limit for k, limit in self.limits.items())

    def _launch(self, task: TaskInfo) -> None:
        spec = self._spec(task)
        placement = self._placement(spec) if self._placement is not None else None
        with self.md.transaction():
            if task.attempt == 0:
                self.md.new_task(self.flow, self.run_number, task.task_id, task.step,
                                 foreach_stack=task.frames or None, parents=[p[0] for p in task.parents])
            self.md.start_attempt(self.flow, self.run_number, task.task_id, task.attempt)
            if placement:  # a remote executor: where the attempt goes and what it asked for
                self.md.set_task_meta(self.flow, self.run_number, task.task_id, placement)
        if spec.inputs is None:
            self.md.flush()  # the task reads its inputs from the records: they must be there
        self.running[(task.task_id, task.attempt)] = task
        for k, v in self._needs(task.step).items():
            self.in_use[k] += v
        self.executor.submit(spec)
        limit, source = self._timeout(task.step)
        if limit:
            # A remote executor may take a while to start the attempt, and stops it at the
            # limit itself; the scheduler's kill waits that long more.
            allowance = getattr(self.executor, "start_allowance", 0.0)
            timer = threading.Timer(limit + TIMEOUT_GRACE + allowance, self.executor.cancel,
                                    args=(spec, f"step {task.step!r} exceeded its @{source} of {limit:g} s"))
            timer.daemon = True
            timer.start()
            self.timers[(task.task_id, task.attempt)] = timer

    def _release(self, key: tuple[int, int]) -> TaskInfo | None:
        task = self.running.pop(key, None)
        timer = self.timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if task is not None:
            for k, v in self._needs(task.step).items():
                self.in_use[k] -= v
        return task

    def _spec(self, task: TaskInfo) -> TaskSpec:
        return TaskSpec(
            flow=self.flow, run=self.run_number, step=task.step, task_id=task.task_id,
            attempt=task.attempt, root=self.root, parents=task.parents, frames=task.frames,
            max_num_splits=self.max_num_splits, max_retries=self._max_retries(task.step),
            user=self.user, tags=self.tags, origin_run_id=self.origin_run_id,
            parameter_names=self.parameter_names, recover=task.recover,
            params=self.params, inputs=task.inputs, metadata=self.metadata, code=self.code,
            decospecs=self.decospecs,
        )

    # -- outcomes ----------------------------------------------------------------------------
    def _succeeded(self, task: TaskInfo, result: dict[str, Any]) -> None:
        with self.md.transaction():  # the outcome and the task's facts: one commit per task
            self.md.finish_attempt(self.flow, self.run_number, task.task_id, task.attempt,
                                   status=Status.SUCCEEDED, artifacts=result.get("artifacts", ()),
                                   host_pid=(result.get("host"), result.get("pid")),
                                   transition={k: result[k] for k in TRANSITION_KEYS if k in result})
            self._task_facts(task, result)
        if gang_of(task) is not None:
            whole = self.gangs.succeeded(task, result)
            if whole is None:
                return  # the join needs every node; a retried gang reruns them all
            for node, node_result in whole:
                self.counts[node.step] += 1
                if not self.failed:
                    self.ready.extend(self._successors(node, node_result))
            return
        self.counts[task.step] += 1
        if not self.failed:
            self.ready.extend(self._successors(task, result))

    def _successors(self, task: TaskInfo, result: dict[str, Any]) -> list[TaskInfo]:
        """The tasks ``task`` makes ready, each given its artifact refs when it has one parent
        (so the task need not open the database to find them)."""
        children = self.state.on_success(task, result)
        if "artifacts" not in result:
            return children
        refs = {name: (key, typ, size) for name, key, typ, size in result["artifacts"]}
        for child in children:
            if len(child.parents) == 1 and not self.graph[child.step].is_join:
                child.inputs = refs
        return children

    def _attempt_failed(self, task: TaskInfo, event: AttemptDone, result: dict[str, Any]) -> None:
        exc = result.get("exception")
        reason = event.reason or _exit_reason(event)
        retry = task.attempt < self._max_retries(task.step) and not self.failed
        with self.md.transaction():
            self.md.finish_attempt(self.flow, self.run_number, task.task_id, task.attempt,
                                   status=Status.FAILED, exit_reason=reason, exception=exc,
                                   task_final=not retry, host_pid=(result.get("host"), result.get("pid")))
            self._task_facts(task, result)
        where = f"{self.run_number}/{task.step}/{task.task_id}"
        what = f"{exc['type']}: {exc['message']}" if exc else reason
        key = gang_of(task)
        if key is not None and retry:
            self._retry_gang(key, task, where, what)
            return
        if retry:
            delay = self._retry_delay(task.step)
            self.console.event(f"[{where}] attempt {task.attempt} failed ({what}); retrying"
                               + (f" in {delay:.0f} s" if delay else ""))
            nxt = TaskInfo(task.task_id, task.step, task.parents, task.frames, task.attempt + 1,
                           inputs=task.inputs)
            timer = threading.Timer(delay, self.events.put, args=(_Retry(nxt),))
            timer.daemon = True
            self.waiting_retry[task.task_id] = (nxt, timer)
            timer.start()
            return
        if task.recover is None and not self.failed and self._has_catch(task.step):
            # The process died before @catch could act inside it: record the failure in a
            # short attempt that skips the step, so the flow goes on as @catch promises.
            info = exc or _failure_handled_by_catch(task.attempt + 1, reason)
            self.console.event(f"[{where}] {what}; @catch records it and the flow continues")
            self.ready.appendleft(TaskInfo(task.task_id, task.step, task.parents, task.frames,
                                           task.attempt + 1, recover=info, inputs=task.inputs))
            return
        self.counts[task.step] += 1
        first_failure = not self.failed
        self.failed_tasks.append(where)
        self.failed.append(f"step {task.step!r} (task {where}) failed: {what}")
        if first_failure:
            self._stop_all(f"stopped because task {where} failed")

    # -- gangs ------------------------------------------------------------------------------------
    def _fill_gang(self, key: tuple) -> bool:
        """Clone a gang that the origin run finished whole, or start all its nodes together;
        False when they must wait for room."""
        nodes = self.gangs.take(self.ready, key)
        if self.cloner is not None and all(self.cloner.origin_for(n) is not None for n in nodes):
            for node in nodes:  # a gang is reused whole or not at all
                result = self.cloner.try_clone(node)
                self.cloned += 1
                self.counts[node.step] += 1
                self.ready.extend(self._successors(node, result or {}))
            return True
        if self.running and len(self.running) + len(nodes) > self.max_workers:
            self.ready.extendleft(reversed(nodes))
            return False
        for node in nodes:
            self._launch(node)
        return True

    def _retry_gang(self, key: tuple, failed: TaskInfo, where: str, what: str) -> None:
        """A node failed and the step may retry: stop the other nodes, then run them all again."""
        n = int(failed.frames[-1]["num_splits"])
        self.console.event(f"[{where}] node {node_index(failed)} of {n} failed ({what}); stopping "
                           f"the other nodes and running the whole gang again")
        again = self.gangs.retrying[key] = Retrying()
        for node in [failed, *self.gangs.forget_successes(key)]:
            again.next[node_index(node)] = self._next_attempt(node)
        reason = f"stopped: node {node_index(failed)} of the gang failed"
        for run_key, node in list(self.running.items()):
            if gang_of(node) == key:
                again.running.add(run_key)
                self.executor.cancel(self._spec(node), reason)
        self._gang_relaunch_if_stopped(key)

    def _gang_node_stopped(self, key: tuple, task: TaskInfo, event: AttemptDone, result: dict[str, Any]) -> None:
        """A node of a gang being retried has ended: record it; once all have, run them again."""
        again = self.gangs.retrying[key]
        ok = bool(result.get("ok"))
        self.md.finish_attempt(self.flow, self.run_number, task.task_id, task.attempt,
                               status=Status.SUCCEEDED if ok else Status.FAILED,
                               exit_reason=None if ok else (event.reason or _exit_reason(event)),
                               exception=result.get("exception"), task_final=False,
                               artifacts=result.get("artifacts", ()) if ok else ())
        again.running.discard((task.task_id, task.attempt))
        again.next[node_index(task)] = self._next_attempt(task)
        self._gang_relaunch_if_stopped(key)

    def _gang_relaunch_if_stopped(self, key: tuple) -> None:
        again = self.gangs.retrying[key]
        if again.running:
            return
        del self.gangs.retrying[key]
        nodes = [again.next[i] for i in sorted(again.next)]
        delay = self._retry_delay(key[0])
        if delay:
            timer = threading.Timer(delay, self.events.put, args=(_GangRetry(nodes),))
            timer.daemon = True
            timer.start()
        elif not self.failed:
            self.ready.extendleft(reversed(nodes))

    @staticmethod
    def _next_attempt(task: TaskInfo) -> TaskInfo:
        return TaskInfo(task.task_id, task.step, task.parents, task.frames, task.attempt + 1,
                        inputs=task.inputs)

    def _task_facts(self, task: TaskInfo, result: dict[str, Any]) -> None:
        """Task metadata from the task's own process: what Metaflow records too
        (``python_version``), and the cluster node it ran on when its executor says (Ray)."""
        facts = {k: result[k] for k in ("python_version", "node") if result.get(k)}
        if facts:
            self.md.set_task_meta(self.flow, self.run_number, task.task_id, facts)

    def _stop_all(self, reason: str, *, interrupted: bool = False) -> None:
        """Stop running attempts and pending retries; record every outcome (briefly waited for).

        An interrupted run records, on each attempt it stopped, a ``KeyboardInterrupt`` whose
        message is ``reason``: ``task.exception``, ``show``, ``logs`` and the UI say why.
        """
        for nxt, timer in self.waiting_retry.values():
            timer.cancel()
            self.md.finish_task(self.flow, self.run_number, nxt.task_id, Status.FAILED)
        self.waiting_retry.clear()
        if not self.running:
            return
        self.executor.cancel_all(reason)
        deadline = time.monotonic() + 10
        while self.running and time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if not isinstance(event, AttemptDone):
                continue
            task = self._release((event.spec.task_id, event.spec.attempt))
            if task is None:
                continue
            result = event.result or {}
            if result.get("ok"):
                self._succeeded(task, result)  # finished before the stop reached it: keep it
            else:
                self.counts[task.step] += 1
                exc = result.get("exception")
                if interrupted:
                    exc = _interruption(reason, exc)
                self.md.finish_attempt(self.flow, self.run_number, task.task_id, task.attempt,
                                       status=Status.FAILED, exit_reason=reason, exception=exc)
        for task in self.running.values():
            self.counts[task.step] += 1
            self.md.finish_attempt(self.flow, self.run_number, task.task_id, task.attempt,
                                   status=Status.FAILED, exit_reason=reason,
                                   exception=_interruption(reason, None) if interrupted else None)
        self.running.clear()

    # -- step settings from decorators ----------------------------------------------------------
    def _max_retries(self, step: str) -> int:
        return max([d.runtime_retry_count() for d in self.graph[step].decorators] or [0])

    def _retry_delay(self, step: str) -> float:
        for d in self.graph[step].decorators:
            delay = d.runtime_retry_delay()
            if delay is not None:
                return float(delay)
        return 0.0

    def _has_catch(self, step: str) -> bool:
        return any(d.runtime_recovers_process_death() for d in self.graph[step].decorators)

    def _timeout(self, step: str) -> tuple[float, str]:
        """The shortest time limit any decorator sets, and that decorator's name."""
        return step_timeout(self.graph, step) or (0.0, "")

    def _heartbeat(self) -> None:
        while not self._stop_heartbeat.wait(HEARTBEAT_SECONDS):
            try:
                # Every running attempt too: a reader judges liveness per attempt.
                self.md.heartbeat(self.flow, self.run_number, list(self.running))
            except Exception:  # noqa: BLE001 - a missed heartbeat is not worth failing the run
                pass

    def _hints(self, ok: bool, interrupted: bool) -> list[str]:
        """The closing commands the README promises: artifacts, logs, Python, the UI; on a
        failure the failed tasks' logs and the resume command."""
        pathspec = f"{self.flow}/{self.run_number}"
        run, script = self.run_number, self.script
        if ok:
            return [
                f"Artifacts:  python {script} dump {run}/{self.graph.end}",
                # The task that printed last (the end step's, most often): its output is there.
                f"Logs:       python {script} logs {self.console.last_output or f'{run}/{self.graph.end}'}",
                f"In Python:  Run({pathspec!r}).data   |   In a browser:  headwater ui",
            ]
        hints = [f"Logs:       python {script} logs {where}" for where in self.failed_tasks[:3]]
        hints.append(f"Resume:     python {script} resume --origin-run-id {run}")
        return hints


def _failure_handled_by_catch(attempts: int, reason: str) -> dict[str, Any]:
    """What ``@catch`` records when the process died every time instead of raising: under
    Metaflow's type name (code that tests ``err.type`` keeps working), with the cause."""
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    return {"type": "metaflow.plugins.catch_decorator.FailureHandledByCatch",
            "message": f"Task execution kept failing over {tries}: your code did not raise an "
                       f"exception; {reason}.", "traceback": ""}


def _interruption(reason: str, raised: dict[str, Any] | None) -> dict[str, Any]:
    """The exception recorded on an attempt an interruption stopped (its traceback, if it
    printed one: with Ctrl-C in a terminal the task gets SIGINT too)."""
    return {"type": "KeyboardInterrupt", "message": reason,
            "traceback": (raised or {}).get("traceback") or ""}


def _stop_on_sigterm() -> Any:
    """``kill <pid>`` stops a run the way Ctrl-C does: tasks stopped, run recorded as failed."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise Interrupted("SIGTERM")

    return signal.signal(signal.SIGTERM, stop)


def _exit_reason(event: AttemptDone) -> str:
    if event.signal:
        return f"the task process was killed by {describe_signal(event.signal)}"
    if event.result is None:
        return f"the task process exited with code {event.exit_code} before reporting a result"
    return "the step raised an exception"
