"""Step: the tasks that ran one step of a run (one, or one per foreach item).

    >>> step = Run("TrainFlow/12")["train"]              # doctest: +SKIP
    >>> step.task.data.score                             # a linear step has one task
    >>> [t.data.score for t in step]                     # a foreach step has many
    >>> step["5"]                                        # Task TrainFlow/12/train/5
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from .base import ClientObject, load_run, parse_pathspec
from .errors import not_found
from .records import to_datetime
from .task import Task

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from .run import Run


class Step(ClientObject):
    """A step of a run and its tasks.

    >>> Step("TrainFlow/12/train").task                  # doctest: +SKIP
    Task('TrainFlow/12/train/3')
    """

    _DEPTH = 3

    def __init__(self, pathspec: str, *, _namespace_check: bool = True) -> None:
        from .stores import current_stores

        parts = parse_pathspec(pathspec, "Step", 3)
        stores = current_stores()
        self._setup(parts, stores)
        load_run(stores, parts[0], int(parts[1]), check_namespace=_namespace_check)
        self._check()

    def _check(self) -> None:
        flow, run, step = self._parts
        reader = self._stores.reader
        if not reader.has_step(flow, int(run), step):
            names = [s for s in reader.step_names(flow, int(run)) if not s.startswith("_")]
            raise not_found(f"Run {flow}/{run} has no step", step, names,
                            hint="" if names else "No task of it has started yet.")

    @property
    def parent(self) -> Run:
        """The run this step belongs to."""
        from .run import Run

        return Run._bare(self._parts[:2], self._stores_)

    def tasks(self, *tags: str) -> Iterator[Task]:
        """The step's tasks, in the order they were created (foreach items in order).

        With ``tags``, none unless the run carries all of them (tasks share their run's tags).
        """
        if tags:
            have = {t for t, _ in self._stores.reader.tags(self._flow, self._run)}
            if not set(tags) <= have:
                return iter([])
        rows = self._stores.reader.tasks_of_step(self._flow, self._run, self.id)
        return iter([Task._of(row, self._stores) for row in rows])

    def __iter__(self) -> Iterator[Task]:
        return self.tasks()

    def control_tasks(self, *tags: str) -> Iterator[Task]:
        """The control tasks of a ``@parallel`` step: node 0 of each gang (none for other steps)."""
        return iter([t for t in self.tasks(*tags) if _is_control(t._task_row().frames)])

    @property
    def task(self) -> Task | None:
        """The step's first task (the only one for a linear step), or None."""
        rows = self._stores.reader.tasks_of_step(self._flow, self._run, self.id, limit=1)
        return Task._of(rows[0], self._stores) if rows else None

    def __getitem__(self, task_id: str | int) -> Task:
        """``step["5"]``: the task with that id."""
        text = str(task_id)
        reader = self._stores.reader
        row = reader.task(self._flow, self._run, int(text)) if text.isdigit() else None
        if row is None or row.step != self.id:
            ids = [str(t.task_id) for t in reader.tasks_of_step(self._flow, self._run, self.id, limit=1000)]
            raise not_found(f"Step {self.pathspec} has no task", text, ids)
        return Task._of(row, self._stores)

    def __contains__(self, task_id: object) -> bool:
        text = str(task_id)
        if not text.isdigit():
            return False
        row = self._stores.reader.task(self._flow, self._run, int(text))
        return row is not None and row.step == self.id

    @property
    def created_at(self) -> datetime | None:
        """When the step's first task was created."""
        rows = self._stores.reader.tasks_of_step(self._flow, self._run, self.id)
        return to_datetime(min(r.created_at for r in rows)) if rows else None

    @property
    def finished_at(self) -> datetime | None:
        """When the step's last task ended, once all of them have; else None."""
        rows = self._stores.reader.tasks_of_step(self._flow, self._run, self.id)
        if not rows or any(r.finished_at is None or r.status == "running" for r in rows):
            return None
        return to_datetime(max(r.finished_at or 0.0 for r in rows))

    @property
    def finished(self) -> bool:
        """Whether every task of the step has ended."""
        return self.finished_at is not None

    # -- the graph around it -------------------------------------------------------------------
    def _graph_steps(self) -> list[dict]:
        import json

        row = self._stores.reader.run(self._flow, self._run)
        graph = json.loads(row.graph) if row is not None and row.graph else {}
        return list(graph.get("steps", ()))

    def _ran(self, names: list[str]) -> Iterator[Step]:
        """The steps of this run named ``names`` that have tasks (a branch not taken has none)."""
        reader = self._stores.reader
        for name in names:
            if reader.has_step(self._flow, self._run, name):
                yield Step._bare((*self._parts[:2], name), self._stores_)

    @property
    def parent_steps(self) -> Iterator[Step]:
        """The steps of this run that lead to this one in the flow's graph."""
        names = [s["name"] for s in self._graph_steps() if self.id in (s.get("next") or ())]
        return self._ran(names)

    @property
    def child_steps(self) -> Iterator[Step]:
        """The steps of this run that this one leads to in the flow's graph."""
        node = next((s for s in self._graph_steps() if s.get("name") == self.id), {})
        return self._ran(list(node.get("next") or ()))

    @property
    def origin_pathspec(self) -> str | None:
        """For a step of a run made by ``resume``: the same step in the run it resumed."""
        row = self._stores.reader.run(self._flow, self._run)
        origin = row.origin_run_id if row is not None else None
        return f"{self._flow}/{origin}/{self.id}" if origin else None


def _is_control(frames: list[dict]) -> bool:
    return bool(frames) and bool(frames[-1].get("parallel")) and frames[-1]["index"] == 0
