"""The two faces of run records: what writers record and what readers ask.

:class:`MetadataWriter` is what the scheduler and, when no scheduler listens, a task itself
record: runs (with their ids, allocated here so that many machines never collide), tasks,
attempts, heartbeats, artifacts, tags. :class:`MetadataReader` is what the client, the UI and
resume ask. The SQLite implementation (``sqlite.py``, ``sqlite_reader.py``) sits behind both;
the HTTP service of a later release is a second implementation of the same two classes, and
nothing above this package changes for it.

Artifact references travel as ``(name, key, type, size)`` tuples (``key`` is the blob's
content key in the datastore); transitions as the dicts ``task.run_attempt`` returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from .vocabulary import Status

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from contextlib import AbstractContextManager
    from typing import Any

    from .records import ArtifactRow, AttemptRow, RunRow, TaskRow
    from .summaries import (
        Durations,
        Failure,
        FlowSummary,
        OriginTask,
        RunFilter,
        StepStats,
        TimelineTask,
    )

ArtifactRef = tuple  # (name, key, type, size)


class MetadataWriter(ABC):
    """Records one datastore's runs. One instance per process; not shared across fork."""

    #: Where the records live, as given to :func:`headwater.metadata.open_writer`.
    url: str

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """Group the writes made inside ``with md.transaction():`` so they land together."""

    # -- runs ------------------------------------------------------------------------------
    @abstractmethod
    def new_run(self, flow: str, *, user: str, tags: Iterable[str], system_tags: Iterable[str],
                origin_run_id: str | None = None, graph: dict | None = None,
                datastore: str | None = None) -> int:
        """Create a run, status running, and return its id (1, 2, 3, ... per flow).

        ``datastore`` is the URL of the datastore holding the run's bytes, when it is not
        the folder of the records themselves (an S3 datastore with local records)."""

    @abstractmethod
    def set_run_code(self, flow: str, run: int, code_key: str) -> None:
        """Record the key of the run's code package."""

    @abstractmethod
    def heartbeat(self, flow: str, run: int, attempts: Sequence[tuple[int, int]] = ()) -> None:
        """Say the run, and each running ``(task_id, attempt)`` given, is alive now."""

    @abstractmethod
    def finish_run(self, flow: str, run: int, status: Status) -> None:
        """Close the run with its final status."""

    # -- tasks and attempts --------------------------------------------------------------
    @abstractmethod
    def new_task(self, flow: str, run: int, task_id: int, step: str, *, foreach_stack: Any = None,
                 parents: Sequence[int] = (), origin: tuple[str, int] | None = None,
                 status: Status = Status.RUNNING, attempt: int = 0, finished: bool = False,
                 exist_ok: bool = False) -> None:
        """Record a task. ``exist_ok``: a task recording itself may find the row already there."""

    @abstractmethod
    def start_attempt(self, flow: str, run: int, task_id: int, attempt: int, *,
                      host: str | None = None, pid: int | None = None) -> None:
        """An attempt begins (its first heartbeat is now)."""

    @abstractmethod
    def finish_attempt(self, flow: str, run: int, task_id: int, attempt: int, *, status: Status,
                       exit_reason: str | None = None, exception: dict | None = None,
                       artifacts: Sequence[ArtifactRef] = (), task_final: bool = True,
                       host_pid: tuple[str | None, int | None] | None = None,
                       transition: dict | None = None) -> None:
        """Record an attempt's outcome and artifacts at once.

        ``task_final`` is False when the attempt will be retried, so the task stays running.
        """

    @abstractmethod
    def finish_task(self, flow: str, run: int, task_id: int, status: Status) -> None:
        """Close a task without a new attempt (a retry that will not happen)."""

    @abstractmethod
    def clone_task(self, flow: str, run: int, task_id: int, *, origin_run: int, origin_task: int,
                   parents: Sequence[int], foreach_stack: Any = None) -> None:
        """Record ``task_id`` as a copy of a finished task of ``origin_run``: references only."""

    @abstractmethod
    def add_artifacts(self, flow: str, run: int, task_id: int, attempt: int,
                      artifacts: Sequence[ArtifactRef]) -> None:
        """Add artifact references to an attempt."""

    @abstractmethod
    def set_task_meta(self, flow: str, run: int, task_id: int, fields: dict[str, Any]) -> None:
        """Free-form task metadata (JSON values), e.g. where it ran."""

    # -- tags ------------------------------------------------------------------------------
    @abstractmethod
    def change_tags(self, flow: str, run: int, *, add: Iterable[str] = (),
                    remove: Iterable[str] = ()) -> None:
        """Add and remove user tags (system tags never change)."""

    def flush(self) -> None:
        """Wait until every write made so far is recorded. Writers that record before
        returning (SQLite) have nothing to wait for; the service's writer sends in the
        background, and a task that reads its inputs from the records needs them there."""
        return None

    def check(self) -> None:
        """Fail now, in one clear line, if the records cannot be written (before any task)."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


class MetadataReader(ABC):
    """Answers what the client, the UI and resume ask about one datastore's runs.

    Every method takes and returns plain data (ints, strings, lists, dicts and the row
    namedtuples of :mod:`headwater.metadata.records`), so each can be one HTTP call with a JSON
    answer. A datastore without any record yet answers empty (no flow, no run), not an error.
    Lists are bounded by their arguments or by what one page shows: no caller needs a call per
    run or per task. Safe to share between threads; not across fork.

    Liveness: a run is *abandoned* when it is still ``running`` and its newest sign of life
    (``RunRow.heartbeat_at``: the run's heartbeat or any of its attempts') is older than
    :data:`~headwater.metadata.vocabulary.ABANDONED_AFTER`; ``RunRow.ended_at()`` then gives
    that last sign of life as its end.
    """

    #: Where the records live, as given to :func:`headwater.metadata.open_reader`.
    url: str

    # -- flows -----------------------------------------------------------------------------
    @abstractmethod
    def flow_names(self, namespace: str | None = None) -> list[str]:
        """Flows with at least one run carrying the tag ``namespace`` (None: any run), by name."""

    @abstractmethod
    def flow_created_at(self, flow: str) -> float | None:
        """When ``flow``'s first run was recorded; None if the flow has no record."""

    @abstractmethod
    def flow_summaries(self, recent: int = 20) -> list[FlowSummary]:
        """Every flow with runs (any namespace), its run count and its ``recent`` newest runs;
        the most recently started flow first."""

    # -- runs ------------------------------------------------------------------------------
    @abstractmethod
    def run(self, flow: str, number: int) -> RunRow | None:
        """One run, or None."""

    @abstractmethod
    def runs(self, flow: str, namespace: str | None, tags: Sequence[str] = (), *,
             status: str | None = None, limit: int | None = None) -> list[RunRow]:
        """Runs of ``flow`` carrying the tag ``namespace`` (None: any) and every tag in ``tags``,
        newest first; ``status`` filters on the recorded status (running, succeeded, failed)."""

    @abstractmethod
    def run_page(self, flow: str, filter: RunFilter, page: int, per_page: int) -> tuple[list[RunRow], int]:
        """Page ``page`` (from 1) of ``flow``'s runs matching ``filter``, newest first, and how
        many match in all. ``filter.status`` ``running`` excludes abandoned runs, ``abandoned``
        selects them."""

    @abstractmethod
    def run_counts(self, flow: str) -> dict[str, int]:
        """How many runs of ``flow`` are in each status, abandoned ones apart from running
        (statuses with no run left out)."""

    @abstractmethod
    def tags(self, flow: str, run: int) -> list[tuple[str, bool]]:
        """``(tag, is_system)`` pairs of a run, by tag."""

    @abstractmethod
    def tags_of_runs(self, flow: str, runs: Sequence[int]) -> dict[int, list[tuple[str, bool]]]:
        """``run -> [(tag, is_system)]`` for several runs of ``flow`` (each run asked is a key)."""

    @abstractmethod
    def users(self, flow: str) -> list[str]:
        """Everyone who started a run of ``flow``, by name."""

    @abstractmethod
    def user_tags(self, flow: str, limit: int = 200) -> list[str]:
        """Distinct user tags on ``flow``'s runs, by tag, at most ``limit``."""

    # -- steps -----------------------------------------------------------------------------
    @abstractmethod
    def step_names(self, flow: str, run: int) -> list[str]:
        """Steps of a run that have tasks (``_parameters`` included), most recently started first."""

    @abstractmethod
    def has_step(self, flow: str, run: int, step: str) -> bool:
        """Whether the run has a task of ``step``."""

    @abstractmethod
    def step_stats(self, flow: str, run: int) -> dict[str, StepStats]:
        """Every step of a run with tasks (``_parameters`` left out): tasks per status, first
        creation, last finish, retried tasks."""

    @abstractmethod
    def step_durations(self, flow: str, run: int, step: str) -> Durations | None:
        """How long the step's finished, not cloned, tasks took (their final attempt); None if
        none has finished."""

    @abstractmethod
    def timeline(self, flow: str, run: int, limit: int) -> list[TimelineTask] | None:
        """Every task of the run (``_parameters`` left out) by id with its first start and end,
        or None when the run has more than ``limit`` tasks."""

    @abstractmethod
    def failures(self, flow: str, run: int, limit: int) -> list[Failure]:
        """The first ``limit`` failed tasks of a run, by id, with their final attempt's error."""

    # -- tasks -----------------------------------------------------------------------------
    @abstractmethod
    def task(self, flow: str, run: int, task_id: int) -> TaskRow | None:
        """One task, or None."""

    @abstractmethod
    def tasks(self, flow: str, run: int, task_ids: Sequence[int]) -> list[TaskRow]:
        """The tasks with these ids that exist, by id."""

    @abstractmethod
    def tasks_of_step(self, flow: str, run: int, step: str, *, limit: int | None = None) -> list[TaskRow]:
        """Tasks of a step by id (creation order; foreach tasks in index order)."""

    @abstractmethod
    def task_page(self, flow: str, run: int, step: str, status: str | None, page: int,
                  per_page: int) -> tuple[list[TaskRow], int]:
        """Page ``page`` (from 1) of a step's tasks of ``status`` (None: any) by id, and how many
        match in all."""

    @abstractmethod
    def child_tasks(self, flow: str, run: int, task_id: int,
                    limit: int | None = None) -> tuple[list[TaskRow], int]:
        """Up to ``limit`` tasks listing ``task_id`` among their parents, by id, and how many there are."""

    @abstractmethod
    def task_meta(self, flow: str, run: int, task_id: int) -> dict[str, Any]:
        """Free-form metadata recorded for a task (``MetadataWriter.set_task_meta``)."""

    @abstractmethod
    def first_starts(self, flow: str, run: int, task_ids: Sequence[int]) -> dict[int, float]:
        """When each task's first attempt started (tasks without an attempt left out)."""

    @abstractmethod
    def origin_tasks(self, flow: str, run: int) -> list[OriginTask]:
        """Every task of a run with its parents, foreach position and transition: what resume
        matches the tasks of a new run against."""

    # -- attempts and artifacts ------------------------------------------------------------
    @abstractmethod
    def attempt(self, flow: str, run: int, task_id: int, attempt: int) -> AttemptRow | None:
        """One attempt of a task, or None."""

    @abstractmethod
    def attempts(self, flow: str, run: int, task_id: int) -> list[AttemptRow]:
        """Every recorded attempt of a task, first first."""

    @abstractmethod
    def artifacts(self, flow: str, run: int, task_id: int, attempt: int) -> list[ArtifactRow]:
        """Artifacts of one attempt of a task, by name (hidden ``_`` names included)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
