"""The end-to-end harness every suite shares: write a flow file, run it as a user would, read
what it left.

Every flow runs for real, as ``python flow.py <command>`` in a subprocess whose working
directory is the test's directory and whose ``HEADWATER_HOME`` is a datastore inside it
(``<dir>/hwhome``). What a run left is read back two ways: through the client
(:func:`reading`), as a user reads it; and as bare records with plain ``sqlite3`` on
``metadata.db`` (schema in ``headwater/metadata/sqlite.py``) and a directory walk, so that
"nothing was written" does not depend on the client.

Each suite subclasses :class:`FlowDir` for its own header line and readers; a ``FlowDir``
made with a ``mode`` (``tests/conftest.py``) runs its flows in it: on another executor, or
on S3, through the environment twins of the run options.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.request import pathname2url

import pytest

USER = "tester"


@dataclass
class Done:
    """A finished ``python flow.py ...`` command."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def run_id(self, flow: str) -> int:
        """The run number the console's summary line reports."""
        found = re.findall(rf"Run {flow}/(\d+) (?:succeeded|failed)", self.stdout)
        assert found, f"no summary line for {flow} in:\n{self}"
        return int(found[-1])

    def __str__(self) -> str:  # shown by pytest when an assertion on it fails
        return (f"$ {' '.join(self.args)}  -> exit {self.returncode}\n"
                f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}")


TEST_EXTRA = "pip install -e '.[test]'"


def unavailable(what: str, install: str) -> NoReturn:
    """Skip a test that needs something this machine lacks, saying how to install it.

    The reason is listed at the end of the run (``tests/conftest.py``); under CI (``CI`` set)
    the same conftest turns every skip into a failure, since CI must run every test.
    """
    pytest.skip(f"{what}; to run these tests: {install}")


def need_module(name: str, install: str = TEST_EXTRA) -> Any:
    """``import name``, or skip (fail in CI) saying how to install it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"{name} is not installed", install)


def base_env(home: Path) -> dict[str, str]:
    """This process's environment without Headwater settings, pointed at ``home``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k not in ("METAFLOW_USER",)}
    env.update({
        "HEADWATER_HOME": str(home),
        "HEADWATER_USER": USER,
        "NO_COLOR": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


class FlowDir:
    """A directory holding flow files and their datastore (``<dir>/hwhome``)."""

    #: Prepended to every flow written (one line, so file:line numbers stay predictable).
    HEADER = "from headwater import FlowSpec, step, Parameter, current\n"
    #: More environment for the flows' commands.
    EXTRA_ENV: dict[str, str] = {}

    def __init__(self, path: Path, mode: Any = None) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.home = self.path / "hwhome"
        self.mode = mode  # tests/conftest.Mode; None: the defaults (fork, local)
        self.mode_env = mode.env() if mode is not None else {}
        self.executor = mode.executor if mode is not None else "fork"

    # -- files ---------------------------------------------------------------------------------
    def write(self, source: str, name: str = "flow.py", *, header: bool = True) -> Path:
        text = textwrap.dedent(source).lstrip("\n")
        path = self.path / name
        path.write_text((self.HEADER if header else "") + text, encoding="utf-8")
        return path

    def env(self, **extra: str) -> dict[str, str]:
        env = base_env(self.home)
        env.update(self.mode_env)
        env.update(self.EXTRA_ENV)
        env.update(extra)
        return env

    # -- commands ------------------------------------------------------------------------------
    def command(self, argv: list[str]) -> list[str]:
        """``argv`` as this directory's mode runs it (inside the Ray cluster's network)."""
        return self.mode.command(argv) if self.mode is not None else list(argv)

    def cli(self, *args: str, flow: str = "flow.py", env: dict[str, str] | None = None,
            timeout: float = 120, **extra_env: str) -> Done:
        cmd = [sys.executable, flow, *args]
        proc = subprocess.run(self.command(cmd), cwd=self.path, env=env or self.env(**extra_env),
                              capture_output=True, timeout=timeout, encoding="utf-8",
                              errors="replace")
        return Done(cmd[1:], proc.returncode, proc.stdout, proc.stderr)

    def run(self, *args: str, **kw: Any) -> Done:
        return self.cli("run", *args, **kw)

    def resume(self, *args: str, **kw: Any) -> Done:
        return self.cli("resume", *args, **kw)

    def popen(self, *args: str, flow: str = "flow.py", **kw: Any) -> subprocess.Popen:
        return subprocess.Popen(self.command([sys.executable, flow, *args]), cwd=self.path, env=self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                encoding="utf-8", errors="replace", **kw)

    # -- what is on disk -----------------------------------------------------------------------
    def files(self) -> dict[str, int]:
        """Every file under the datastore, with its size: compare before and after a command."""
        if not self.home.exists():
            return {}
        return {str(p.relative_to(self.home)): p.stat().st_size
                for p in sorted(self.home.rglob("*")) if p.is_file()}

    def db(self) -> sqlite3.Connection:
        path = self.home / "metadata.db"
        assert path.exists(), f"no metadata database at {path}"
        return sqlite3.connect(f"file:{pathname2url(str(path))}?mode=ro", uri=True)

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        """``sql`` on the run records: the SQLite database, or the metadata service's tables."""
        if self.mode is not None and self.mode.pg is not None:
            return self.mode.query(self.mode_env, sql, args)
        if not (self.home / "metadata.db").exists():
            return []
        with contextlib.closing(self.db()) as db:
            return db.execute(sql, args).fetchall()

    def runs(self, flow: str | None = None) -> list[tuple]:
        """``(run_number, status)`` of every run of ``flow``; ``(flow, number, status)`` of all."""
        if flow is None:
            return self.query("SELECT flow, run_number, status FROM runs ORDER BY flow, run_number")
        return self.query("SELECT run_number, status FROM runs WHERE flow = ? ORDER BY run_number",
                          (flow,))

    # -- through the client, as a user reads a run ----------------------------------------------
    @contextlib.contextmanager
    def client(self):
        """``headwater`` reading this datastore, in every namespace (the S3 session fixture puts
        the S3 endpoint and credentials in this process's environment)."""
        service = {k: v for k, v in self.mode_env.items() if k.startswith("HEADWATER_") and "METADATA" in k
                   or k == "HEADWATER_SERVICE_URL"}
        with reading(self.home, service) as hw:
            yield hw


MODES = ("fork", "subprocess", "s3")  # the modes of the runtime, failure and card suites


def make_mode(request: Any, name: str) -> Mode:
    """The :class:`Mode` called ``name``, with the servers it needs (stopped after the module)."""
    if name == "s3":
        return Mode("s3", request.getfixturevalue("s3_server"))
    if name == "service":
        mode = Mode("service", pg=request.getfixturevalue("pg_server"))
        request.addfinalizer(mode.close)
        return mode
    if name == "ray":
        return Mode("ray", ray=request.getfixturevalue("ray_cluster"))
    return Mode(name)



class Mode:
    """How a test directory's flows run: the executor, the S3 server when on S3, the
    PostgreSQL server when the metadata service records them."""

    def __init__(self, name: str, s3: object | None = None, pg: object | None = None,
                 ray: object | None = None) -> None:
        self.name = name
        self.executor = "subprocess" if name == "subprocess" else "fork"
        self.s3 = s3
        self.pg = pg
        self.ray = ray
        self.services: list[Any] = []  # started by env(), stopped by close()
        self.databases: dict[str, str] = {}  # service URL -> its database URL

    def env(self) -> dict[str, str]:
        """Settings for one directory's commands: each directory gets its own S3 prefix, or its
        own metadata service (a service thread over a fresh database), so that its flows'
        run numbers start at 1."""
        env = {"HEADWATER_EXECUTOR": self.executor}
        if self.s3 is not None:
            env.update(self.s3.env)  # type: ignore[attr-defined]
            env["HEADWATER_DEFAULT_DATASTORE"] = "s3"
            env["HEADWATER_DATASTORE_SYSROOT_S3"] = f"s3://{self.s3.bucket}/{uuid.uuid4().hex[:12]}"  # type: ignore[attr-defined]
        if self.ray is not None:  # every step a Ray task on the session's cluster
            env.update(self.ray.env)  # type: ignore[attr-defined]
            env["HEADWATER_DEFAULT_DECOSPECS"] = "ray"
        if self.pg is not None:
            from headwater.service.server import start_in_thread

            database = self.pg.create_database(f"t_{uuid.uuid4().hex[:16]}")  # type: ignore[attr-defined]
            service = start_in_thread(database)
            self.services.append(service)
            self.databases[service.url] = database
            env.update({"HEADWATER_DEFAULT_METADATA": "service", "HEADWATER_SERVICE_URL": service.url})
        return env

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run where this mode's servers are reachable."""
        return self.ray.command(argv) if self.ray is not None else list(argv)  # type: ignore[attr-defined]

    def query(self, env: dict[str, str], sql: str, args: tuple = ()) -> list[tuple]:
        """``sql`` (with ``?`` placeholders) on the PostgreSQL behind the service of ``env``."""
        import psycopg

        from headwater.metadata.postgres import pg_sql

        with psycopg.connect(self.databases[env["HEADWATER_SERVICE_URL"]]) as conn:
            return [tuple(row) for row in conn.execute(pg_sql(sql), args).fetchall()]

    def close(self) -> None:
        for service in self.services:
            service.stop()
        self.services.clear()

    def __repr__(self) -> str:
        return f"Mode({self.name})"


_reading_depth = 0
_reading_lock = threading.RLock()  # the failure tests read from several threads at once


@contextlib.contextmanager
def reading(home: Path, settings: dict[str, str] | None = None):
    """Point the client at ``home`` (as HEADWATER_HOME, with more ``settings`` in the
    environment) and look in every namespace; the outermost use puts the environment and the
    default namespace back, for the tests after."""
    global _reading_depth
    import headwater

    changes = {"HEADWATER_HOME": str(home), **(settings or {})}
    with _reading_lock:
        old = {name: os.environ.get(name) for name in changes}
        os.environ.update(changes)
        _reading_depth += 1
        try:
            headwater.namespace(None)
            yield headwater
        finally:
            _reading_depth -= 1
            if _reading_depth == 0:
                headwater.default_namespace()
            for name, value in old.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
