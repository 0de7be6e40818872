"""Starting the UI: bind the port (with a clear error when it is taken), print the URL, serve.

``headwater ui`` calls ``serve``; tests and scripts use ``start_in_thread`` for a real server
on a free port of 127.0.0.1.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..exceptions import CommandError
from .security import is_loopback

DEFAULT_PORT = 8585


class PortInUse(CommandError):
    headline = "Port in use"


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _try_bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def next_free_port(host: str, after: int, tries: int = 50) -> int | None:
    for port in range(after + 1, min(after + 1 + tries, 65536)):
        try:
            _try_bind(host, port).close()
            return port
        except OSError:
            continue
    return None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or ``PortInUse`` naming a free port to use instead."""
    try:
        return _try_bind(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            free = next_free_port(host, port)
            hint = f" Try --port {free}." if free else " Choose another one with --port."
            raise PortInUse(f"port {port} on {host} is already in use (another `headwater ui`?).{hint}") from None
        if exc.errno == errno.EACCES:
            raise CommandError(f"not allowed to listen on {host}:{port}; ports below 1024 need root. "
                               "Use --port 8585.") from None
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}.") from None


def url_for(host: str, port: int, token: str | None) -> str:
    shown = host
    if host in ("0.0.0.0", "::", ""):
        shown = socket.gethostname()
    elif ":" in host and not host.startswith("["):
        shown = f"[{host}]"
    return f"http://{shown}:{port}/" + (f"?token={quote(token, safe='')}" if token else "")


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve runs to the network without a token."""
    if token is None and not is_loopback(host):
        import secrets

        raise CommandError(
            f"--host {host} makes the UI reachable from other machines, so it needs a token: "
            f"add --token {secrets.token_urlsafe(18)} (or any secret of your own). Requests must then "
            "carry it once as ?token=...; the printed link does.")
    if token is not None and len(token) < 8:
        raise CommandError("the --token is too short to protect anything: use at least 8 characters.")


def _server(app: Any, *, quiet: bool) -> Any:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning" if quiet else "info", access_log=False,
                            lifespan="off", server_header=False)
    return uvicorn.Server(config)


def serve(root: Path, *, host: str, port: int, token: str | None, open_browser: bool,
          echo: Callable[[str], None] = print) -> None:
    """Serve the datastore at ``root`` until interrupted."""
    from .app import create_app

    check_exposure(host, token)
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    url = url_for(host, actual, token)
    from ..metadata import location_for

    records = location_for(root)
    echo(f"Headwater UI for {root}" if records == str(root) else f"Headwater UI for the metadata service at {records}")
    echo(f"  {url}")
    if token is not None:
        echo("  (the token is needed once per browser; it is then kept in a cookie)")
    echo("Press Ctrl-C to stop.")
    if open_browser:
        import webbrowser

        local = url_for("127.0.0.1" if host in ("0.0.0.0", "::") else host, actual, token)
        threading.Thread(target=webbrowser.open, args=(local,), daemon=True).start()
    server = _server(create_app(root, token=token, host=host), quiet=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@dataclass
class Running:
    """A server started by ``start_in_thread``; ``stop()`` ends it."""

    url: str
    port: int
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_in_thread(root: Path, *, token: str | None = None, host: str = "127.0.0.1",
                    port: int = 0) -> Running:
    """A real server on ``host`` (a free port by default), serving in a background thread."""
    from .app import create_app

    sock = bind(host, port)
    actual = sock.getsockname()[1]
    server, thread = serve_in_thread(create_app(root, token=token, host=host), sock, "headwater-ui")
    return Running(f"http://{host}:{actual}", actual, server, thread)


def serve_in_thread(app: Any, sock: socket.socket, name: str) -> tuple[Any, threading.Thread]:
    """Serve ``app`` on the listening ``sock`` from a daemon thread; returns once it serves."""
    server = _server(app, quiet=True)
    server.install_signal_handlers = lambda: None  # uvicorn < 0.29; newer ones skip off the main thread
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=name)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    return server, thread
