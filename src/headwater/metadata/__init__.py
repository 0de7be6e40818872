"""Run records: flows, runs, tasks, attempts, artifacts index, tags.

``MetadataWriter`` records them, ``MetadataReader`` answers what the client, the UI and resume
ask (``provider.py``); ``open_reader(location)`` gives the reader of a datastore. The row types
readers answer with are in ``records.py``, the shared words (statuses, the parameters task, how
long a silent run stays running) in ``vocabulary.py``. Names are loaded on first use, so
importing this package costs nothing.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    import os
    from typing import Any

    from .provider import MetadataReader, MetadataWriter

_EXPORTS = {
    "ABANDONED_AFTER": "vocabulary",
    "PARAMS_STEP": "vocabulary",
    "PARAMS_TASK": "vocabulary",
    "Status": "vocabulary",
    "MetadataReader": "provider",
    "MetadataWriter": "provider",
    "SQLiteMetadata": "sqlite",
    "SQLiteReader": "sqlite_reader",
}
__all__ = sorted([*_EXPORTS, "open_reader", "open_writer"])


def open_reader(location: str | os.PathLike[str]) -> MetadataReader:
    """The reader of the records at ``location``: a datastore's ``.headwater`` directory (its
    SQLite database). An ``http(s)://`` URL will select the metadata service."""
    text = str(location)
    if text.startswith(("http://", "https://")):
        from ..exceptions import MetadataError

        raise MetadataError(f"cannot read {text}: this Headwater has no metadata service client yet.")
    from .sqlite_reader import SQLiteReader

    return SQLiteReader(location)


def open_writer(location: str | os.PathLike[str]) -> MetadataWriter:
    """The writer of the records at ``location`` (see :func:`open_reader`)."""
    text = str(location)
    if text.startswith(("http://", "https://")):
        from ..exceptions import MetadataError

        raise MetadataError(f"cannot write to {text}: this Headwater has no metadata service client yet.")
    from .sqlite import SQLiteMetadata

    return SQLiteMetadata(location)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'headwater.metadata' has no attribute {name!r}")
    value = getattr(import_module(f"headwater.metadata.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
