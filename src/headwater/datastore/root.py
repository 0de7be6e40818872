"""Where the datastore lives: ``.headwater/`` in the working directory or a parent, like git.

Order: an explicit ``--datastore-root``, then ``HEADWATER_HOME``, then the nearest
``.headwater`` directory from the working directory upwards, and, for commands that write
(``run``), a new ``.headwater`` in the working directory.
"""

from __future__ import annotations

import os

from ..exceptions import DatastoreError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from pathlib import Path

DIRNAME = ".headwater"
ENV = "HEADWATER_HOME"


def find_root(explicit: str | os.PathLike[str] | None = None, *, create: bool = False,
              start: str | os.PathLike[str] | None = None) -> Path:
    """Return the datastore directory, creating it in the working directory if asked to."""
    from pathlib import Path

    return Path(root_dir(explicit, create=create, start=start))


def root_dir(explicit: str | os.PathLike[str] | None = None, *, create: bool = False,
             start: str | os.PathLike[str] | None = None) -> str:
    """:func:`find_root` as a string (the runtime avoids importing pathlib)."""
    if explicit:
        root = os.path.realpath(os.path.expanduser(os.fspath(explicit)))
    elif os.environ.get(ENV):
        root = os.path.realpath(os.path.expanduser(os.environ[ENV]))
    else:
        here = os.path.realpath(os.fspath(start) if start is not None else os.getcwd())
        folder = here
        while True:
            if os.path.isdir(os.path.join(folder, DIRNAME)):
                return os.path.join(folder, DIRNAME)
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        root = os.path.join(here, DIRNAME)
        if not create and _service_selected():
            return root  # runs are found through the service, wherever the reader is
        if not create:
            raise DatastoreError(
                f"no {DIRNAME} directory in {here} or any parent. Run a flow from this directory "
                f"first, cd to the project that has one, or point to it with {ENV}=/path/to/{DIRNAME} "
                "(or --datastore-root)."
            )
    if create:
        os.makedirs(root, exist_ok=True)
    elif not os.path.isdir(root):
        raise DatastoreError(
            f"the datastore {root} does not exist. Check the path given by --datastore-root or {ENV}, "
            "or run a flow to create it."
        )
    return root


def _service_selected() -> bool:
    """The metadata service holds the records, so a reader needs no local folder (each run
    names the datastore of its bytes)."""
    return os.environ.get("HEADWATER_DEFAULT_METADATA", "").strip().lower() == "service"
