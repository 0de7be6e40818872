"""The metadata service as a team runs it: ``headwater service`` in a process of its own over
the session's real PostgreSQL, flows and readers in other processes pointed at it.

:class:`ServiceProcess` starts the real command and can SIGKILL and restart it on the same
port; each test gets a fresh database, so run numbers start at 1.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from harness import USER

READY_WITHIN = 60.0


class ServiceProcess:
    """``headwater service --database URL`` running in its own process."""

    def __init__(self, database: str, *, token: str | None = None, port: int = 0,
                 extra: tuple[str, ...] = ()) -> None:
        self.database, self.token, self.port, self.extra = database, token, port, extra
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.output = ""

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "headwater", "service", "--database", self.database,
                "--port", str(self.port), *self.extra]
        return args + (["--token", self.token] if self.token else [])

    def start(self) -> ServiceProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        self.proc = subprocess.Popen(self.command(), env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + READY_WITHIN
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"API and UI at http://127\.0\.0\.1:(\d+)/", line)
            if found:
                self.port = int(found.group(1))  # a restart binds the same port
                self.url = f"http://127.0.0.1:{self.port}"
            if "Press Ctrl-C" in line:
                self.output = "".join(lines)
                return self
        self.stop()
        raise AssertionError("the service did not start:\n" + "".join(lines))

    def env(self) -> dict[str, str]:
        """What a flow or a reader needs to use this service."""
        env = {"HEADWATER_DEFAULT_METADATA": "service", "HEADWATER_SERVICE_URL": self.url}
        if self.token:
            env["HEADWATER_SERVICE_AUTH_KEY"] = self.token
        return env

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def database(pg_server: Any) -> str:
    """The URL of a fresh database in the session's PostgreSQL."""
    return pg_server.create_database(f"s_{uuid.uuid4().hex[:16]}")


@pytest.fixture
def service(database: str) -> Any:
    running = ServiceProcess(database).start()
    yield running
    running.stop()


def records(database: str, sql: str, args: tuple = ()) -> list[tuple]:
    """Rows of ``sql`` (``%s`` placeholders) straight from the service's PostgreSQL."""
    import psycopg

    with psycopg.connect(database) as conn:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]


class Project:
    """A directory with a flow file, its runs recorded by a service (bytes in ``.headwater``)."""

    def __init__(self, path: Path, service: ServiceProcess) -> None:
        self.path = path
        self.service = service

    def write(self, source: str, name: str = "flow.py") -> None:
        (self.path / name).write_text("from headwater import FlowSpec, step, Parameter, current\n"
                                      + textwrap.dedent(source))

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        env.update(HEADWATER_USER=USER, NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1")
        env.update(self.service.env())
        env.update(extra)
        return env

    def popen(self, *args: str, cwd: Path | None = None, **extra: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, *args], cwd=cwd or self.path, env=self.env(**extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 240, **extra: str) -> Any:
        proc = self.popen(*args, cwd=cwd, **extra)
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture
def project(tmp_path: Path, service: ServiceProcess) -> Project:
    path = tmp_path / "project"
    path.mkdir()
    return Project(path, service)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")
