"""One datastore, opened from its root URL: everything that writes or reads bytes of runs.

``open_datastore("/path/.headwater")`` (or ``file:///path/.headwater``) gives a
:class:`Datastore` with the content-addressed blob store, every attempt's logs, its cards and
the code packages. The layout under the root is this module's business alone: callers name
an attempt (flow, run, step, task id, attempt), never a path. ``s3://bucket/prefix`` will be a
second implementation of the same class.

    ds = open_datastore(".headwater")
    ref = ds.blobs.save(value)
    with ds.log_writer("TrainFlow", 3, "train", 4, 0, "stdout") as log: ...
    ds.read_log("TrainFlow", 3, "train", 4, 0, "stdout")    # [(time, line), ...]
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

from ..exceptions import DatastoreError
from .logs import LogWriter, read_lines

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from .blobs import BlobStore
    from .cards import CardFolder

_opened: dict[tuple[int, str], Datastore] = {}


def open_datastore(url: str | os.PathLike[str], *, create: bool = False) -> Datastore:
    """The datastore at ``url`` (a folder path or a ``file://`` URL), cached per process.

    ``create`` makes the folder when it does not exist (commands that write); readers get a
    clear error instead.
    """
    url = os.fspath(url)
    scheme, sep, rest = url.partition("://")
    if sep and scheme == "s3":
        key = (os.getpid(), url)
        if key not in _opened:
            from .s3 import S3Datastore

            _opened[key] = S3Datastore(url)
        return _opened[key]
    if sep and scheme != "file":
        raise DatastoreError(
            f"unknown datastore URL {url!r}: give a folder path, file:///path or s3://bucket/prefix.")
    path = rest if sep else url
    key = (os.getpid(), path)
    ds = _opened.get(key)
    if ds is None or create:
        from .root import root_dir

        # The folder is checked (or made) once per process; a missing one is a clear error.
        ds = _opened[key] = LocalDatastore(root_dir(path, create=create))
    return ds


class Datastore(ABC):
    """The bytes of a datastore. Subclasses decide where they live (a folder; S3 later)."""

    #: The root as a URL-like string, what task descriptions carry to another process.
    url: str
    #: The local folder of the datastore, or None for one that is not on this machine.
    local_root: str | None = None

    @property
    @abstractmethod
    def blobs(self) -> BlobStore:
        """The content-addressed blob store: artifacts and code packages."""

    @abstractmethod
    def log_writer(self, flow: str, run: int | str, step: str, task_id: int | str,
                   attempt: int, stream: str) -> LogWriter:
        """Appends timestamped lines to one stream of one attempt."""

    @abstractmethod
    def read_log(self, flow: str, run: int | str, step: str, task_id: int | str,
                 attempt: int, stream: str) -> list[tuple[float, str]]:
        """``(time, line)`` for every line the attempt printed so far; empty if none."""

    @abstractmethod
    def has_log(self, flow: str, run: int | str, step: str, task_id: int | str,
                attempt: int, stream: str) -> bool:
        """Whether the attempt printed anything to ``stream``."""

    @abstractmethod
    def read_log_bytes(self, flow: str, run: int | str, step: str, task_id: int | str,
                       attempt: int, stream: str, start: int, limit: int) -> tuple[bytes, int]:
        """Up to ``limit`` raw bytes of a log from ``start`` (negative: from the end), and
        the log's whole size; ``(b"", 0)`` for a log that does not exist."""

    @abstractmethod
    def cards(self, flow: str, run: int | str, step: str, task_id: int | str,
              attempt: int) -> CardFolder:
        """The cards of one attempt."""

    @abstractmethod
    def cache_dir(self) -> str:
        """A local folder for caches that only speed things up (code package stamps)."""

    def check(self) -> None:  # noqa: B027 - optional: a local folder has nothing to check
        """Raise a clear error now if the datastore cannot be used (before any task runs)."""

    def warm_up(self) -> None:  # noqa: B027 - optional: nothing to import for a local folder
        """Import what this datastore needs, in a process that will fork the tasks."""


class LocalDatastore(Datastore):
    """A folder: ``blobs/``, ``logs/<flow>/<run>/<step>/<task>/<attempt>.<stream>``,
    ``cards/<flow>/<run>/<step>/<task>/<attempt>/``, ``cache/``, ``tmp/``."""

    def __init__(self, root: str) -> None:
        self.url = self.local_root = root
        self._blobs: BlobStore | None = None

    def __repr__(self) -> str:
        return f"LocalDatastore({self.url!r})"

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            from .blobs import BlobStore
            from .storage import LocalStorage

            self._blobs = BlobStore(LocalStorage(self.url))
        return self._blobs

    def _log(self, flow: str, run: int | str, step: str, task_id: int | str, attempt: int,
             stream: str) -> str:
        return os.path.join(self.url, "logs", flow, str(run), step, str(task_id), f"{attempt}.{stream}")

    def log_writer(self, flow: str, run: int | str, step: str, task_id: int | str,
                   attempt: int, stream: str) -> LogWriter:
        return LogWriter(self._log(flow, run, step, task_id, attempt, stream))

    def read_log(self, flow: str, run: int | str, step: str, task_id: int | str,
                 attempt: int, stream: str) -> list[tuple[float, str]]:
        return read_lines(self._log(flow, run, step, task_id, attempt, stream))

    def has_log(self, flow: str, run: int | str, step: str, task_id: int | str,
                attempt: int, stream: str) -> bool:
        return os.path.exists(self._log(flow, run, step, task_id, attempt, stream))

    def read_log_bytes(self, flow: str, run: int | str, step: str, task_id: int | str,
                       attempt: int, stream: str, start: int, limit: int) -> tuple[bytes, int]:
        try:
            f = open(self._log(flow, run, step, task_id, attempt, stream), "rb")  # noqa: SIM115
        except (FileNotFoundError, NotADirectoryError):
            return b"", 0
        with f:
            end = os.fstat(f.fileno()).st_size
            if start < 0:
                start = max(0, end + start)
            f.seek(min(start, end))
            return f.read(max(0, min(limit, end - start))), end

    def cards(self, flow: str, run: int | str, step: str, task_id: int | str,
              attempt: int) -> CardFolder:
        from .cards import CardFolder

        return CardFolder(os.path.join(self.url, "cards", flow, str(run), step, str(task_id), str(attempt)))

    def cache_dir(self) -> str:
        return os.path.join(self.url, "cache")
