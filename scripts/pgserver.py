#!/usr/bin/env python3
"""A throw-away PostgreSQL for trying the metadata service, and for the tests and benchmarks.

    python scripts/pgserver.py            # serve until Ctrl-C; prints the database URL

It runs the PostgreSQL of this machine (the Debian package ``postgresql``, or any ``initdb``
and ``pg_ctl`` on PATH) as an unprivileged user, its data in a temporary folder, on 127.0.0.1
and a free port, with fsync off (fast, and nothing worth keeping). As root it runs as the
``postgres`` user, since PostgreSQL refuses to run as root. The tests start one per session
through :func:`start` and stop it with :meth:`Server.stop`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

READY_WITHIN = 30.0


def binaries() -> str | None:
    """The folder holding ``initdb`` and ``pg_ctl``: the newest Debian one, else PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running PostgreSQL: its data folder, port and superuser."""

    def __init__(self, bindir: str, folder: str, port: int, user: str, run_as: str | None) -> None:
        self.bindir, self.folder, self.port, self.user, self.run_as = bindir, folder, port, user, run_as
        self.data = os.path.join(folder, "data")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _as(self.run_as, [os.path.join(self.bindir, "pg_ctl"), "-D", self.data, *args], check=check)

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._ctl("-l", os.path.join(self.folder, "log"), "-w", "-t", str(int(READY_WITHIN)),
                  "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        """Make database ``name`` (a fresh one per test module keeps tests apart); its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def _as(user: str | None, command: list[str], check: bool = True) -> subprocess.CompletedProcess:
    if user is not None:
        command = ["su", user, "-s", "/bin/sh", "-c", " ".join(_quote(c) for c in command)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def start() -> Server:
    """A new PostgreSQL in a temporary folder, started and answering."""
    bindir = binaries()
    if bindir is None:
        raise RuntimeError("no PostgreSQL found: install it (Debian: apt-get install postgresql; "
                           "macOS: brew install postgresql)")
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres"  # initdb and postgres refuse to run as root
        try:
            pwd.getpwnam(run_as)
        except KeyError:
            raise RuntimeError("running as root, and there is no `postgres` user to run PostgreSQL as") from None
    folder = tempfile.mkdtemp(prefix="headwater-pg-")
    os.chmod(folder, 0o755)
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = Server(bindir, folder, _free_port(), "postgres", run_as)
    _as(run_as, [os.path.join(bindir, "initdb"), "-D", server.data, "-A", "trust", "-U", "postgres",
                 "-E", "UTF8", "--locale=C", "--no-sync"])
    server.start()
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", server.port)) == 0:
                return server
        time.sleep(0.1)
    server.remove()
    raise RuntimeError(f"PostgreSQL did not answer on port {server.port} within {READY_WITHIN:.0f} s")


def main() -> None:
    server = start()
    print(f"PostgreSQL is serving on 127.0.0.1:{server.port} (data in {server.folder})")
    print("Start the metadata service with:")
    print(f"  headwater service --database {server.url()}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.remove()


if __name__ == "__main__":
    main()
