"""Flow and Metaflow: the entry points, listing runs in the current namespace.

    >>> Metaflow().flows                                 # flows with runs you can see
    >>> flow = Flow("TrainFlow")                         # doctest: +SKIP
    >>> flow.latest_run, flow.latest_successful_run
    >>> list(flow)                                       # runs, newest first
    >>> list(flow.runs("experiment", "v2"))             # runs carrying both tags
    >>> flow["12"]                                       # Run('TrainFlow/12')

A Flow object itself is not namespaced (any recorded flow can be opened); its runs are: listing
and ``latest_*`` only see runs in the current namespace, and ``flow["12"]`` raises
``NamespaceMismatch`` for a run outside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from .base import ClientObject, check_flow, load_run, parse_pathspec
from .errors import InvalidPathspec
from .namespace import get_namespace
from .records import to_datetime
from .run import Run
from .stores import Stores, current_stores


class Flow(ClientObject):
    """A flow and its runs.

    >>> Flow("TrainFlow").latest_successful_run          # doctest: +SKIP
    Run('TrainFlow/12')
    """

    _DEPTH = 1

    def __init__(self, pathspec: str, *, _namespace_check: bool = True) -> None:
        parts = parse_pathspec(pathspec, "Flow", 1)
        stores = current_stores()
        self._setup(parts, stores)
        check_flow(stores, parts[0])

    @property
    def created_at(self) -> datetime | None:
        """When the flow's first run was recorded."""
        return to_datetime(check_flow(self._stores, self._flow))

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs in the current namespace carrying every tag in ``tags``, newest first."""
        rows = self._stores.reader.runs(self._flow, get_namespace(), tags)
        return iter([Run._of(row, self._stores) for row in rows])

    def __iter__(self) -> Iterator[Run]:
        return self.runs()

    @property
    def latest_run(self) -> Run | None:
        """The newest run in the current namespace, whatever its status; None if there is none."""
        rows = self._stores.reader.runs(self._flow, get_namespace(), limit=1)
        return Run._of(rows[0], self._stores) if rows else None

    @property
    def latest_successful_run(self) -> Run | None:
        """The newest successful run in the current namespace; None if there is none."""
        rows = self._stores.reader.runs(self._flow, get_namespace(), status="succeeded", limit=1)
        return Run._of(rows[0], self._stores) if rows else None

    def __getitem__(self, run_id: str | int) -> Run:
        """``flow["12"]``: a run (``NamespaceMismatch`` if it is outside the namespace)."""
        text = str(run_id)
        if not text.isdigit():
            raise InvalidPathspec(f"{self._flow}[{run_id!r}]: a run id is a number such as '12'.")
        row = load_run(self._stores, self._flow, int(text), check_namespace=True)
        return Run._of(row, self._stores)

    def __contains__(self, run_id: object) -> bool:
        """Whether the run exists in the current namespace."""
        text = str(run_id)
        reader = self._stores.reader
        if not text.isdigit() or reader.run(self._flow, int(text)) is None:
            return False
        ns = get_namespace()
        return ns is None or any(tag == ns for tag, _ in reader.tags(self._flow, int(text)))


class Metaflow:
    """Every flow with at least one run in the current namespace.

    >>> [flow.id for flow in Metaflow()]                 # doctest: +SKIP
    ['HelloFlow', 'TrainFlow']
    """

    def __init__(self) -> None:
        self._stores: Stores = current_stores()

    @property
    def flows(self) -> list[Flow]:
        """The flows, sorted by name."""
        names = self._stores.reader.flow_names(get_namespace())
        return [Flow._bare((name,), self._stores) for name in names]

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __repr__(self) -> str:
        return "Metaflow()"

    def __str__(self) -> str:
        return "Metaflow()"
