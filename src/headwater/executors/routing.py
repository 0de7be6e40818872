"""One run, several executors: each step's attempts go where its decorators say (``@ray``),
the rest to the run's own executor (``--executor``)."""

from __future__ import annotations

import queue

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

    from ..task import TaskSpec


def step_executors(graph: Any, default: str) -> dict[str, str]:
    """step -> the executor its attempts run on; two decorators of one step that want
    different executors are refused."""
    from ..exceptions import CommandError

    out = {}
    for node in graph:
        wanted = {d.runtime_executor(): d.name for d in node.decorators if d.runtime_executor()}
        if len(wanted) > 1:
            said = ", ".join(f"@{name} wants {which!r}" for which, name in wanted.items())
            raise CommandError(f"step {node.name!r}: its decorators disagree on where it runs ({said}); "
                               "keep one of them.")
        out[node.name] = next(iter(wanted), default)
    return out


class RoutedExecutor:
    """Sends each attempt to its step's executor; otherwise behaves as one executor."""

    name = "routed"

    def __init__(self, executors: dict[str, Any], routes: dict[str, str]) -> None:
        self.executors = executors  # name -> executor (the run's own among them)
        self.routes = routes
        self.needs_code_package = any(getattr(e, "needs_code_package", False) for e in executors.values())
        self.start_allowance = max(getattr(e, "start_allowance", 0.0) for e in executors.values())

    def start(self, events: queue.Queue, console: Any) -> None:
        for name, executor in self.executors.items():
            steps = [s for s, n in self.routes.items() if n == name]
            if name == "ray":  # checks its steps against the cluster as it connects
                executor.start(events, console, steps=steps)
            else:
                executor.start(events, console)

    def _for(self, spec: TaskSpec) -> Any:
        return self.executors[self.routes[spec.step]]

    def placement(self, spec: TaskSpec) -> dict[str, Any] | None:
        placement = getattr(self._for(spec), "placement", None)
        return placement(spec) if placement is not None else None

    def submit(self, spec: TaskSpec) -> None:
        self._for(spec).submit(spec)

    def cancel(self, spec: TaskSpec, reason: str) -> None:
        self._for(spec).cancel(spec, reason)

    def cancel_all(self, reason: str) -> None:
        for executor in self.executors.values():
            executor.cancel_all(reason)

    def close(self) -> None:
        for executor in self.executors.values():
            executor.close()
