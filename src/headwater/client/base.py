"""What every client object shares: its pathspec, equality, pickling, and the run checks.

A pathspec names an object by its path: ``TrainFlow`` (a flow), ``TrainFlow/12`` (a run),
``TrainFlow/12/train`` (a step), ``TrainFlow/12/train/5`` (a task) and
``TrainFlow/12/train/5/score`` (an artifact). Objects compare and hash by class, pathspec and
the attempt they were asked for, and pickle as exactly that: an unpickled object reopens the
current datastore the first time it is used.
"""

from __future__ import annotations

import os

from .errors import InvalidPathspec, not_found
from .namespace import get_namespace, mismatch
from .stores import Stores, current_stores, stores_for

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    from ..metadata.records import RunRow

    T = TypeVar("T", bound="ClientObject")

_EXAMPLES = ("TrainFlow", "TrainFlow/12", "TrainFlow/12/train", "TrainFlow/12/train/5",
             "TrainFlow/12/train/5/score")
_LEVELS = ("flow", "run", "step", "task", "artifact")


def parse_pathspec(pathspec: object, kind: str, depth: int) -> tuple[str, ...]:
    """Split a pathspec into its ``depth`` parts, refusing anything that cannot name a ``kind``."""
    example = _EXAMPLES[depth - 1]
    shape = "/".join(level.upper() for level in _LEVELS[:depth])
    if not isinstance(pathspec, str):
        raise InvalidPathspec(
            f"{kind}() takes a pathspec string such as {example!r}, not {type(pathspec).__name__} "
            f"({pathspec!r})."
        )
    parts = tuple(pathspec.split("/"))
    if not pathspec or len(parts) != depth or not all(p.strip() for p in parts):
        got = "an empty pathspec" if not pathspec else f"{pathspec!r}"
        raise InvalidPathspec(
            f"{kind}() needs a pathspec of the form {shape}, e.g. {example!r}; got {got}."
        )
    if depth >= 2 and not parts[1].isdigit():
        raise InvalidPathspec(
            f"{kind}({pathspec!r}): the run id {parts[1]!r} is not a number; run ids are 1, 2, 3, ..."
        )
    if depth >= 4 and not parts[3].isdigit():
        raise InvalidPathspec(
            f"{kind}({pathspec!r}): the task id {parts[3]!r} is not a number."
        )
    return parts


def check_attempt(attempt: object) -> int | None:
    if attempt is None:
        return None
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise InvalidPathspec(f"attempt must be a whole number from 0 (the first), not {attempt!r}.")
    return attempt


class ClientObject:
    """Base of Flow, Run, Step, Task and DataArtifact: a pathspec bound to a datastore."""

    _DEPTH: ClassVar[int] = 0
    _parts: tuple[str, ...]
    _attempt: int | None = None
    _stores_: Stores | None = None

    def _setup(self, parts: tuple[str, ...], stores: Stores | None, attempt: int | None = None) -> None:
        """Set identity fields and empty caches; no query (used by constructors and unpickling)."""
        self._parts = parts
        self._stores_ = stores
        self._attempt = attempt

    @classmethod
    def _bare(cls: type[T], parts: tuple[str, ...], stores: Stores | None,
              attempt: int | None = None) -> T:
        obj = cls.__new__(cls)
        obj._setup(parts, stores, attempt)
        return obj

    @property
    def _stores(self) -> Stores:
        stores = self._stores_
        if stores is None:
            stores = self._stores_ = current_stores()
        elif stores.pid != os.getpid():  # used in a forked child: same datastore, new connection
            stores = self._stores_ = stores_for(stores.root)
        return stores

    # -- identity --------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The last part of the pathspec: flow name, run number, step name, task id, artifact name."""
        return self._parts[-1]

    @property
    def pathspec(self) -> str:
        """The full path, e.g. ``'TrainFlow/12/train/5'``."""
        return "/".join(self._parts)

    @property
    def path_components(self) -> list[str]:
        """The pathspec split into its parts."""
        return list(self._parts)

    @property
    def _flow(self) -> str:
        return self._parts[0]

    @property
    def _run(self) -> int:
        return int(self._parts[1])

    def __repr__(self) -> str:
        extra = f", attempt={self._attempt}" if self._attempt is not None else ""
        return f"{type(self).__name__}({self.pathspec!r}{extra})"

    def __str__(self) -> str:
        return self.__repr__()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, ClientObject)
        return self._parts == other._parts and self._attempt == other._attempt

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._parts, self._attempt))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.pathspec, self._attempt))

    # -- tags (a run's; steps, tasks and artifacts share their run's; a flow has none) ----------
    def _tag_pairs(self) -> list[tuple[str, bool]]:
        return self._stores.reader.tags(self._flow, self._run) if len(self._parts) > 1 else []

    @property
    def tags(self) -> frozenset[str]:
        """All tags of the run: user tags and system tags."""
        return frozenset(t for t, _ in self._tag_pairs())

    @property
    def user_tags(self) -> frozenset[str]:
        """Tags added by users (``run --tag``, ``add_tag``)."""
        return frozenset(t for t, system in self._tag_pairs() if not system)

    @property
    def system_tags(self) -> frozenset[str]:
        """Tags set by Headwater (``user:ana``, ``runtime:local``, ``python_version:...``)."""
        return frozenset(t for t, system in self._tag_pairs() if system)


def _restore(cls: type[ClientObject], pathspec: str, attempt: int | None) -> ClientObject:
    """Unpickle: identity only; the datastore is opened on first use, without a namespace check."""
    return cls._bare(parse_pathspec(pathspec, cls.__name__, cls._DEPTH), None, attempt)


def check_flow(stores: Stores, flow: str) -> float:
    """The flow's creation time; ``ObjectNotFound`` naming close flows if it has no record."""
    created = stores.reader.flow_created_at(flow)
    if created is None:
        raise not_found("There is no flow", flow, stores.reader.flow_names(),
                        hint=f"(datastore {stores.root})")
    return created


def load_run(stores: Stores, flow: str, number: int, *, check_namespace: bool) -> RunRow:
    """A run's row, refusing unknown runs and runs outside the current namespace."""
    reader = stores.reader
    row = reader.run(flow, number)
    if row is None:
        check_flow(stores, flow)
        recent = [str(r.number) for r in reader.runs(flow, None, limit=10)]
        raise not_found(f"{flow} has no run", str(number), [],
                        hint=f"Its latest runs are {', '.join(recent)}." if recent else "")
    if check_namespace:
        ns = get_namespace()
        if ns is not None:
            tags = reader.tags(flow, number)
            if not any(tag == ns for tag, _ in tags):
                raise mismatch(f"{flow}/{number}", ns, tags)
    return row
