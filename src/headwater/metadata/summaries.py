"""The summaries a :class:`~headwater.metadata.provider.MetadataReader` answers listings,
the UI and resume with: aggregates over a run's steps and tasks, and what resume matches.

Plain namedtuples, like the rows of ``records.py``; apart from them because a plain client
read never needs these, and each namedtuple class costs start-up time to build.
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from .records import RunRow


class RunFilter(namedtuple("RunFilter", "status user tag", defaults=(None, None, None))):
    """Which runs a listing wants: a status of ``RUN_STATUSES``, a user, a tag (None: any)."""

    __slots__ = ()


class FlowSummary(namedtuple("FlowSummary", "name runs recent")):
    """A flow, how many runs it has, and its latest runs (``RunRow``s, newest first)."""

    __slots__ = ()

    @property
    def latest(self) -> RunRow | None:
        return self.recent[0] if self.recent else None


class OriginTask(namedtuple("OriginTask", "task_id step status attempt parents foreach_stack transition")):
    """A task of a run being resumed, as resume matches it: ``parents``, ``foreach_stack`` and
    ``transition`` are JSON text (``transition`` None when the task recorded none)."""

    __slots__ = ()


class StepStats(namedtuple("StepStats", "name counts first_created last_finished retried",
                           defaults=(None, None, 0))):
    """A step of a run: tasks per status (``counts``), when its first task was created and its
    last one finished, and how many tasks needed more than one attempt."""

    __slots__ = ()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def status(self, run_status: str) -> str:
        """One word for the step: failed > running (or abandoned) > succeeded."""
        if self.counts.get("failed"):
            return "failed"
        if self.counts.get("running"):
            return "abandoned" if run_status == "abandoned" else "running"
        return "succeeded" if self.total else "pending"


class TimelineTask(namedtuple("TimelineTask", "task_id step status attempt started finished cloned")):
    """A task on a run's timeline: its first attempt's start (a clone: its creation) and end."""

    __slots__ = ()


class Durations(namedtuple("Durations", "count median p90 slowest slowest_task")):
    """How long a step's finished tasks took (their final attempt), over all of them."""

    __slots__ = ()


class Failure(namedtuple("Failure", "step task_id exception exit_reason")):
    """A failed task and its final attempt's exception (JSON, as stored) or exit reason."""

    __slots__ = ()
