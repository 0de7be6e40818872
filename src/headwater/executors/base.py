"""What every executor offers the runtime: submit an attempt, learn when it ends, cancel.

Executors decide only *where* an attempt runs; the attempt itself is always
:func:`headwater.task.run_attempt`. Outcomes come back as :class:`AttemptDone` events on the
queue the runtime hands to :meth:`Executor.start`, so the scheduler blocks on one queue
whatever the executor is.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass

from ..task import TaskSpec

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


@dataclass
class AttemptDone:
    """An attempt ended. ``result`` is run_attempt's dict, or None when the process died."""

    spec: TaskSpec
    result: dict[str, Any] | None
    exit_code: int | None = None  # process exit status, when there was a process
    signal: int | None = None  # the signal that killed it, if any
    reason: str | None = None  # set by the executor for kills it caused (timeout, cancel)


@dataclass
class LogLine:
    """A line a task printed, for the console (already stored by the executor)."""

    spec: TaskSpec
    stream: str
    text: str


class Executor:
    """The interface every executor offers (structurally: executors need not subclass it)."""

    name: str

    def start(self, events: queue.Queue, console: Any) -> None:
        """Begin accepting work; send AttemptDone events to ``events``."""

    def submit(self, spec: TaskSpec) -> None:
        """Start one attempt; returns at once."""

    def cancel(self, spec: TaskSpec, reason: str) -> None:
        """Stop one running attempt (its AttemptDone still arrives, with ``reason``)."""

    def cancel_all(self, reason: str) -> None:
        """Stop every running attempt."""

    def close(self) -> None:
        """Release processes and threads; running attempts are stopped."""
