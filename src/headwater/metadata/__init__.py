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
__all__ = sorted([*_EXPORTS, "location_for", "open_reader", "open_writer", "selected"])


SELECT_ENV = "HEADWATER_DEFAULT_METADATA"
CHOICES = ("local", "service")


def selected() -> str:
    """Which records runs and readers use: ``local`` (the datastore's SQLite database, the
    default) or ``service`` (the metadata service at ``HEADWATER_SERVICE_URL``)."""
    import os

    from ..exceptions import MetadataError

    value = (os.environ.get(SELECT_ENV) or "local").strip().lower()
    if value not in CHOICES:
        raise MetadataError(f"{SELECT_ENV}={value!r} is not a metadata choice: use local or service.")
    return value


def location_for(root: str | os.PathLike[str]) -> str:
    """Where the records of the datastore at ``root`` are: its folder, or the service's URL
    when the service is selected (:func:`selected`)."""
    if selected() == "service":
        import os

        from .service_client import URL_ENV, connect

        connect(os.environ.get(URL_ENV))  # a missing or malformed URL is reported here
        return os.environ[URL_ENV].rstrip("/")
    return str(root)


def open_reader(location: str | os.PathLike[str]) -> MetadataReader:
    """The reader of the records at ``location``: a datastore's ``.headwater`` directory (its
    SQLite database), or the ``http(s)://`` URL of a metadata service."""
    text = str(location)
    if text.startswith(("http://", "https://")):
        from .service_client import ServiceReader

        return ServiceReader(text)
    from .sqlite_reader import SQLiteReader

    return SQLiteReader(location)


def open_writer(location: str | os.PathLike[str]) -> MetadataWriter:
    """The writer of the records at ``location`` (see :func:`open_reader`)."""
    text = str(location)
    if text.startswith(("http://", "https://")):
        from .service_client import ServiceWriter

        return ServiceWriter(text)
    from .sqlite import SQLiteMetadata

    return SQLiteMetadata(location)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'headwater.metadata' has no attribute {name!r}")
    value = getattr(import_module(f"headwater.metadata.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
