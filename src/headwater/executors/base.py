"""What every executor offers the runtime: submit an attempt, learn when it ends, cancel.

Executors decide only *where* an attempt runs; the attempt itself is always
:func:`headwater.task.run_attempt`. Outcomes come back as :class:`AttemptDone` events on the
queue the runtime hands to :meth:`Executor.start`, so the scheduler blocks on one queue
whatever the executor is.
"""

from __future__ import annotations

import queue
import signal
from collections import namedtuple

from ..task import TaskSpec

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class AttemptDone(namedtuple("AttemptDone", "spec result exit_code signal reason",
                             defaults=(None, None, None))):
    """An attempt ended. ``result`` is run_attempt's dict, or None when the process died;
    ``exit_code`` is the process exit status when there was a process, ``signal`` the signal
    that killed it, and ``reason`` is set by the executor for kills it caused (timeout, cancel).
    """

    __slots__ = ()


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


def step_timeout(graph: Any, step: str) -> tuple[float, str] | None:
    """The shortest time limit a decorator of ``step`` sets (seconds) and that decorator's
    name, or None."""
    limits = [(float(d.runtime_timeout()), d.name) for d in graph[step].decorators]
    limits = [(limit, name) for limit, name in limits if limit > 0]
    return min(limits) if limits else None


def describe_signal(number: int) -> str:
    """``SIGSEGV (segmentation fault)``: a signal's name, and what it means when the name
    alone does not say (a crash rather than a kill)."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    what = (signal.strsignal(number) or "").lower()
    plain = what in ("", "killed", "terminated", "interrupt") or what.startswith("unknown")
    return name if plain else f"{name} ({what})"
