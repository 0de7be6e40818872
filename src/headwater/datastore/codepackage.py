"""The code package: the flow file and its local modules, as one content-addressed archive.

Packed at run start so that resume, the UI and remote executors see the code that ran.
The archive is a deterministic tar (sorted names, zeroed times), so unchanged code gives
the same key and is stored once.
"""

from __future__ import annotations

import io
import json
import os
import sys

from ..exceptions import DatastoreError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

CACHE_ENTRIES = 100  # flow files remembered per datastore
CONFIG_SUFFIXES = (".json", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".ini")
MAX_FILE_BYTES = 1 << 20
SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist", "venv"}


def package_files(flow_file: str | os.PathLike[str]) -> list[str]:
    """The flow file, the modules it imported from its own directory tree, and small config
    files beside it, as absolute paths.

    Imported modules, not every ``.py`` file below: a flow run from a large directory (a home
    folder) must not pack thousands of unrelated files at every run.
    """
    given_dir = os.path.dirname(os.path.abspath(flow_file))
    flow_file = os.path.realpath(flow_file)
    base = os.path.dirname(flow_file)
    found = {flow_file}
    # Compare path strings first (the directory as given and as resolved): resolving every
    # loaded module's path (hundreds, with numpy or pandas) would cost more than the rest.
    prefixes = tuple({base.rstrip(os.sep) + os.sep, given_dir.rstrip(os.sep) + os.sep})
    inside = base.rstrip(os.sep) + os.sep
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py"):
            continue
        path = os.path.abspath(path)
        if not path.startswith(prefixes):
            continue
        path = os.path.realpath(path)
        folders = os.path.relpath(path, base).split(os.sep)[:-1]
        if path.startswith(inside) and not any(part.startswith(".") or part in SKIP_DIRS
                                               for part in folders):
            found.add(path)
    with os.scandir(base) as entries:
        for entry in entries:
            if (os.path.splitext(entry.name)[1] in CONFIG_SUFFIXES and entry.is_file()
                    and entry.stat().st_size <= MAX_FILE_BYTES):
                found.add(os.path.join(base, entry.name))
    return sorted(found)


def save_package(flow_file: str | os.PathLike[str], blobs: Any, cache_dir: str) -> str:
    """Store the code package of ``flow_file`` and return its key.

    When none of its files changed since the last run (same size, mtime, ctime and inode),
    the archive is not built again: the key recorded then is reused if its blob is still
    there and whole. ctime cannot be set by tools that preserve mtime (rsync -t, tar), so an
    edited file is never taken for an unchanged one.
    """
    files = package_files(flow_file)
    stamp = []
    for path in files:
        st = os.stat(path)
        stamp.append([path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
    cache_file = os.path.join(cache_dir, "codepackages.json")
    try:
        with open(cache_file, encoding="utf-8") as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    name = os.path.realpath(flow_file)
    entry = cache.get(name) if isinstance(cache, dict) else None
    if isinstance(entry, dict) and entry.get("stamp") == stamp and _stored(blobs, entry.get("key")):
        return entry["key"]
    key = blobs.save_bytes(build_package(flow_file, files))
    cache = cache if isinstance(cache, dict) else {}
    cache.pop(name, None)
    cache[name] = {"stamp": stamp, "key": key}  # newest last; the oldest are dropped
    cache = dict(list(cache.items())[-CACHE_ENTRIES:])
    try:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{cache_file}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(cache, f)
        os.replace(tmp, cache_file)  # readers see the old or the new file, never half of one
    except OSError:
        pass  # only a cache: the next run builds the package again
    return key


def _stored(blobs: Any, key: Any) -> bool:
    """Whether the package recorded last is still stored, whole (read back and checked
    against its key: a damaged one is built and stored again, which replaces it)."""
    try:
        return isinstance(key, str) and blobs.intact(key)
    except DatastoreError:  # not a key at all: the cache file was edited or damaged
        return False


def build_package(flow_file: str | os.PathLike[str], files: list[str] | None = None) -> bytes:
    """The deterministic tar.gz of ``files`` (default: :func:`package_files`)."""
    import gzip
    import tarfile

    base = os.path.dirname(os.path.realpath(flow_file))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in files if files is not None else package_files(flow_file):
            with open(path, "rb") as f:
                data = f.read()
            info = tarfile.TarInfo(os.path.relpath(path, base).replace(os.sep, "/"))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    # mtime=0 keeps the archive's bytes, and so its key, the same for the same code.
    return gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)


def read_package(data: bytes) -> dict[str, bytes]:
    """name -> contents of a code package."""
    import tarfile

    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            f = tar.extractfile(member)
            if f is not None:
                out[member.name] = f.read()
    return out
