"""Words every metadata implementation and every reader shares.

Statuses, the run's parameters task, how long a silent run may stay ``running``, the system
tags a run carries, and the plain rows readers get back. Kept apart from any backend so the
SQLite module and a later HTTP service speak the same language.
"""

from __future__ import annotations

import sys
from enum import Enum

PARAMS_STEP = "_parameters"  # parameters, configs and constants are this task's artifacts
PARAMS_TASK = 0
ABANDONED_AFTER = 60.0  # seconds without a heartbeat before a running run counts as abandoned


class Status(str, Enum):
    """Lifecycle of runs, tasks and attempts, stored as its text."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


def system_tags(user: str, *, runtime: str = "local", version: str = "") -> list[str]:
    """The tags a run gets without asking: who started it, where, with which Python."""
    tags = [
        f"user:{user}",
        f"runtime:{runtime}",
        "python_version:{}.{}.{}".format(*sys.version_info[:3]),
    ]
    if version:
        tags.append(f"headwater_version:{version}")
    return tags
