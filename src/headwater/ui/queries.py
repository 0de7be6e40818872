"""What the pages read, and the words for it.

Every read is a method of the datastore's
:class:`~headwater.metadata.provider.MetadataReader` (``ctx.reader``), which answers lists
with filters, pages and totals, counts per status and aggregates over a step's tasks in a
bounded number of queries. No page makes a call per run or per task: a page of 50 runs is one
call for the runs with their total and one for their tags; a step with 2,000 tasks is one call
for its counts and one for a page of rows. The row types are re-exported here for the UI's
modules.
"""

from __future__ import annotations

from ..metadata.records import RUN_STATUSES, TASK_STATUSES
from ..metadata.summaries import (
    Durations,
    Failure,
    FlowSummary,
    RunFilter,
    StepStats,
    TimelineTask,
)

__all__ = ["RUN_STATUSES", "TASK_STATUSES", "Durations", "Failure", "FlowSummary", "RunFilter",
           "StepStats", "TimelineTask", "status_counts"]


def status_counts(stats: dict[str, StepStats]) -> dict[str, int]:
    """Tasks of the whole run per status."""
    out: dict[str, int] = {}
    for s in stats.values():
        for status, n in s.counts.items():
            out[status] = out.get(status, 0) + n
    return out
