"""Who is running: the user name that namespaces runs (``user:<name>``)."""

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
