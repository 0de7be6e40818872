"""Run: one execution of a flow, its status, steps, results, parameters, code and tags.

    >>> run = Run("TrainFlow/12")                        # or Flow("TrainFlow")["12"]
    >>> run.successful, run.status, run.finished_at      # doctest: +SKIP
    >>> run.data.best                                    # the end step's artifacts
    >>> run.parameters["alpha"]
    >>> [step.id for step in run]                        # newest step first
    >>> run["train"].task.stdout
    >>> run.add_tag("baseline")

``status`` is ``running``, ``succeeded`` or ``failed``, or ``abandoned`` when a run still
marked running has shown no sign of life for a minute: neither its scheduler nor any of its
tasks sent a heartbeat (its scheduler was killed, its machine went away). An abandoned run's
``finished_at`` is its last heartbeat, so its duration stops growing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime

from ..metadata.vocabulary import PARAMS_TASK
from . import tags
from .base import ClientObject, load_run, parse_pathspec
from .code import CodePackage
from .errors import not_found
from .records import RunRow, to_datetime
from .step import Step
from .task import Task, TaskData

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing import Any

    from .flow import Flow
    from .stores import Stores


class Run(ClientObject):
    """A run of a flow.

    >>> Run("TrainFlow/12").data.best                    # doctest: +SKIP
    0.91
    """

    _DEPTH = 2
    _row_cache: RunRow | None
    _end_task: Task | None

    def __init__(self, pathspec: str, *, _namespace_check: bool = True) -> None:
        from .stores import current_stores

        parts = parse_pathspec(pathspec, "Run", 2)
        stores = current_stores()
        self._setup(parts, stores)
        self._row_cache = load_run(stores, parts[0], int(parts[1]), check_namespace=_namespace_check)

    def _setup(self, parts: tuple[str, ...], stores: Stores | None, attempt: int | None = None) -> None:
        super()._setup(parts, stores, attempt)
        self._row_cache = None
        self._end_task = None

    @classmethod
    def _of(cls, row: RunRow, stores: Stores) -> Run:
        run = cls._bare((row.flow, str(row.number)), stores)
        run._row_cache = row
        return run

    @property
    def _row(self) -> RunRow:
        """The run's record, re-read while the run is running (a finished record never changes)."""
        row = self._row_cache
        if row is None or row.status == "running":
            row = self._row_cache = load_run(self._stores, self._flow, self._run, check_namespace=False)
        return row

    # -- status and times --------------------------------------------------------------------
    @property
    def status(self) -> str:
        """``running``, ``succeeded``, ``failed``, or ``abandoned`` (no heartbeat for a minute)."""
        return self._row.effective_status()

    @property
    def successful(self) -> bool:
        """Whether the run finished and succeeded."""
        return self._row.status == "succeeded"

    @property
    def finished(self) -> bool:
        """Whether the run completed its end step, as in Metaflow: a failed run has not
        finished (``status`` tells a failed run from a running one)."""
        return self._row.status == "succeeded"

    @property
    def created_at(self) -> datetime:
        """When the run started."""
        return to_datetime(self._row.created_at)  # type: ignore[return-value]

    @property
    def finished_at(self) -> datetime | None:
        """When the run ended; None while it runs. For an abandoned run, its last heartbeat."""
        return to_datetime(self._row.ended_at())

    @property
    def heartbeat_at(self) -> datetime | None:
        """The run's last sign of life: its scheduler's heartbeat or any of its tasks'."""
        return to_datetime(self._row.heartbeat_at)

    @property
    def user(self) -> str:
        """Who started the run."""
        return self._row.user

    @property
    def origin_pathspec(self) -> str | None:
        """For a run made by ``resume``: the run it resumed; else None."""
        origin = self._row.origin_run_id
        return f"{self._flow}/{origin}" if origin else None

    # -- steps ---------------------------------------------------------------------------------
    @property
    def parent(self) -> Flow:
        """The flow this run belongs to."""
        from .flow import Flow

        return Flow._bare(self._parts[:1], self._stores_)

    def steps(self, *tags: str) -> Iterator[Step]:
        """The run's steps, most recently started first (``_parameters`` left out).

        With ``tags``, none unless the run carries all of them.
        """
        if tags and not set(tags) <= self.tags:
            return iter([])
        names = [s for s in self._stores.reader.step_names(self._flow, self._run) if not s.startswith("_")]
        return iter([Step._bare((*self._parts, name), self._stores) for name in names])

    def __iter__(self) -> Iterator[Step]:
        return self.steps()

    def __getitem__(self, step: str) -> Step:
        """``run["train"]``: one step."""
        reader = self._stores.reader
        if not isinstance(step, str) or not reader.has_step(self._flow, self._run, step):
            names = [s for s in reader.step_names(self._flow, self._run) if not s.startswith("_")]
            raise not_found(f"Run {self.pathspec} has no step", str(step), names,
                            hint="" if names else "No task of it has started yet.")
        return Step._bare((*self._parts, step), self._stores)

    def __contains__(self, step: object) -> bool:
        return isinstance(step, str) and self._stores.reader.has_step(self._flow, self._run, step)

    @property
    def _end_step(self) -> str:
        graph = json.loads(self._row.graph) if self._row.graph else {}
        for node in graph.get("steps", ()):
            if node.get("type") == "end":
                return str(node["name"])
        return "end"

    @property
    def end_task(self) -> Task | None:
        """The task of the ``end`` step, or None if the run has not reached it."""
        if self._end_task is not None:
            return self._end_task
        rows = self._stores.reader.tasks_of_step(self._flow, self._run, self._end_step, limit=1)
        if not rows:
            return None
        task = Task._of(rows[0], self._stores)
        if rows[0].status != "running":
            self._end_task = task
        return task

    @property
    def data(self) -> TaskData | None:
        """The end task's artifacts (parameters included): ``run.data.best``; None before the end."""
        end = self.end_task
        return end.data if end is not None else None

    @property
    def parameters(self) -> dict[str, Any]:
        """Parameter values of the run, by name (configs and class constants are in ``data``)."""
        store = self._stores.datastore_for(self._flow, self._run).blobs
        rows = self._stores.reader.artifacts(self._flow, self._run, PARAMS_TASK, 0)
        names = next((store.load(r.key, size=r.size) for r in rows if r.name == "_parameter_names"), None)
        return {r.name: store.load(r.key, size=r.size) for r in rows
                if not r.name.startswith("_") and (names is None or r.name in names)}

    @property
    def code(self) -> CodePackage | None:
        """The flow's code as it ran (see ``CodePackage``), or None if none was stored."""
        key = self._row.code_key
        if not key:
            return None
        return CodePackage(key, self._stores.datastore_for(self._flow, self._run).blobs.load_bytes(key), self._flow)

    # -- tags ----------------------------------------------------------------------------------
    def add_tag(self, tag: str) -> None:
        """Add one user tag (nothing happens if the run already has it)."""
        tags.change_tags(self, add=[tag])

    def add_tags(self, tags_to_add: Iterable[str]) -> None:
        """Add several user tags at once."""
        tags.change_tags(self, add=tags_to_add)

    def remove_tag(self, tag: str) -> None:
        """Remove a user tag (a tag the run does not have is ignored; system tags are refused)."""
        tags.change_tags(self, remove=[tag])

    def remove_tags(self, tags_to_remove: Iterable[str]) -> None:
        """Remove several user tags at once."""
        tags.change_tags(self, remove=tags_to_remove)

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        """Swap one user tag for another in one transaction."""
        tags.change_tags(self, add=[tag_to_add], remove=[tag_to_remove])

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove some user tags and add others in one transaction (at least one tag)."""
        # (a single string is left for change_tags to refuse with its own message)
        remove = tags_to_remove if isinstance(tags_to_remove, str) else list(tags_to_remove)
        add = tags_to_add if isinstance(tags_to_add, str) else list(tags_to_add)
        if not remove and not add:
            from .errors import TagError

            raise TagError(f"replace_tags() on {self.pathspec} needs at least one tag to remove or to add.")
        tags.change_tags(self, add=add, remove=remove)

    # -- notebooks -----------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        from . import display  # notebooks only: not loaded by a plain client read

        row, reader = self._row, self._stores.reader
        created, finished = to_datetime(row.created_at), to_datetime(row.ended_at())
        all_tags = reader.tags(self._flow, self._run)
        facts = [
            ("user", display.escape(row.user)),
            ("created", display.when(created)),
            ("finished", display.when(finished)),
            ("duration", display.duration(created, finished)),
            ("tags", display.escape(", ".join(t for t, system in all_tags if not system)) or "&mdash;"),
            ("system tags", display.escape(", ".join(t for t, system in all_tags if system))),
        ]
        if row.origin_run_id:
            facts.append(("resumed from", display.escape(f"{self._flow}/{row.origin_run_id}")))
        parts = [display.title("Run", self.pathspec, row.effective_status()), display.fields(facts)]
        stats = reader.step_stats(self._flow, self._run)
        steps = []
        for name in reader.step_names(self._flow, self._run):
            st = stats.get(name)
            if st is not None:  # _parameters has no stats
                summary = ", ".join(f"{n} {s}" for s, n in sorted(st.counts.items()))
                steps.append((name, st.total, summary))
        parts.append("<p><strong>Steps</strong></p>" + display.table(("step", "tasks", "status"), steps))
        params = reader.artifacts(self._flow, self._run, PARAMS_TASK, 0)
        shown = [(r.name, r.type, display.size(r.size)) for r in params if not r.name.startswith("_")]
        if shown:
            parts.append("<p><strong>Parameters</strong></p>" + display.table(("name", "type", "size"), shown))
        end = self.end_task
        if end is not None:
            arts = [(a.id, a.type, display.size(a.size)) for a in end]
            parts.append("<p><strong>Artifacts of the end step</strong></p>"
                         + display.table(("artifact", "type", "size"), arts))
        return "".join(parts)
