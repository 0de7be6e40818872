"""Where an attempt runs. One executor per module; ``make_executor`` picks one by name."""

from __future__ import annotations

from ..exceptions import CommandError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

EXECUTORS = {
    "fork": "headwater.executors.fork:ForkExecutor",
    "subprocess": "headwater.executors.subprocess:SubprocessExecutor",
    "inprocess": "headwater.executors.inprocess:InProcessExecutor",
    "ray": "headwater.executors.ray:RayExecutor",
}
ENV = "HEADWATER_EXECUTOR"


def check_name(name: str, source: str = "--executor") -> str:
    """``name`` if it is an executor, else a clear error naming it and the choices."""
    if name not in EXECUTORS:
        raise CommandError(f"{source}: unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}.")
    return name


def make_executor(name: str, flow_cls: type, graph: Any, datastore: Any) -> Any:
    """The executor ``name`` for a run; when some steps ask for another one (``@ray``), an
    executor that routes each step's attempts to its own."""
    check_name(name)
    from importlib import import_module

    from .routing import RoutedExecutor, step_executors

    routes = step_executors(graph, name)
    wanted = sorted(set(routes.values()))
    for other in wanted:
        check_name(other, source=f"a step decorator ({', '.join(s for s, n in routes.items() if n == other)})")

    def build(which: str) -> Any:
        module, _, cls = EXECUTORS[which].partition(":")
        return getattr(import_module(module), cls)(flow_cls, graph, datastore)

    if wanted == [name]:
        return build(name)
    return RoutedExecutor({which: build(which) for which in {name, *wanted}}, routes)
