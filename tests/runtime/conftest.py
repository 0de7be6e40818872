"""Helpers for end-to-end tests: write a flow file, run it as a user would, read what it left.

Every flow runs for real, as ``python flow.py <command>`` in a subprocess whose working
directory is the test's directory and whose ``HEADWATER_HOME`` is a datastore inside it.

What a run left is read back two ways: artifact values, exceptions and task output through the
client (``Run(...)[step].tasks()``, ``task.data``, ``Task(pathspec).exception``,
``task.stdout``), as a user reads them; the bare records (which runs and tasks exist, their
status and attempt) and the datastore's files with plain ``sqlite3`` on ``metadata.db`` (schema
in ``headwater/metadata/sqlite.py``) and a directory walk, so "nothing was written" does not
depend on the client.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

import pytest

HEADER = (
    "from headwater import FlowSpec, step, Parameter, IncludeFile, Config, JSONType, current\n"
)
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


def base_env(home: Path, executor: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k not in ("METAFLOW_USER",)}
    if executor:
        env["HEADWATER_EXECUTOR"] = executor
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

    def __init__(self, path: Path, executor: str | None = None) -> None:
        self.path = Path(path)
        self.home = self.path / "hwhome"
        self.executor = executor  # run through HEADWATER_EXECUTOR; None: the default

    # -- files ---------------------------------------------------------------------------------
    def write(self, source: str, name: str = "flow.py", *, header: bool = True) -> Path:
        text = textwrap.dedent(source).lstrip("\n")
        if header:
            text = HEADER + text
        path = self.path / name
        path.write_text(text, encoding="utf-8")
        return path

    def env(self, **extra: str) -> dict[str, str]:
        env = base_env(self.home, self.executor)
        env.update(extra)
        return env

    # -- commands ------------------------------------------------------------------------------
    def cli(self, *args: str, flow: str = "flow.py", env: dict[str, str] | None = None,
            timeout: float = 120) -> Done:
        cmd = [sys.executable, flow, *args]
        proc = subprocess.run(cmd, cwd=self.path, env=env or self.env(), capture_output=True,
                              timeout=timeout, encoding="utf-8", errors="replace")
        return Done(cmd[1:], proc.returncode, proc.stdout, proc.stderr)

    def run(self, *args: str, **kw: Any) -> Done:
        return self.cli("run", *args, **kw)

    def popen(self, *args: str, flow: str = "flow.py", **kw: Any) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, flow, *args], cwd=self.path, env=self.env(),
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
        if not (self.home / "metadata.db").exists():
            return []
        with contextlib.closing(self.db()) as db:
            return db.execute(sql, args).fetchall()

    def runs(self, flow: str) -> list[tuple[int, str]]:
        """``(run_number, status)`` of every recorded run of ``flow``."""
        return self.query("SELECT run_number, status FROM runs WHERE flow = ? ORDER BY run_number",
                          (flow,))

    def all_runs(self) -> list[tuple[str, int, str]]:
        return self.query("SELECT flow, run_number, status FROM runs ORDER BY flow, run_number")

    def tasks(self, flow: str, run: int, step: str | None = None) -> list[dict[str, Any]]:
        """Task rows of a run (optionally one step), in task id order."""
        sql = ("SELECT task_id, step, status, attempt, foreach_stack, parents FROM tasks"
               " WHERE flow = ? AND run_number = ? AND step != '_parameters'")
        args: tuple = (flow, run)
        if step is not None:
            sql += " AND step = ?"
            args += (step,)
        rows = self.query(sql + " ORDER BY task_id", args)
        return [
            {"id": r[0], "step": r[1], "status": r[2], "attempt": r[3],
             "foreach_stack": json.loads(r[4]) if r[4] else None,
             "parents": json.loads(r[5]) if r[5] else []}
            for r in rows
        ]

    def steps_run(self, flow: str, run: int) -> list[str]:
        """Step of every task, in task id order (the order tasks were created)."""
        return [t["step"] for t in self.tasks(flow, run)]

    # -- through the client, as a user reads a run ----------------------------------------------
    @contextlib.contextmanager
    def client(self):
        """``headwater`` with this datastore as HEADWATER_HOME, in every namespace."""
        with reading(self.home) as hw:
            yield hw

    def task_objects(self, flow: str, run: int, step: str) -> list[Any]:
        """``Run(...)[step].tasks()``, in task id order."""
        with self.client() as hw:
            return sorted(hw.Run(f"{flow}/{run}")[step].tasks(), key=lambda t: int(t.id))

    def values(self, flow: str, run: int, step: str, name: str) -> list[Any]:
        """The artifact ``name`` of every task of ``step``, in task id order."""
        with self.client():
            return [task.data[name] for task in self.task_objects(flow, run, step)]

    def value(self, flow: str, run: int, step: str, name: str) -> Any:
        (value,) = self.values(flow, run, step, name)
        return value

    def exception(self, flow: str, run: int, step: str) -> Any:
        """What the failed task of ``step`` raised: ``Task(pathspec).exception``."""
        with self.client() as hw:
            failed = [t for t in self.task_objects(flow, run, step) if not t.successful]
            # Siblings stopped because of the failure failed too, without an exception.
            raised = [hw.Task(t.pathspec).exception for t in failed]
            raised = [exc for exc in raised if exc is not None]
            assert len(raised) == 1, f"{len(raised)} exceptions recorded in {flow}/{run}/{step}"
            return raised[0]

    def log(self, flow: str, run: int, step: str, task_id: int, stream: str = "stdout") -> str:
        """``Task(pathspec).stdout`` or ``.stderr``."""
        with self.client() as hw:
            return getattr(hw.Task(f"{flow}/{run}/{step}/{task_id}"), stream)


@pytest.fixture
def fd(tmp_path: Path, executor: str) -> FlowDir:
    """A fresh directory for one test's flows and datastore."""
    return FlowDir(tmp_path, executor)


@pytest.fixture(scope="module")
def module_fd(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
              executor: str) -> FlowDir:
    """A directory shared by a module's tests, for runs that several tests look at."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    return FlowDir(tmp_path_factory.mktemp(f"{name}-{executor}"), executor)


_reading_depth = 0
_reading_lock = threading.RLock()  # the failure tests read from several threads at once


@contextlib.contextmanager
def reading(home: Path):
    """Point the client at ``home`` (as HEADWATER_HOME) and look in every namespace; the
    outermost use puts the environment and the default namespace back, for the tests after."""
    global _reading_depth
    import headwater

    with _reading_lock:
        old = os.environ.get("HEADWATER_HOME")
        os.environ["HEADWATER_HOME"] = str(home)
        _reading_depth += 1
        try:
            headwater.namespace(None)
            yield headwater
        finally:
            _reading_depth -= 1
            if _reading_depth == 0:
                headwater.default_namespace()
            if old is None:
                os.environ.pop("HEADWATER_HOME", None)
            else:
                os.environ["HEADWATER_HOME"] = old
