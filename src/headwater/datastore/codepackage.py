"""The code package: the flow file and its local modules, as one content-addressed archive.

Packed at run start so that resume, the UI and remote executors see the code that ran.
The archive is a deterministic tar (sorted names, zeroed times), so unchanged code gives
the same key and is stored once.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

SUFFIXES = (".py", ".json", ".yaml", ".yml", ".toml", ".txt", ".cfg")
SKIP_DIRS = {".git", ".headwater", ".metaflow", "__pycache__", "node_modules", ".venv", "venv",
             "site-packages", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist"}
MAX_FILES = 2000
MAX_FILE_BYTES = 1 << 20


def package_files(flow_file: Path) -> list[Path]:
    """Files under the flow's directory worth keeping: sources and small config files."""
    base = flow_file.resolve().parent
    found: list[Path] = [flow_file.resolve()]
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix in SUFFIXES and path != found[0]:
                try:
                    if path.stat().st_size <= MAX_FILE_BYTES:
                        found.append(path)
                except OSError:
                    continue
            if len(found) >= MAX_FILES:
                return found
    return found


def build_package(flow_file: Path) -> bytes:
    base = flow_file.resolve().parent
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(package_files(flow_file)):
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
