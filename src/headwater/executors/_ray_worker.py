"""What runs inside Ray: the remote attempt and the console sink (``executors/ray.py``).

Imported by the driver after Ray is connected, and by Ray's workers when they run these
functions, so it may import ``ray`` at the top.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import ray

_flows: dict[str, tuple[type, Any]] = {}  # this worker's loaded flows, by what loaded them
_loading = threading.Lock()


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


def _flow_for(spec: Any) -> tuple[type, Any]:
    """The flow class and graph of ``spec``'s run, loaded once per worker."""
    from ..task_entry import load_flow

    code = spec.code or {}
    key = repr((code.get("key"), code.get("dir"), code.get("file"), code.get("cls"), spec.decospecs,
                spec.flow, spec.run))
    with _loading:
        found = _flows.get(key)
        if found is None:
            found = _flows[key] = load_flow(spec)
    return found


@ray.remote
def run_attempt_remote(spec_json: str, env: dict[str, str], sink: Any) -> dict[str, Any]:
    """One attempt in this Ray worker: its output to the run's logs and to ``sink``."""
    os.environ.update(env)
    from ..datastore.datastore import open_datastore
    from ..task import TaskSpec, run_attempt
    from ..task_entry import captured

    spec = TaskSpec.from_json(spec_json)
    flow_cls, graph = _flow_for(spec)
    sent: list[Any] = []

    def echo(stream: str, texts: list[str]) -> None:
        sent.append(sink.put.remote([(spec.task_id, spec.attempt, spec.step, stream, t) for t in texts]))

    with captured(open_datastore(spec.root), spec, echo=echo):
        result = run_attempt(spec, flow_cls, graph)
    if sent:
        ray.get(sent[-1])  # its lines reach the console before its outcome does
    result["node"] = ray.util.get_node_ip_address()
    return result
