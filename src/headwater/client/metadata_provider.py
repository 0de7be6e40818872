"""``metadata``, ``get_metadata``, ``default_metadata``: which records the client reads.

Metaflow's names and strings: a provider is written ``<type>@<info>``. ``local``'s info is the
datastore folder (a ``.headwater`` directory, or the folder ``HEADWATER_HOME`` names);
``service``'s is the URL of the metadata service (``headwater service``)::

    >>> get_metadata()                                   # doctest: +SKIP
    'local@/home/ana/project/.headwater'
    >>> metadata("local@/data/shared")                   # its .headwater, or the folder itself
    'local@/data/shared/.headwater'
    >>> metadata("service@http://metadata.internal:8080")  # the team's service
    'service@http://metadata.internal:8080'
    >>> default_metadata()                               # back to the environment's choice

``metadata("local@...")`` has the effect of ``--datastore-root`` for the rest of the process;
``metadata("service@URL")`` that of ``HEADWATER_DEFAULT_METADATA=service`` with
``HEADWATER_SERVICE_URL=URL`` (the token still comes from ``HEADWATER_SERVICE_AUTH_KEY``).
"""

from __future__ import annotations

import os

from ..exceptions import DatastoreError
from .errors import InvalidMetadata
from .stores import clear_cache, current_stores, use_datastore

DIRNAME = ".headwater"  # same as headwater.datastore.root.DIRNAME (not imported: start-up cost)
SELECT, URL = "HEADWATER_DEFAULT_METADATA", "HEADWATER_SERVICE_URL"
_saved: dict[str, str | None] = {}  # the environment's choice, before metadata() changed it


def _select(values: dict[str, str | None]) -> None:
    """Set the metadata environment for this process, remembering what it was."""
    for name, value in values.items():
        _saved.setdefault(name, os.environ.get(name))
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    clear_cache()  # readers opened for the other choice


def get_metadata() -> str:
    """The provider the client reads from: ``local@<datastore folder>`` or ``service@<URL>``."""
    if (os.environ.get(SELECT) or "").strip().lower() == "service":
        return f"service@{os.environ.get(URL, '<HEADWATER_SERVICE_URL is not set>')}"
    try:
        root = current_stores().root
    except DatastoreError:
        return f"local@<no {DIRNAME} directory found from {os.getcwd()}>"
    return f"local@{root}"


def metadata(ms: str) -> str:
    """Read from the provider ``ms`` from now on: ``local@PATH``, or a bare PATH. PATH is a
    datastore folder, or a folder holding ``.headwater``. Returns :func:`get_metadata`."""
    if not isinstance(ms, str) or not ms.strip():
        raise InvalidMetadata(f"metadata() takes 'local@/path/to/folder' or a folder; got {ms!r}.")
    kind, at, info = ms.partition("@")
    if not at:
        kind, info = ("service", ms) if ms.startswith("http") else ("local", ms)
    if kind == "service":
        if not info.startswith(("http://", "https://")):
            raise InvalidMetadata(f"metadata({ms!r}): a service is given by its URL, e.g. "
                                  "metadata('service@http://HOST:8080').")
        _select({SELECT: "service", URL: info.rstrip("/")})
        return get_metadata()
    if kind != "local":
        raise InvalidMetadata(f"metadata({ms!r}): unknown provider {kind!r}; Headwater has "
                              "'local' (e.g. metadata('local@/path/to/.headwater')) and 'service' "
                              "(e.g. metadata('service@http://HOST:8080')).")
    folder = os.path.realpath(os.path.expanduser(info))
    inner = os.path.join(folder, DIRNAME)
    if os.path.isdir(inner):
        folder = inner
    elif not os.path.isdir(folder):
        raise InvalidMetadata(f"metadata({ms!r}): {folder} is not a folder; give a {DIRNAME} "
                              "directory or the folder that holds one.")
    if (os.environ.get(SELECT) or "local").strip().lower() != "local":
        _select({SELECT: "local"})
    use_datastore(folder)
    return get_metadata()


def default_metadata() -> str:
    """Forget :func:`metadata`'s choice: read ``HEADWATER_HOME`` or the nearest ``.headwater``
    again, and the environment's metadata choice. Returns :func:`get_metadata`."""
    if _saved:
        _select(dict(_saved))
        _saved.clear()
    use_datastore(None)
    return get_metadata()
