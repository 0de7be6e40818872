"""Which tasks a finished task unlocks: the pure bookkeeping of one run.

State fields (all plain data, so tests drive them without processes):

    next_id    the next task id to hand out (task 0 is the run's ``_parameters`` task)
    expected   split task id -> how many branches its join must wait for
    waiting    (join step, split task id) -> {branch index: (task_id, step, attempt)}

A *frame* is pushed on a task's ``frames`` when a split opens (a foreach pushes its
``var``, ``index``, ``num_splits`` and a short ``value``; a static split pushes a frame
with ``var=None``; a ``num_parallel`` gang a frame with ``parallel`` and the ``control``
task, node 0) and popped by the matching join. A join is ready when every branch of
the split that opened its last frame has arrived; its inputs are ordered by branch index.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

Parent = tuple[int, str, int]  # (task_id, step, attempt)


class TaskInfo:
    """A task the scheduler knows about: its id, step, parents, open splits and attempt.

    ``recover`` is set for a @catch recovery attempt after a process death; ``inputs`` holds
    the single parent's artifact refs, when the scheduler has them.
    """

    __slots__ = ("task_id", "step", "parents", "frames", "attempt", "recover", "inputs")

    def __init__(self, task_id: int, step: str, parents: list[Parent] | None = None,
                 frames: list[dict] | None = None, attempt: int = 0, *,
                 recover: dict | None = None, inputs: dict | None = None) -> None:
        self.task_id = task_id
        self.step = step
        self.parents = parents or []
        self.frames = frames or []
        self.attempt = attempt
        self.recover = recover
        self.inputs = inputs

    def __repr__(self) -> str:
        return f"TaskInfo({self.task_id}, {self.step!r}, attempt={self.attempt})"

    @property
    def ref(self) -> Parent:
        return (self.task_id, self.step, self.attempt)


class RunState:
    def __init__(self, graph: Any, next_id: int = 1) -> None:
        self.graph = graph
        self.next_id = next_id
        self.expected: dict[int, int] = {}
        self.waiting: dict[tuple[str, int], dict[int, Parent]] = {}

    def new_task(self, step: str, parents: list[Parent], frames: list[dict]) -> TaskInfo:
        task = TaskInfo(self.next_id, step, parents, frames)
        self.next_id += 1
        return task

    def first_task(self) -> TaskInfo:
        return self.new_task(self.graph.start, [(0, "_parameters", 0)], [])

    def on_success(self, task: TaskInfo, result: dict[str, Any]) -> list[TaskInfo]:
        """The tasks that become ready because ``task`` succeeded with ``result``."""
        targets: list[str] = result.get("next") or []
        if not targets:
            return []
        me = task.ref
        if result.get("num_parallel"):  # a gang: N nodes of one step, started together
            n = int(result["num_parallel"])
            self.expected[task.task_id] = n
            control = self.next_id  # node 0's task id
            return [
                self.new_task(targets[0], [me], task.frames + [{
                    "task": task.task_id, "step": task.step, "var": None, "index": i,
                    "num_splits": n, "parallel": True, "control": control,
                }])
                for i in range(n)
            ]
        if result.get("foreach"):
            n = result["num_splits"]
            values = result.get("values") or []
            self.expected[task.task_id] = n
            return [
                self.new_task(targets[0], [me], task.frames + [{
                    "task": task.task_id, "step": task.step, "var": result["foreach"],
                    "index": i, "num_splits": n, "value": values[i] if i < len(values) else None,
                }])
                for i in range(n)
            ]
        if len(targets) > 1:
            self.expected[task.task_id] = len(targets)
            return [
                self.new_task(t, [me], task.frames + [{
                    "task": task.task_id, "step": task.step, "var": None,
                    "index": i, "num_splits": len(targets),
                }])
                for i, t in enumerate(targets)
            ]
        target = targets[0]
        if self.graph[target].is_join:
            return self._arrive(target, task)
        return [self.new_task(target, [me], task.frames)]

    def _arrive(self, join: str, task: TaskInfo) -> list[TaskInfo]:
        frame = task.frames[-1]
        key = (join, frame["task"])
        arrived = self.waiting.setdefault(key, {})
        arrived[frame["index"]] = task.ref
        if len(arrived) < self.expected[frame["task"]]:
            return []
        del self.waiting[key]
        parents = [arrived[i] for i in sorted(arrived)]
        return [self.new_task(join, parents, task.frames[:-1])]
