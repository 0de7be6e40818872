"""Who is running where: the user name that namespaces runs (``user:<name>``), and the host."""

from __future__ import annotations

import os


def current_user() -> str:
    """``HEADWATER_USER``, else ``USER``/``USERNAME``, else the login name, else "unknown"."""
    for var in ("HEADWATER_USER", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def hostname() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it (without importing socket)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    return os.environ.get("COMPUTERNAME", "unknown")
