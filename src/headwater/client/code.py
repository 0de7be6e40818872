"""The code package of a run: the flow file and its local modules as they were when it ran.

    >>> code = Run("TrainFlow/12").code                 # doctest: +SKIP
    >>> print(code.flowspec)                            # the flow file's text
    >>> code.files["utils.py"]                          # any packaged file, as bytes
    >>> code.extract("/tmp/train-12")                   # write them all out
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class CodePackage:
    """A run's code package (a gzipped tar archive stored as a blob)."""

    def __init__(self, key: str, data: bytes, flow_name: str) -> None:
        self.key = key
        self.data = data
        self.flow_name = flow_name

    def __repr__(self) -> str:
        return f"<CodePackage {self.key[:12]} of {self.flow_name}: {len(self.files)} files>"

    @property
    def tarball(self) -> Any:
        """The archive as an open ``tarfile.TarFile`` (read mode), like Metaflow's ``code.tarball``."""
        import io
        import tarfile

        return tarfile.open(fileobj=io.BytesIO(self.data), mode="r:gz")

    @cached_property
    def files(self) -> dict[str, bytes]:
        """Archive member name -> contents."""
        from ..datastore.codepackage import read_package

        return read_package(self.data)

    @cached_property
    def script_name(self) -> str | None:
        """The file that defines the flow class (relative to the flow's directory)."""
        pattern = re.compile(rf"^class\s+{re.escape(self.flow_name)}\b", re.MULTILINE)
        sources = [name for name in sorted(self.files) if name.endswith(".py")]
        for name in sorted(sources, key=lambda n: (n.count("/"), n)):
            if pattern.search(self.files[name].decode("utf-8", errors="replace")):
                return name
        return None

    @property
    def flowspec(self) -> str:
        """The text of the flow file ("" if the archive has no file defining the flow)."""
        name = self.script_name
        return self.files[name].decode("utf-8", errors="replace") if name else ""

    def extract(self, path: str | Path) -> Path:
        """Write every file of the package under ``path``; return it."""
        target = Path(path)
        for name, content in self.files.items():
            dest = (target / name).resolve()
            if not dest.is_relative_to(target.resolve()):  # never write outside ``path``
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)
        return target
