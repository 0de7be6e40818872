"""Where an attempt runs. One executor per module; ``make_executor`` picks one by name."""

from __future__ import annotations

import os

from ..exceptions import CommandError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

EXECUTORS = {
    "fork": "headwater.executors.fork:ForkExecutor",
    "inprocess": "headwater.executors.inprocess:InProcessExecutor",
}


def make_executor(name: str, flow_cls: type, graph: Any, root: str | os.PathLike[str]) -> Any:
    if name not in EXECUTORS:
        raise CommandError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
    module, _, cls = EXECUTORS[name].partition(":")
    from importlib import import_module

    return getattr(import_module(module), cls)(flow_cls, graph, root)
