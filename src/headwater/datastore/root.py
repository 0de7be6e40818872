"""Where the datastore lives: ``.headwater/`` in the working directory or a parent, like git.

Order: an explicit ``--datastore-root``, then ``HEADWATER_HOME``, then the nearest
``.headwater`` directory from the working directory upwards, and, for commands that write
(``run``), a new ``.headwater`` in the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..exceptions import DatastoreError

DIRNAME = ".headwater"
ENV = "HEADWATER_HOME"


def find_root(explicit: str | os.PathLike[str] | None = None, *, create: bool = False,
              start: Path | None = None) -> Path:
    """Return the datastore directory, creating it in the working directory if asked to."""
    if explicit:
        root = Path(explicit).expanduser().resolve()
    elif os.environ.get(ENV):
        root = Path(os.environ[ENV]).expanduser().resolve()
    else:
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / DIRNAME).is_dir():
                return folder / DIRNAME
        root = here / DIRNAME
        if not create:
            raise DatastoreError(
                f"no {DIRNAME} directory in {here} or any parent. Run a flow from this directory "
                f"first, cd to the project that has one, or point to it with {ENV}=/path/to/{DIRNAME} "
                "(or --datastore-root)."
            )
    if create:
        root.mkdir(parents=True, exist_ok=True)
    elif not root.is_dir():
        raise DatastoreError(
            f"the datastore {root} does not exist. Check the path given by --datastore-root or {ENV}, "
            "or run a flow to create it."
        )
    return root
