"""Gangs: the nodes of a ``@parallel`` step, which start together and succeed or fail together.

The scheduler launches a gang's nodes at once (``take``), holds each node's success until
every node has succeeded (``succeeded``: the join waits for them all anyway, and a gang that
is retried runs again as a whole), and, when a node fails and the step may retry, stops the
others and runs every node again (``Retrying``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections import deque
    from typing import Any

    from .state import TaskInfo

GangKey = tuple  # (step, the task id of the split that started the gang)


def gang_of(task: TaskInfo) -> GangKey | None:
    """The gang ``task`` is a node of, or None."""
    frame = task.frames[-1] if task.frames else None
    if frame is not None and frame.get("parallel"):
        return (task.step, frame["task"])
    return None


def node_index(task: TaskInfo) -> int:
    return int(task.frames[-1]["index"])


class Retrying:
    """A gang being stopped so that it runs again: the next attempt of each node, and the
    nodes still running."""

    def __init__(self) -> None:
        self.next: dict[int, TaskInfo] = {}  # node index -> its next attempt
        self.running: set[tuple[int, int]] = set()


class Gangs:
    def __init__(self) -> None:
        self.done: dict[GangKey, dict[int, tuple[TaskInfo, dict[str, Any]]]] = {}
        self.retrying: dict[GangKey, Retrying] = {}

    @staticmethod
    def take(ready: deque, key: GangKey) -> list[TaskInfo]:
        """Every ready node of gang ``key``, removed from ``ready``, in node order."""
        members = [t for t in ready if gang_of(t) == key]
        for t in members:
            ready.remove(t)
        return sorted(members, key=node_index)

    def succeeded(self, task: TaskInfo, result: dict[str, Any]) -> list[tuple[TaskInfo, dict[str, Any]]] | None:
        """Hold a node's success; once every node has succeeded, all of them in node order."""
        key = gang_of(task)
        done = self.done.setdefault(key, {})
        done[node_index(task)] = (task, result)
        if len(done) < int(task.frames[-1]["num_splits"]):
            return None
        del self.done[key]
        return [done[i] for i in sorted(done)]

    def forget_successes(self, key: GangKey) -> list[TaskInfo]:
        """The nodes that had succeeded, for a gang that runs again."""
        return [task for task, _ in self.done.pop(key, {}).values()]
