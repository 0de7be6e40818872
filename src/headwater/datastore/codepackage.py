"""The code package: the flow file and its local modules, as one content-addressed archive.

Packed at run start so that resume, the UI and remote executors see the code that ran.
The archive is a deterministic tar (sorted names, zeroed times), so unchanged code gives
the same key and is stored once.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import tarfile
from pathlib import Path

CONFIG_SUFFIXES = (".json", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".ini")
MAX_FILE_BYTES = 1 << 20


def package_files(flow_file: Path) -> list[Path]:
    """The flow file, the modules it imported from its own directory tree, and small config
    files beside it.

    Imported modules, not every ``.py`` file below: a flow run from a large directory (a home
    folder) must not pack thousands of unrelated files at every run.
    """
    flow_file = flow_file.resolve()
    base = flow_file.parent
    found = {flow_file}
    # Compare path strings first: resolving every loaded module's path (hundreds, with numpy
    # or pandas) would cost more than the rest of the package.
    prefixes = tuple({str(base) + os.sep, os.path.abspath(base) + os.sep})
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py"):
            continue
        if not os.path.isabs(path):
            path = os.path.abspath(path)
        if not path.startswith(prefixes):
            continue
        p = Path(path).resolve()
        if p.is_relative_to(base) and not any(part.startswith(".") or part in SKIP_DIRS
                                              for part in p.relative_to(base).parts[:-1]):
            found.add(p)
    for p in base.iterdir():
        if p.suffix in CONFIG_SUFFIXES and p.is_file() and p.stat().st_size <= MAX_FILE_BYTES:
            found.add(p)
    return sorted(found)


SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist", "venv"}


def build_package(flow_file: Path) -> bytes:
    base = flow_file.resolve().parent
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in package_files(flow_file):
            data = path.read_bytes()
            info = tarfile.TarInfo(str(path.relative_to(base)))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    # mtime=0 keeps the archive's bytes, and so its key, the same for the same code.
    return gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)


def read_package(data: bytes) -> dict[str, bytes]:
    """name -> contents of a code package."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            f = tar.extractfile(member)
            if f is not None:
                out[member.name] = f.read()
    return out
