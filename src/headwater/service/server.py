"""Starting the metadata service: connect to PostgreSQL, migrate, bind, print, serve.

``headwater service`` calls :func:`serve`; tests and benchmarks start it the same way in a
process of its own (``python -m headwater service ...``), since a service is what they kill.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..exceptions import CommandError

DEFAULT_PORT = 8080


def serve(database: str, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, token: str | None = None,
          ui: bool = True, echo: Callable[[str], None] = print) -> None:
    """Serve the metadata service over ``database`` until interrupted (SIGINT or SIGTERM)."""
    try:
        import uvicorn  # noqa: F401 - checked here for a one-line message
        from starlette.applications import Starlette  # noqa: F401

        from ..metadata.postgres import Database, safe_url
    except ImportError as exc:
        raise CommandError(f"headwater service needs the service extra ({exc.name} is missing): "
                           "pip install 'headwater[service]'") from None
    from ..ui.server import _server, bind, check_exposure
    from .app import create_app

    if not database.startswith(("postgresql://", "postgres://")):
        raise CommandError(f"--database {database!r} is not a PostgreSQL URL; write "
                           "postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE.")
    check_exposure(host, token)
    db = Database(database)
    db.open()
    try:
        before = db.migrate()
        sock = bind(host, port)
        app = create_app(db, token=token, host=host,
                         ui_root=Path(os.getcwd()) / ".headwater" if ui else None)
        actual = sock.getsockname()[1]
        shown = host if ":" not in host else f"[{host}]"
        echo(f"Headwater metadata service for {safe_url(database)}"
             + (" (schema created)" if before == 0 else ""))
        echo(f"  API and UI at http://{shown}:{actual}/")
        echo("Point runs and readers at it with:")
        echo(f"  export HEADWATER_DEFAULT_METADATA=service HEADWATER_SERVICE_URL=http://{shown}:{actual}"
             + (" HEADWATER_SERVICE_AUTH_KEY=<the token>" if token else ""))
        echo("Press Ctrl-C to stop.")
        server = _server(app, quiet=True)
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
    finally:
        db.close()


class Running:
    """A service started by :func:`start_in_thread`: its ``url``; ``stop()`` ends it."""

    def __init__(self, url: str, server: object, thread: object, db: object) -> None:
        self.url, self.server, self.thread, self.db = url, server, thread, db

    def stop(self) -> None:
        self.server.should_exit = True  # type: ignore[attr-defined]
        self.thread.join(timeout=10)  # type: ignore[attr-defined]
        self.db.close()  # type: ignore[attr-defined]


def start_in_thread(database: str, *, token: str | None = None, host: str = "127.0.0.1",
                    port: int = 0, ui_root: Path | None = None) -> Running:
    """A real service over ``database`` on ``host`` (a free port by default), serving from a
    background thread of this process: for tests and notebooks."""
    from ..metadata.postgres import Database
    from ..ui.server import bind, serve_in_thread
    from .app import create_app

    db = Database(database)
    db.open()
    db.migrate()
    sock = bind(host, port)
    server, thread = serve_in_thread(create_app(db, token=token, host=host, ui_root=ui_root), sock,
                                     "headwater-service")
    return Running(f"http://{host}:{sock.getsockname()[1]}", server, thread, db)
