"""The task a card is rendered for, seen from inside the task itself.

Cards are rendered in the task's own process, before the runtime records the attempt, so the
client's ``Task`` cannot see it yet. :class:`TaskView` offers the same reading surface over
the live flow object: ``pathspec``, ``id``, ``data.<name>``, ``task["name"].data``,
``artifacts``, ``status``, ``successful``, ``finished``, ``exception``, ``started_at``,
``finished_at``, ``index``, ``parameters`` and the flow's ``graph`` (a dict).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from .preview import qualname

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

# Inherited artifacts larger than this are described, not loaded, by the default card.
MAX_LOAD_BYTES = 64 * 1024 * 1024


class ArtifactView:
    """One artifact: ``name``, ``type``, ``size`` (stored bytes, when known) and ``data``."""

    def __init__(self, view: TaskView, name: str) -> None:
        self._view = view
        self.id = self.name = name

    @property
    def _ref(self) -> tuple[Any, ...] | None:
        return self._view._ref(self.name)

    @property
    def type(self) -> str:
        d = self._view._flow.__dict__
        if self.name in d:
            return qualname(d[self.name])
        ref = self._ref
        return str(ref[1]).removeprefix("builtins.") if ref else "?"

    @property
    def size(self) -> int | None:
        ref = self._ref
        return int(ref[2]) if ref is not None and self.name not in self._view._flow.__dict__ else None

    @property
    def too_large(self) -> bool:
        size = self.size
        return size is not None and size > MAX_LOAD_BYTES

    @property
    def data(self) -> Any:
        return self._view._value(self.name)

    def __repr__(self) -> str:
        return f"<artifact {self.name}: {self.type}>"


class _Data:
    def __init__(self, view: TaskView) -> None:
        self._view = view

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name not in self._view._names():
            raise AttributeError(f"{self._view.pathspec} has no artifact {name!r}")
        return self._view._value(name)

    __getitem__ = __getattr__

    def __contains__(self, name: object) -> bool:
        return name in self._view._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._view._names())


class TaskView:
    def __init__(self, flow: Any, *, pathspec: str, attempt: int, status: str, started_at: float,
                 finished_at: float | None, exception: dict | None, parameter_names: list[str],
                 max_retries: int = 0) -> None:
        self._flow = flow
        self.pathspec = pathspec
        self.flow_name, self.run_id, self.step_name, self.id = pathspec.split("/")
        self.current_attempt = attempt
        self.max_retries = max_retries
        self.status = status
        self._started = started_at
        self._finished = finished_at
        self._exception = exception
        self.parameter_names = list(parameter_names)

    # -- outcome -------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.status != "running"

    @property
    def successful(self) -> bool:
        return self.status == "succeeded"

    @property
    def exception(self) -> Any:
        if not self._exception:
            return None
        from ..client.task import TaskException

        return TaskException(self._exception)

    @property
    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self._started)

    @property
    def finished_at(self) -> datetime | None:
        return datetime.fromtimestamp(self._finished) if self._finished is not None else None

    @property
    def duration(self) -> float | None:
        return None if self._finished is None else max(self._finished - self._started, 0.0)

    @property
    def index(self) -> int | None:
        try:
            return self._flow.index
        except Exception:  # noqa: BLE001
            return None

    @property
    def graph(self) -> dict[str, Any] | None:
        graph = self._flow.__dict__.get("_hw_graph")
        return graph.to_dict() if graph is not None and hasattr(graph, "to_dict") else None

    # -- artifacts -----------------------------------------------------------------------------
    def _names(self) -> list[str]:
        d = self._flow.__dict__
        names = list(d.get("_hw_params") or {}) + list(d.get("_hw_refs") or {})
        names += [k for k in d if not k.startswith("_hw_")]
        return [n for n in dict.fromkeys(names) if not n.startswith("_")]

    def _ref(self, name: str) -> tuple[Any, ...] | None:
        d = self._flow.__dict__
        return (d.get("_hw_refs") or {}).get(name) or (d.get("_hw_params") or {}).get(name)

    def _value(self, name: str) -> Any:
        d = self._flow.__dict__
        if name in d:
            return d[name]
        ref = self._ref(name)
        if ref is None:
            raise AttributeError(f"{self.pathspec} has no artifact {name!r}")
        return d["_hw_store"].load(ref[0])  # not cached on the flow: the card only looks

    @property
    def data(self) -> _Data:
        return _Data(self)

    @property
    def artifacts(self) -> list[ArtifactView]:
        return [ArtifactView(self, n) for n in self._names()]

    @property
    def parameters(self) -> dict[str, Any]:
        """Parameter values by attribute name (the run stores which artifacts are parameters)."""
        names = self.parameter_names
        if self._ref("_parameter_names") is not None:
            try:
                names = list(self._value("_parameter_names"))
            except Exception:  # noqa: BLE001 - fall back to the names current knows
                pass
        return {n: self._value(n) for n in names if self._ref(n) or n in self._flow.__dict__}

    def __getitem__(self, name: str) -> ArtifactView:
        if name not in self._names() and self._ref(name) is None and name not in self._flow.__dict__:
            raise KeyError(f"{self.pathspec} has no artifact {name!r}")
        return ArtifactView(self, name)

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[ArtifactView]:
        return iter(self.artifacts)

    def __repr__(self) -> str:
        return f"TaskView({self.pathspec!r}, {self.status})"
