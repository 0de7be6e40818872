"""The datastore the client reads: its root, a metadata reader, the blob store.

The root is found like git finds ``.git`` (``HEADWATER_HOME``, else the nearest ``.headwater``
upwards from the working directory) and cached per process. The cache is keyed by
``HEADWATER_HOME`` and the working directory, so changing either picks the right datastore;
a forked child opens its own reader. Objects keep the stores they were created from.

Nothing here writes, except ``writer()`` which opens a short-lived read-write connection for
tag changes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..exceptions import DatastoreError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from ..datastore.blobs import BlobStore
    from ..datastore.datastore import Datastore
    from ..metadata.provider import MetadataReader, MetadataWriter

ENV = "HEADWATER_HOME"  # same as headwater.datastore.root.ENV, which is imported only when needed

_roots: dict[tuple[int, str | None, str], Path] = {}
_stores: dict[tuple[int, Path], Stores] = {}
_lock = threading.Lock()


class Stores:
    """Read access to one datastore. Get one with ``current_stores()``."""

    def __init__(self, root: Path, reader: MetadataReader | None = None) -> None:
        self.root = root
        self.pid = os.getpid()  # SQLite connections must not cross fork: children open their own
        self._reader = reader
        self._datastore: Datastore | None = None
        self._run_datastores: dict[tuple[str, int], Datastore] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Stores({str(self.root)!r})"

    @property
    def reader(self) -> MetadataReader:
        """The datastore's run records (empty answers while it has none yet)."""
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    from ..metadata import location_for, open_reader

                    self._reader = open_reader(location_for(self.root))
        return self._reader

    @property
    def datastore(self) -> Datastore:
        """The datastore's bytes: blobs, logs, cards, code packages."""
        if self._datastore is None:
            from ..datastore.datastore import open_datastore

            try:
                self._datastore = open_datastore(self.root)
            except OSError as exc:
                raise DatastoreError(f"cannot open the datastore {self.root}: {exc}") from exc
        return self._datastore

    @property
    def blobs(self) -> BlobStore:
        return self.datastore.blobs

    def datastore_for(self, flow: str, run: int | str) -> Datastore:
        """The datastore holding one run's bytes: this folder, or the one the run recorded
        (an S3 datastore whose records are kept here)."""
        key = (flow, int(run))
        found = self._run_datastores.get(key)
        if found is None:
            row = self.reader.run(flow, int(run))
            if row is None or not row.datastore:
                found = self.datastore
            else:
                from ..datastore.datastore import open_datastore

                found = open_datastore(row.datastore)
            self._run_datastores[key] = found
        return found

    @contextmanager
    def writer(self) -> Iterator[MetadataWriter]:
        """A metadata writer, closed on exit (only tag changes use it)."""
        from ..metadata import location_for, open_writer

        md = open_writer(location_for(self.root))
        try:
            yield md
        finally:
            md.close()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def stores_for(root: Path) -> Stores:
    """The (cached) stores of the datastore at ``root``, for this process."""
    key = (os.getpid(), root)
    stores = _stores.get(key)
    if stores is None:
        with _lock:
            stores = _stores.get(key)
            if stores is None:
                stores = _stores[key] = Stores(root)
    return stores


_chosen: list[Path] = []  # set by use_datastore(): wins over HEADWATER_HOME and the cwd


def use_datastore(root: str | os.PathLike[str] | None) -> None:
    """Read from the datastore at ``root`` in this process (None: find it again as usual).

    The flow file's ``logs``/``dump``/``card`` commands call it with ``--datastore-root``.
    """
    _chosen.clear()
    if root is not None:
        _chosen.append(Path(os.path.realpath(os.fspath(root))))


def current_stores() -> Stores:
    """The stores of the datastore that ``find_root()`` picks right now (cached)."""
    if _chosen:
        return stores_for(_chosen[0])
    pid = os.getpid()
    try:
        cwd = os.getcwd()
    except OSError:
        raise DatastoreError(
            f"the working directory no longer exists; cd to your project or set {ENV}."
        ) from None
    key = (pid, os.environ.get(ENV), cwd)
    root = _roots.get(key)
    if root is None or not root.is_dir():
        # The datastore package is heavy to import: load it on first use only.
        from ..datastore.root import find_root

        root = find_root()
        _roots[key] = root
    return stores_for(root)


def clear_cache() -> None:
    """Forget resolved roots and close connections (tests; after moving a datastore)."""
    with _lock:
        pid = os.getpid()
        for (owner, _), stores in list(_stores.items()):
            if owner == pid:
                stores.close()
        _stores.clear()
        _roots.clear()
        _chosen.clear()
