"""The rows the client reads, and small helpers over them.

Every read goes through the datastore's :class:`~headwater.metadata.provider.MetadataReader`
(``stores.reader``); the row types live in :mod:`headwater.metadata.records` and are
re-exported here for the client's modules.
"""

from __future__ import annotations

from datetime import datetime

from ..metadata.records import ArtifactRow, AttemptRow, RunRow, TaskRow

__all__ = ["ArtifactRow", "AttemptRow", "RunRow", "TaskRow", "to_datetime"]


def to_datetime(ts: float | None) -> datetime | None:
    """Local naive datetime of a Unix time, as Metaflow's client returns them."""
    return None if ts is None else datetime.fromtimestamp(ts)

