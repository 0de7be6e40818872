"""The rows a :class:`~headwater.metadata.provider.MetadataReader` answers with.

Plain namedtuples of ints, floats, strings and JSON text, so that every answer can cross an
HTTP API as JSON and be rebuilt on the other side with ``Row(*values)``. Times are Unix
seconds. Kept free of ``typing`` and ``dataclasses`` at import time: the client loads this
module on its first read, so the summaries only listings, the UI and resume need are in
``summaries.py``, loaded when asked for.
"""

from __future__ import annotations

import json
import time
from collections import namedtuple

from . import vocabulary
from .vocabulary import PARAMS_TASK

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

RUN_STATUSES = ("running", "succeeded", "failed", "abandoned")
TASK_STATUSES = ("running", "succeeded", "failed")


# -- runs ------------------------------------------------------------------------------------

class RunRow(namedtuple("RunRow", "flow number user status created_at finished_at heartbeat_at"
                                  " origin_run_id code_key graph datastore",
                        defaults=(None,))):
    """One run; ``graph`` is the JSON the runtime recorded; ``datastore`` the URL of the
    datastore holding its bytes (None: the records' own folder).

    ``heartbeat_at`` is the run's newest sign of life: the latest of its own heartbeat and,
    while it is running, its attempts' heartbeats, starts and ends (a run executed by a
    production scheduler has no Headwater scheduler beating for it, only its tasks).
    """

    __slots__ = ()

    def effective_status(self, now: float | None = None) -> str:
        """``running``, ``succeeded``, ``failed``, or ``abandoned`` for a silent running run."""
        if self.status == "running":
            beat = self.heartbeat_at or self.created_at
            if (time.time() if now is None else now) - beat > vocabulary.ABANDONED_AFTER:
                return "abandoned"
        return self.status

    def ended_at(self, now: float | None = None) -> float | None:
        """When the run ended: its finish, or for an abandoned run its last sign of life.

        None while it is really running. Durations are ``ended_at - created_at``, so an
        abandoned run's duration stops growing.
        """
        if self.status != "running":
            return self.finished_at
        if self.effective_status(now) == "abandoned":
            return self.heartbeat_at or self.created_at
        return None


# -- tasks -----------------------------------------------------------------------------------

class TaskRow(namedtuple("TaskRow", "flow run task_id step status attempt created_at finished_at"
                                    " foreach_stack parents origin_run_id origin_task_id")):
    """One task; ``foreach_stack`` and ``parents`` are JSON, ``origin_*`` set for clones."""

    __slots__ = ()

    @property
    def parent_ids(self) -> list[int]:
        """Parent task ids, without the run's ``_parameters`` task (not a step of the flow)."""
        return [p for p in json.loads(self.parents or "[]") if p != PARAMS_TASK]

    @property
    def frames(self) -> list[dict[str, Any]]:
        return json.loads(self.foreach_stack) if self.foreach_stack else []


class AttemptRow(namedtuple("AttemptRow", "attempt status started_at finished_at exit_reason"
                                          " exception host pid heartbeat_at")):
    """One attempt of a task; ``exception`` is JSON; ``heartbeat_at`` its last sign of life."""

    __slots__ = ()


class ArtifactRow(namedtuple("ArtifactRow", "name key type size")):
    """One artifact: its blob key, qualified type name and stored size."""

    __slots__ = ()
