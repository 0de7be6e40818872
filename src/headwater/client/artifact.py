"""DataArtifact: one value a task stored, loaded from the blob store on first use.

    >>> art = Task("TrainFlow/12/train/5")["score"]     # doctest: +SKIP
    >>> art.data, art.type, art.size, art.sha
    (0.91, 'builtins.float', 53, '5f0c...')
    >>> DataArtifact("TrainFlow/12/train/5/score").data  # doctest: +SKIP
    0.91
"""

from __future__ import annotations

from datetime import datetime

from ..exceptions import DamagedBlobError
from .base import ClientObject, check_attempt, parse_pathspec
from .errors import not_found
from .records import ArtifactRow, to_datetime

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing import Any

    from .stores import Stores
    from .task import Task

_UNLOADED: Any = object()


class DataArtifact(ClientObject):
    """A stored value of a task attempt. ``data`` loads it (once); the rest comes from the index."""

    _DEPTH = 5
    _row: ArtifactRow | None
    _recorded_at: float | None

    def __init__(self, pathspec: str, attempt: int | None = None, *, _namespace_check: bool = True) -> None:
        from .task import Task

        parts = parse_pathspec(pathspec, "DataArtifact", 5)
        task = Task("/".join(parts[:4]), check_attempt(attempt), _namespace_check=_namespace_check)
        found = task[parts[4]]
        self._setup(parts, task._stores, attempt)
        self._row, self._recorded_at = found._row, found._recorded_at

    def _setup(self, parts: tuple[str, ...], stores: Stores | None, attempt: int | None = None) -> None:
        super()._setup(parts, stores, attempt)
        self._row = None
        self._recorded_at = None
        self._value = _UNLOADED

    @classmethod
    def _of(cls, task: Task, row: ArtifactRow, recorded_at: float | None) -> DataArtifact:
        art = cls._bare((*task._parts, row.name), task._stores_, task._attempt)
        art._row, art._recorded_at = row, recorded_at
        return art

    def _index(self) -> ArtifactRow:
        if self._row is None:  # unpickled: look it up now
            task = self.parent
            found = task._artifact_map().get(self.id)
            if found is None:
                raise not_found(f"{task.pathspec} has no artifact", self.id, task._visible_names())
            self._row, self._recorded_at = found._row, found._recorded_at
        assert self._row is not None
        return self._row

    @property
    def parent(self) -> Task:
        """The task that stored this artifact."""
        from .task import Task

        return Task._bare(self._parts[:4], self._stores_, self._attempt)

    @property
    def data(self) -> Any:
        """The value, loaded from the blob store the first time and then kept."""
        if self._value is _UNLOADED:
            row = self._index()
            try:
                self._value = self._stores.datastore_for(self._flow, self._run).blobs.load(row.key, size=row.size)
            except DamagedBlobError as exc:
                raise self._damaged(row, exc) from None
        return self._value

    def _damaged(self, row: ArtifactRow, exc: DamagedBlobError) -> DamagedBlobError:
        """The error for a value whose stored bytes are damaged: this artifact, its task, the
        path, and the step to re-run."""
        from ..datastore.damage import damaged_artifact

        script = None
        try:
            code = self.parent.parent.parent.code  # the run's code package names the flow file
            script = code.script_name if code is not None else None
        except Exception:  # noqa: BLE001 - only for the command in the message
            pass
        return damaged_artifact(exc, name=row.name, flow=self._flow, run=self._run,
                                step=self._parts[2], task_id=self._parts[3],
                                reader=self._stores.reader, script=script)

    @property
    def sha(self) -> str:
        """The content hash of the stored value (its blob key)."""
        return self._index().key

    @property
    def type(self) -> str:
        """Qualified type name of the value, e.g. ``'builtins.float'``."""
        return self._index().type

    @property
    def size(self) -> int:
        """Stored size in bytes."""
        return self._index().size

    @property
    def created_at(self) -> datetime | None:
        """When the artifact was recorded (its attempt's end)."""
        self._index()
        return to_datetime(self._recorded_at)

    @property
    def finished_at(self) -> datetime | None:
        """Same as ``created_at``: artifacts are recorded when their attempt finishes."""
        return self.created_at
