"""Task: one execution of a step, its artifacts, logs, outcome and neighbours in the graph.

    >>> task = Task("TrainFlow/12/train/5")             # doctest: +SKIP
    >>> task.data.score, task["score"].data, task.artifacts.score.sha
    >>> task.successful, task.finished, task.exception, task.index
    >>> print(task.stdout)
    >>> Task("TrainFlow/12/train/5", attempt=0).stderr  # an earlier attempt

Without ``attempt``, a task shows its latest attempt. Artifacts whose names start with ``_``
are hidden from ``data`` and iteration but reachable with ``task["_name"]``. Records of a
finished attempt never change, so they are read once; a running task is re-read on each use.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Iterator
from datetime import datetime

from ..metadata.vocabulary import PARAMS_STEP
from .artifact import DataArtifact
from .base import ClientObject, check_attempt, load_run, parse_pathspec
from .errors import ArtifactNotFound, ObjectNotFound, not_found
from .records import AttemptRow, TaskRow, to_datetime

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing import Any

    from .code import CodePackage
    from .step import Step
    from .stores import Stores

STREAMS = ("stdout", "stderr")


class Metadata(namedtuple("Metadata", "name value created_at type task")):
    """One metadata entry of a task (``task.metadata``), with Metaflow's fields."""

    __slots__ = ()


class TaskException(dict):  # type: ignore[type-arg]
    """The exception an attempt raised: a dict with ``type``, ``message`` and ``traceback`` keys,
    also readable as attributes.

    >>> task.exception.type, task.exception["message"]  # doctest: +SKIP
    ('ValueError', 'bad input')
    """

    @property
    def type(self) -> str:
        return str(self.get("type", ""))

    @property
    def message(self) -> str:
        return str(self.get("message", ""))

    @property
    def traceback(self) -> str:
        return str(self.get("traceback", ""))

    @property
    def exception(self) -> str:
        """The message, by the name Metaflow's exception object gives it."""
        return self.message

    @property
    def stacktrace(self) -> str:
        """The traceback, by Metaflow's name."""
        return self.traceback

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


class TaskData:
    """Artifact values as attributes: ``task.data.score``. Hidden (``_``) names are left out.

    >>> "score" in task.data, sorted(task.data)         # doctest: +SKIP
    (True, ['alpha', 'score'])
    """

    def __init__(self, pathspec: str, artifacts: dict[str, DataArtifact]) -> None:
        self._pathspec = pathspec
        self._artifacts = artifacts

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._artifacts[name].data
        except KeyError:
            raise not_found(f"{self._pathspec} has no artifact", name, self._artifacts,
                            cls=ArtifactNotFound) from None

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __contains__(self, name: object) -> bool:
        return name in self._artifacts

    def __iter__(self) -> Iterator[str]:
        return iter(self._artifacts)

    def __len__(self) -> int:
        return len(self._artifacts)

    def __dir__(self) -> list[str]:
        return list(self._artifacts)

    def __repr__(self) -> str:
        return f"<TaskData {self._pathspec}: {', '.join(self._artifacts)}>"


class TaskArtifacts:
    """``DataArtifact`` objects as attributes (``task.artifacts.score.sha``); iterable."""

    def __init__(self, pathspec: str, artifacts: dict[str, DataArtifact]) -> None:
        self._pathspec = pathspec
        self._artifacts = artifacts

    def __getattr__(self, name: str) -> DataArtifact:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._artifacts[name]
        except KeyError:
            raise not_found(f"{self._pathspec} has no artifact", name, self._artifacts,
                            cls=ArtifactNotFound) from None

    def __getitem__(self, name: str) -> DataArtifact:
        return self.__getattr__(name)

    def __contains__(self, name: object) -> bool:
        return name in self._artifacts

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self._artifacts.values())

    def __len__(self) -> int:
        return len(self._artifacts)

    def __dir__(self) -> list[str]:
        return list(self._artifacts)

    def __repr__(self) -> str:
        return f"<TaskArtifacts {self._pathspec}: {', '.join(self._artifacts)}>"


class Task(ClientObject):
    """One task of a step, showing its latest attempt or the one asked for.

    >>> Task("TrainFlow/12/train/5").data.score          # doctest: +SKIP
    0.91
    """

    _DEPTH = 4
    _row: TaskRow | None
    _attempt_cache: AttemptRow | None
    _artifacts_cache: dict[str, DataArtifact] | None

    def __init__(self, pathspec: str, attempt: int | None = None, *, _namespace_check: bool = True) -> None:
        from .stores import current_stores

        parts = parse_pathspec(pathspec, "Task", 4)
        stores = current_stores()
        self._setup(parts, stores, check_attempt(attempt))
        load_run(stores, parts[0], int(parts[1]), check_namespace=_namespace_check)
        self._task_row()
        if attempt is not None:
            self._attempt_row()

    def _setup(self, parts: tuple[str, ...], stores: Stores | None, attempt: int | None = None) -> None:
        super()._setup(parts, stores, attempt)
        self._row = None
        self._attempt_cache = None
        self._artifacts_cache = None

    @classmethod
    def _of(cls, row: TaskRow, stores: Stores, attempt: int | None = None) -> Task:
        task = cls._bare((row.flow, str(row.run), row.step, str(row.task_id)), stores, attempt)
        task._row = row
        return task

    # -- records -----------------------------------------------------------------------------
    @property
    def _task_id(self) -> int:
        return int(self._parts[3])

    def _task_row(self) -> TaskRow:
        row = self._row
        if row is None or row.status == "running":
            row = self._stores.reader.task(self._flow, self._run, self._task_id)
            if row is None or row.step != self._parts[2]:
                raise self._missing_task(row)
            self._row = row
        return row

    def _missing_task(self, row: TaskRow | None) -> ObjectNotFound:
        flow, run, step, task_id = self._parts
        if row is not None:
            return ObjectNotFound(
                f"Task {task_id} of run {flow}/{run} belongs to step {row.step!r}, not {step!r}: "
                f"use {flow}/{run}/{row.step}/{task_id}."
            )
        ids = [str(t.task_id) for t in self._stores.reader.tasks_of_step(flow, int(run), step, limit=1000)]
        if not ids:
            from .step import Step

            Step._bare(self._parts[:3], self._stores)._check()
        return not_found(f"Step {flow}/{run}/{step} has no task", task_id, ids)

    def _attempt_row(self) -> AttemptRow | None:
        """The row of the attempt shown; None while a task's first attempt is not recorded."""
        cached = self._attempt_cache
        if cached is not None and cached.status != "running" and (
                self._attempt is not None or self._task_row().status != "running"):
            return cached  # a finished attempt of a finished task never changes
        number = self.current_attempt
        row = self._stores.reader.attempt(self._flow, self._run, self._task_id, number)
        if row is None and self._attempt is not None:
            known = [str(a.attempt) for a in self._stores.reader.attempts(self._flow, self._run, self._task_id)]
            raise not_found(f"Task {self.pathspec} has no attempt", str(number), [],
                            hint=f"Its attempts are: {', '.join(known)}." if known else "")
        self._attempt_cache = row
        return row

    def _artifact_map(self) -> dict[str, DataArtifact]:
        """Every artifact of the attempt shown (hidden ones too), by name."""
        if self._artifacts_cache is not None:
            return self._artifacts_cache
        attempt = self._attempt_row()
        number = self.current_attempt
        recorded_at = attempt.finished_at if attempt is not None else None
        rows = self._stores.reader.artifacts(self._flow, self._run, self._task_id, number)
        found = {row.name: DataArtifact._of(self, row, recorded_at) for row in rows}
        if attempt is not None and attempt.status != "running" and (
                self._attempt is not None or self._task_row().status != "running"):
            self._artifacts_cache = found  # a finished attempt's artifacts never change
        return found

    def _visible(self) -> dict[str, DataArtifact]:
        return {n: a for n, a in self._artifact_map().items() if not n.startswith("_")}

    def _visible_names(self) -> list[str]:
        return list(self._visible())

    # -- navigation ----------------------------------------------------------------------------
    @property
    def parent(self) -> Step:
        """The step this task belongs to."""
        from .step import Step

        return Step._bare(self._parts[:3], self._stores_)

    def __iter__(self) -> Iterator[DataArtifact]:
        """The task's visible artifacts, by name."""
        return iter(self._visible().values())

    def __getitem__(self, name: str) -> DataArtifact:
        """``task["score"]``: one artifact (hidden ``_`` names too)."""
        found = self._artifact_map().get(name)
        if found is None:
            hint = ""
            if not self.finished:
                hint = "The task has not finished; its artifacts are recorded when it does."
            raise not_found(f"{self.pathspec} has no artifact", name, self._visible_names(), hint=hint)
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._artifact_map()

    @property
    def data(self) -> TaskData:
        """Artifact values as attributes: ``task.data.score``."""
        return TaskData(self.pathspec, self._visible())

    @property
    def artifacts(self) -> TaskArtifacts:
        """``DataArtifact`` objects as attributes: ``task.artifacts.score.sha``."""
        return TaskArtifacts(self.pathspec, self._visible())

    # -- outcome ------------------------------------------------------------------------------
    @property
    def current_attempt(self) -> int:
        """The attempt shown: the one asked for, else the latest (0 is the first)."""
        return self._attempt if self._attempt is not None else self._task_row().attempt

    @property
    def attempts(self) -> list[int]:
        """Numbers of every recorded attempt of this task."""
        return [a.attempt for a in self._stores.reader.attempts(self._flow, self._run, self._task_id)]

    @property
    def status(self) -> str:
        """``running``, ``succeeded``, ``failed``, or ``abandoned`` (its run stopped heart-beating)."""
        if self._attempt is not None:
            attempt = self._attempt_row()
            status = attempt.status if attempt is not None else "running"
        else:
            status = self._task_row().status
        if status == "running":
            run = self._stores.reader.run(self._flow, self._run)
            if run is not None and run.effective_status() == "abandoned":
                return "abandoned"
        return status

    @property
    def finished(self) -> bool:
        """Whether the attempt shown (or the task, with all its retries) has ended."""
        if self._attempt is not None:
            attempt = self._attempt_row()
            return attempt is not None and attempt.status != "running"
        return self._task_row().status != "running"

    @property
    def successful(self) -> bool:
        """Whether it ended successfully."""
        if self._attempt is not None:
            attempt = self._attempt_row()
            return attempt is not None and attempt.status == "succeeded"
        return self._task_row().status == "succeeded"

    @property
    def exception(self) -> TaskException | None:
        """What the attempt raised (type, message, traceback), or None."""
        attempt = self._attempt_row()
        if attempt is None or not attempt.exception:
            return None
        return TaskException(json.loads(attempt.exception))

    @property
    def exit_reason(self) -> str | None:
        """Why a failed attempt ended when it was not an exception (killed, timed out, ...)."""
        attempt = self._attempt_row()
        return attempt.exit_reason if attempt is not None else None

    @property
    def created_at(self) -> datetime | None:
        """When the task was created (its first attempt was scheduled)."""
        return to_datetime(self._task_row().created_at)

    @property
    def started_at(self) -> datetime | None:
        """When the attempt shown started."""
        attempt = self._attempt_row()
        return to_datetime(attempt.started_at) if attempt is not None else None

    @property
    def finished_at(self) -> datetime | None:
        """When the attempt shown (default: the task) ended; None while running."""
        if self._attempt is not None:
            attempt = self._attempt_row()
            return to_datetime(attempt.finished_at) if attempt is not None else None
        return to_datetime(self._task_row().finished_at)

    @property
    def index(self) -> int | None:
        """Position in the innermost foreach (``self.input`` was item ``index``), else None."""
        foreach = [f for f in self._task_row().frames if f.get("var") is not None]
        return foreach[-1].get("index") if foreach else None

    @property
    def metadata(self) -> list[Metadata]:
        """Every metadata entry of the task as Metaflow lists them: one ``attempt`` entry per
        attempt (value ``"0"``, ``"1"``, ...), then the other facts of ``metadata_dict``."""
        entries = [Metadata("attempt", str(a.attempt), to_datetime(a.started_at), "attempt", self)
                   for a in self._stores.reader.attempts(self._flow, self._run, self._task_id)]
        created = self.created_at
        entries += [Metadata(name, value if isinstance(value, str) else json.dumps(value), created,
                             name, self)
                    for name, value in self.metadata_dict.items() if name != "attempt"]
        return entries

    @property
    def metadata_dict(self) -> dict[str, Any]:
        """Attempt facts (attempt, status, host, pid, ...) and any recorded task metadata."""
        attempt = self._attempt_row()
        row = self._task_row()
        out: dict[str, Any] = {"attempt": self.current_attempt, "step": row.step}
        if attempt is not None:
            out.update(status=attempt.status, host=attempt.host, pid=attempt.pid,
                       started_at=attempt.started_at, finished_at=attempt.finished_at)
            if attempt.exit_reason:
                out["exit_reason"] = attempt.exit_reason
        if row.origin_run_id is not None:
            out["origin-run-id"] = row.origin_run_id
            out["origin-task-id"] = row.origin_task_id
        else:
            # As in Metaflow, every task of a resumed run names the run it resumed; only a
            # cloned task also names the task it was copied from.
            run = self._stores.reader.run(self._flow, self._run)
            if run is not None and run.origin_run_id:
                out["origin-run-id"] = run.origin_run_id
        out.update(self._origin_meta(row))
        out.update(self._stores.reader.task_meta(self._flow, self._run, self._task_id))
        return out

    def _origin_meta(self, row: Any) -> dict[str, Any]:
        """A cloned task is its origin's result: the facts recorded where it really ran
        (``python_version``, ...) come from there, through clones of clones, as in Metaflow."""
        reader, seen = self._stores.reader, 0
        while row is not None and row.origin_run_id is not None and row.origin_task_id is not None:
            run, task_id = int(row.origin_run_id), int(row.origin_task_id)
            meta = reader.task_meta(self._flow, run, task_id)
            seen += 1
            if meta or seen > 100:  # a chain of resumes is short; never loop forever
                return meta
            row = reader.task(self._flow, run, task_id)
        return {}

    # -- graph neighbours -------------------------------------------------------------------
    @property
    def parent_tasks(self) -> Iterator[Task]:
        """The tasks whose outputs this task started from (several for a join)."""
        rows = self._stores.reader.tasks(self._flow, self._run, self._task_row().parent_ids)
        return iter([Task._of(row, self._stores) for row in rows])

    @property
    def child_tasks(self) -> Iterator[Task]:
        """The tasks started from this task's outputs (several after a split or foreach)."""
        if self._parts[2] == PARAMS_STEP:
            return iter([])
        rows, _ = self._stores.reader.child_tasks(self._flow, self._run, self._task_id)
        return iter([Task._of(row, self._stores) for row in rows])

    @property
    def parent_task_pathspecs(self) -> Iterator[str]:
        return iter([t.pathspec for t in self.parent_tasks])

    @property
    def child_task_pathspecs(self) -> Iterator[str]:
        return iter([t.pathspec for t in self.child_tasks])

    @property
    def origin_pathspec(self) -> str | None:
        """For a task cloned by ``resume``: the task it was copied from; else None."""
        row = self._task_row()
        if row.origin_run_id is None or row.origin_task_id is None:
            return None
        return f"{self._flow}/{row.origin_run_id}/{row.step}/{row.origin_task_id}"

    @property
    def code(self) -> CodePackage | None:
        """The run's code package."""
        from .run import Run

        return Run._bare(self._parts[:2], self._stores_).code

    # -- logs --------------------------------------------------------------------------------
    def _log_lines(self, stream: str) -> list[tuple[float, str]]:
        if stream not in STREAMS:
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}.")
        ds = self._stores.datastore_for(self._flow, self._run)
        flow, run, step, task_id = self._parts
        attempt = self.current_attempt
        where: tuple[Any, ...] = (flow, run, step, task_id, attempt, stream)
        row: Any = self._task_row()
        hops = 0
        # A cloned task printed nothing here: its output is the original's, however many
        # resumes ago that task really ran.
        while not ds.has_log(*where) and row is not None and row.origin_run_id is not None \
                and row.origin_task_id is not None and hops < 100:
            origin_run, origin_task = int(row.origin_run_id), int(row.origin_task_id)
            where = (flow, origin_run, step, origin_task, attempt, stream)
            row = self._stores.reader.task(flow, origin_run, origin_task)
            hops += 1
        return ds.read_log(*where)

    def loglines(self, stream: str, as_unicode: bool = True) -> Iterator[tuple[datetime, str]]:
        """``(time printed, line)`` for each line of ``stdout`` or ``stderr`` (so far, if running).

        >>> for when, line in task.loglines("stdout"):  # doctest: +SKIP
        ...     print(when, line)
        """
        for ts, text in self._log_lines(stream):
            yield datetime.fromtimestamp(ts), (text if as_unicode else text.encode("utf-8"))  # type: ignore[misc]

    @property
    def stdout(self) -> str:
        """Everything the attempt printed to standard output (so far, if it is running)."""
        return "".join(text + "\n" for _, text in self._log_lines("stdout"))

    @property
    def stderr(self) -> str:
        """Everything the attempt printed to standard error (so far, if it is running)."""
        return "".join(text + "\n" for _, text in self._log_lines("stderr"))

    # -- notebooks ------------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        from . import display  # notebooks only: not loaded by a plain client read

        status = self.status
        start, end = self.started_at, self.finished_at
        facts = [
            ("attempt", str(self.current_attempt)),
            ("created", display.when(self.created_at)),
            ("finished", display.when(end)),
            ("duration", display.duration(start, end)),
        ]
        if self.index is not None:
            facts.append(("foreach index", str(self.index)))
        if self.origin_pathspec:
            facts.append(("cloned from", display.escape(self.origin_pathspec)))
        parts = [display.title("Task", self.pathspec, status), display.fields(facts)]
        exc = self.exception
        if exc is not None:
            parts.append(f"<p><strong>{display.escape(str(exc))}</strong></p>" + display.pre(exc.traceback))
        elif self.exit_reason:
            parts.append(f"<p><strong>{display.escape(self.exit_reason)}</strong></p>")
        rows = [(a.id, a.type, display.size(a.size)) for a in self._visible().values()]
        parts.append(display.table(("artifact", "type", "size"), rows))
        return "".join(parts)
