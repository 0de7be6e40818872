"""``metadata``, ``get_metadata``, ``default_metadata``: which records the client reads.

Metaflow's names and strings: a provider is written ``<type>@<info>``. Headwater has one type
today, ``local``, whose info is the datastore folder (a ``.headwater`` directory, or the folder
``HEADWATER_HOME`` names)::

    >>> get_metadata()                                   # doctest: +SKIP
    'local@/home/ana/project/.headwater'
    >>> metadata("local@/data/shared")                   # its .headwater, or the folder itself
    'local@/data/shared/.headwater'
    >>> default_metadata()                               # back to HEADWATER_HOME / the nearest one

``metadata(...)`` has the effect of ``--datastore-root`` for the rest of the process. The
metadata service (``service@https://...``) is not available yet and is refused with a message.
"""

from __future__ import annotations

import os

from ..exceptions import DatastoreError
from .errors import InvalidMetadata
from .stores import current_stores, use_datastore

DIRNAME = ".headwater"  # same as headwater.datastore.root.DIRNAME (not imported: start-up cost)


def get_metadata() -> str:
    """The provider the client reads from, as ``local@<datastore folder>``."""
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
        raise InvalidMetadata(
            f"metadata({ms!r}): Metaflow's metadata service is not available in Headwater yet; "
            "runs are read from a local datastore: metadata('local@/path/to/.headwater').")
    if kind != "local":
        raise InvalidMetadata(f"metadata({ms!r}): unknown provider {kind!r}; Headwater has "
                              "'local' (e.g. metadata('local@/path/to/.headwater')).")
    folder = os.path.realpath(os.path.expanduser(info))
    inner = os.path.join(folder, DIRNAME)
    if os.path.isdir(inner):
        folder = inner
    elif not os.path.isdir(folder):
        raise InvalidMetadata(f"metadata({ms!r}): {folder} is not a folder; give a {DIRNAME} "
                              "directory or the folder that holds one.")
    use_datastore(folder)
    return get_metadata()


def default_metadata() -> str:
    """Forget :func:`metadata`'s choice: read ``HEADWATER_HOME`` or the nearest ``.headwater``
    again. Returns :func:`get_metadata`."""
    use_datastore(None)
    return get_metadata()
