"""The datastore the client reads: its root, a read-only metadata connection, the blob store.

The root is found like git finds ``.git`` (``HEADWATER_HOME``, else the nearest ``.headwater``
upwards from the working directory) and cached per process. The cache is keyed by
``HEADWATER_HOME`` and the working directory, so changing either picks the right datastore;
a forked child opens its own connection. Objects keep the stores they were created from.

Nothing here writes, except ``writer()`` which opens a short-lived read-write connection for
tag changes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..exceptions import DatastoreError, MetadataError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing import Any

    from ..datastore.blobs import BlobStore
    from ..metadata.sqlite import SQLiteMetadata

ENV = "HEADWATER_HOME"  # same as headwater.datastore.root.ENV, which is imported only when needed

_roots: dict[tuple[int, str | None, str], Path] = {}
_stores: dict[tuple[int, Path], Stores] = {}
_lock = threading.Lock()


class Stores:
    """Read access to one datastore. Get one with ``current_stores()``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pid = os.getpid()  # SQLite connections must not cross fork: children open their own
        self._md: SQLiteMetadata | None = None
        self._blobs: BlobStore | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Stores({str(self.root)!r})"

    def _metadata(self) -> SQLiteMetadata | None:
        if self._md is None:
            with self._lock:
                if self._md is None:
                    if not (self.root / "metadata.db").exists():
                        return None  # a datastore with no run yet: nothing to show
                    from ..metadata.sqlite import SQLiteMetadata

                    self._md = SQLiteMetadata(self.root, readonly=True)
        return self._md

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        """Rows of a read query; none when the datastore has no metadata database yet."""
        md = self._metadata()
        if md is None:
            return []
        try:
            return md.query(sql, args)
        except sqlite3.Error as exc:
            raise MetadataError(f"cannot read the metadata database {md.path}: {exc}") from exc

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            from ..datastore.blobs import BlobStore
            from ..datastore.storage import LocalStorage

            try:
                self._blobs = BlobStore(LocalStorage(self.root))
            except OSError as exc:
                raise DatastoreError(f"cannot open the blob store in {self.root}: {exc}") from exc
        return self._blobs

    @contextmanager
    def writer(self) -> Iterator[SQLiteMetadata]:
        """A read-write metadata connection, closed on exit (only tag changes use it)."""
        from ..metadata.sqlite import SQLiteMetadata

        md = SQLiteMetadata(self.root)
        try:
            yield md
        finally:
            md.close()

    def close(self) -> None:
        if self._md is not None:
            self._md.close()
            self._md = None


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


def current_stores() -> Stores:
    """The stores of the datastore that ``find_root()`` picks right now (cached)."""
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
