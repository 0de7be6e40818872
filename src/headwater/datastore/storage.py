"""Where blob bytes live: a small backend interface and the local-directory backend.

A backend stores opaque byte strings under content-hash keys. It knows nothing about
serialization or hashing; ``blobs.py`` decides keys. Other backends (S3) implement the same
two abstract classes in their own module.

Writes are atomic: bytes go to a temporary object and become visible under their key only on
``commit``, so a reader never sees a partial blob. Because keys are hashes of the content, the
key is only known once the last byte is written, hence the writer/commit shape::

    with storage.new_blob() as w:
        w.write(chunk)
        ...
        w.commit(key)           # without commit (or on error) the temporary is discarded

A copy already stored under the key is trusted only when it is known whole: a small blob is
read back and compared, a large one is replaced (locally: the rename costs nothing more) or
kept when its size matches and no load found it damaged (S3). A write that fails (a full
disk) removes its temporary and raises BlobWriteError naming the path.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from abc import ABC, abstractmethod
from types import TracebackType

from headwater.exceptions import BlobWriteError, DatastoreError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import IO, Any

_KEY = re.compile(r"[0-9a-f]{3,128}")
_TOKEN = os.urandom(4).hex()  # with the pid, makes temporary names unique across processes
_COUNTER = itertools.count()  # next() on a count is atomic under the GIL: unique across threads


def check_key(key: str) -> str:
    """Return ``key`` if it is a lowercase hex hash, else raise (keys become paths)."""
    if not _KEY.fullmatch(key):
        raise DatastoreError(f"Invalid blob key {key!r}: expected a lowercase hex digest.")
    return key


class BlobWriter(ABC):
    """A blob being written. Use as a context manager; call ``commit(key)`` to publish it."""

    committed = False

    @abstractmethod
    def write(self, data: Any) -> int:
        """Append bytes (any buffer) to the blob; return the number written."""

    @abstractmethod
    def commit(self, key: str) -> None:
        """Publish the written bytes under ``key``, replacing a copy already there unless it
        is known whole."""

    @abstractmethod
    def abort(self) -> None:
        """Discard the written bytes. Safe to call more than once, and after ``commit``."""

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()  # no-op after a successful commit


class Storage(ABC):
    """A flat key -> bytes store with atomic, idempotent writes."""

    #: Whether many writes are best sent at once (each is a network round trip).
    concurrent = False

    def pool(self) -> Any:
        """An executor for concurrent writes (only asked when ``concurrent``)."""
        raise NotImplementedError

    @abstractmethod
    def new_blob(self) -> BlobWriter:
        """Start writing a blob whose key is decided at commit."""

    @abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """Open a blob for reading; raise DatastoreError if it does not exist."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Stored size in bytes; raise DatastoreError if the blob does not exist."""

    @abstractmethod
    def location(self, key: str) -> str:
        """Human-readable place of the blob (a path or URL), for error messages."""

    def read_bytes(self, key: str) -> bytes:
        """The whole blob as bytes."""
        with self.open(key) as f:
            return f.read()

    def write_bytes(self, key: str, data: Any) -> None:
        """Store ``data`` under ``key`` atomically (kept as is if the key already exists)."""
        with self.new_blob() as w:
            w.write(data)
            w.commit(key)

    def store_small(self, key: str, data: bytes) -> None:
        """Store a small blob unless exactly these bytes are there already: the stored copy is
        read back and compared (it is small), and replaced when it is damaged."""
        try:
            if self.read_bytes(key) == data:  # most re-saved artifacts are already stored
                return
        except DatastoreError:
            pass  # not there (or unreadable): write it
        self.write_bytes(key, data)

    def damaged(self, key: str) -> None:  # noqa: B027 - optional: most stores need no note
        """A load found the blob under ``key`` damaged: make sure the next write of the same
        value replaces it. Best effort, never raises."""

    def missing(self, key: str) -> DatastoreError:
        """The error for a blob that should exist but does not."""
        return DatastoreError(
            f"Blob {key} not found at {self.location(key)}. The datastore is incomplete "
            "(deleted or partially copied); point Headwater at the right datastore, or re-run "
            "the step that produced this artifact."
        )


class LocalStorage(Storage):
    """Blobs as files under ``<root>/blobs/<key[:2]>/<key[2:]>``; temporaries in ``<root>/tmp``.

    No fsync: a power loss may leave a torn blob after rename, which every load detects (the
    bytes are checked against their key) and reports as damaged; the next write of the same
    value replaces it. Durability is traded for speed.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = os.fspath(root)
        self._blobs = os.path.join(self._root, "blobs")
        self._tmp = os.path.join(self._root, "tmp")  # created on first write: readers stay read-only

    @property
    def root(self) -> Path:
        from pathlib import Path  # the runtime itself works with strings (start-up cost)

        return Path(self._root)

    def _path(self, key: str) -> str:
        check_key(key)
        return f"{self._blobs}/{key[:2]}/{key[2:]}"  # f-string: much cheaper than Path joins

    def path(self, key: str) -> Path:
        """Filesystem path of the blob (it may not exist)."""
        from pathlib import Path

        return Path(self._path(key))

    def location(self, key: str) -> str:
        return self._path(key)

    def new_blob(self) -> LocalBlobWriter:
        return LocalBlobWriter(self)

    def open(self, key: str) -> IO[bytes]:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise self.missing(key) from None

    def read_bytes(self, key: str) -> bytes:
        try:
            with open(self._path(key), "rb", buffering=0) as f:
                return f.readall()
        except FileNotFoundError:
            raise self.missing(key) from None

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(key))

    def size(self, key: str) -> int:
        try:
            return os.stat(self._path(key)).st_size
        except FileNotFoundError:
            raise self.missing(key) from None

    def store_small(self, key: str, data: bytes) -> None:
        final = self._path(key)
        try:
            with open(final, "rb", buffering=0) as f:
                if f.readall() == data:  # most re-saved artifacts are already stored, whole
                    return
        except OSError:
            pass  # not there, or unreadable: write it
        self.write_bytes(key, data)

    def write_bytes(self, key: str, data: Any) -> None:
        # Fast path for small blobs: raw fd calls avoid building a Python file object.
        final = self._path(key)
        tmp = self._new_tmp_name()
        fd = self._create(tmp)
        try:
            with memoryview(data) as view:
                while view:  # os.write may write less than asked
                    view = view[os.write(fd, view) :]
        except BaseException as exc:
            os.close(fd)
            _unlink(tmp)
            if isinstance(exc, OSError):
                raise self.write_failed(exc, final) from None
            raise
        os.close(fd)
        self._publish(tmp, final)  # replaces a copy already there: equal bytes, or damaged ones

    def write_failed(self, exc: OSError, path: str) -> BlobWriteError:
        """The one-line error for bytes that could not be written to ``path`` (disk full)."""
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return BlobWriteError(
            f"could not write {path}: {reason}. Nothing half-written was kept; free space on "
            f"the disk of {self._root} and run again.", path=path, root=self._root, reason=reason)

    def remove_stale_temporaries(self, older_than: float = 24 * 3600) -> int:
        """Delete temporaries left by crashed writers; return how many were removed."""
        cutoff = time.time() - older_than
        removed = 0
        if not os.path.isdir(self._tmp):
            return 0
        for entry in os.scandir(self._tmp):
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                pass  # finished or removed concurrently
        return removed

    # -- helpers shared with LocalBlobWriter -------------------------------------------------

    def _new_tmp_name(self) -> str:
        return f"{self._tmp}/{os.getpid()}-{_TOKEN}-{next(_COUNTER)}.tmp"

    def _create(self, tmp: str) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            try:
                return os.open(tmp, flags, 0o666)
            except FileNotFoundError:  # tmp dir removed under us (e.g. datastore cleanup)
                os.makedirs(self._tmp, exist_ok=True)
                return os.open(tmp, flags, 0o666)
        except OSError as exc:
            raise self.write_failed(exc, tmp) from None

    def _publish(self, tmp: str, final: str) -> None:
        """Atomically move a finished temporary to its final path.

        A copy already there is replaced, not trusted: it holds the same bytes, or damaged
        ones, and the rename costs the same as deleting the temporary would."""
        try:
            try:
                os.replace(tmp, final)  # atomic; racing writers replace equal bytes, harmless
            except FileNotFoundError:
                if not os.path.exists(tmp):
                    raise
                os.makedirs(os.path.dirname(final), exist_ok=True)  # first blob of this prefix
                os.replace(tmp, final)
        except BaseException as exc:
            _unlink(tmp)
            if isinstance(exc, OSError):
                raise self.write_failed(exc, final) from None
            raise


class LocalBlobWriter(BlobWriter):
    """Writes to ``<root>/tmp/<pid>-<token>-<n>.tmp``; ``commit`` renames it into place."""

    def __init__(self, storage: LocalStorage) -> None:
        self._storage = storage
        self._tmp = storage._new_tmp_name()
        self._file: IO[bytes] | None = os.fdopen(storage._create(self._tmp), "wb")
        self._done = False

    def write(self, data: Any) -> int:
        if self._file is None:
            raise DatastoreError("Cannot write to a blob that was committed or aborted.")
        try:
            return self._file.write(data)
        except OSError as exc:  # a full disk: the temporary goes now, the error names it
            self.abort()
            raise self._storage.write_failed(exc, self._tmp) from None

    def commit(self, key: str) -> None:
        if self._file is None:
            raise DatastoreError("Cannot commit a blob that was committed or aborted.")
        final = self._storage._path(key)
        try:
            self._file.close()  # flush before the rename makes the blob visible
        except OSError as exc:
            self._file = None
            self.abort()
            raise self._storage.write_failed(exc, self._tmp) from None
        finally:
            self._file = None
        self._storage._publish(self._tmp, final)
        self._done = self.committed = True

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass  # e.g. disk full on the final flush: the file is discarded anyway
            self._file = None
        _unlink(self._tmp)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
