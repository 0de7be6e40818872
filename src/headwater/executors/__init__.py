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
}
ENV = "HEADWATER_EXECUTOR"


def check_name(name: str, source: str = "--executor") -> str:
    """``name`` if it is an executor, else a clear error naming it and the choices."""
    if name not in EXECUTORS:
        raise CommandError(f"{source}: unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}.")
    return name


def make_executor(name: str, flow_cls: type, graph: Any, datastore: Any) -> Any:
    check_name(name)
    module, _, cls = EXECUTORS[name].partition(":")
    from importlib import import_module

    return getattr(import_module(module), cls)(flow_cls, graph, datastore)
