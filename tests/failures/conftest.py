"""Helpers for the failure tests: write a flow, run it as a user would, read what it left.

Every flow runs for real, as ``python flow.py <command>`` in a subprocess whose working
directory is a test directory and whose ``HEADWATER_HOME`` is a datastore inside it. What a
run left is read back through the client (``Run``, ``Task(pathspec, attempt=N)``), as a user
reads it, and the bare records (which runs exist, their status) with plain ``sqlite3``.

Most scenarios take a second or two of waiting (a retry delay, a timeout, a sleeping task), so
a module runs its independent scenarios side by side (:func:`concurrently`), each in its own
directory and datastore, and its tests then look at what each scenario left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

import pytest

HEADER = "from headwater import FlowSpec, step, Parameter, current\n"


# The command record and the environment are the same as the core tests'.
from runtime.conftest import Done, base_env, reading  # noqa: E402, F401


class FlowDir:
    """A directory holding flow files and their datastore (``<dir>/hwhome``)."""

    def __init__(self, path: Path, executor: str | None = None) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.home = self.path / "hwhome"
        self.executor = executor  # run through HEADWATER_EXECUTOR; None: the default

    def write(self, source: str, name: str = "flow.py") -> Path:
        path = self.path / name
        path.write_text(HEADER + textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        return path

    def env(self, **extra: str) -> dict[str, str]:
        env = base_env(self.home, self.executor)
        env.update(extra)
        return env

    def cli(self, *args: str, flow: str = "flow.py", env: dict[str, str] | None = None,
            timeout: float = 120, **extra_env: str) -> Done:
        cmd = [sys.executable, flow, *args]
        proc = subprocess.run(cmd, cwd=self.path, env=env or self.env(**extra_env),
                              capture_output=True, timeout=timeout, encoding="utf-8",
                              errors="replace")
        return Done(cmd[1:], proc.returncode, proc.stdout, proc.stderr)

    def run(self, *args: str, **kw: Any) -> Done:
        return self.cli("run", *args, **kw)

    def resume(self, *args: str, **kw: Any) -> Done:
        return self.cli("resume", *args, **kw)

    # -- records, read with plain sqlite3 ---------------------------------------------------
    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        path = self.home / "metadata.db"
        if not path.exists():
            return []
        uri = f"file:{pathname2url(str(path))}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            return db.execute(sql, args).fetchall()

    def runs(self, flow: str | None = None) -> list[tuple]:
        """``(run_number, status)`` of every run of ``flow``; ``(flow, number, status)`` of all."""
        if flow is None:
            return self.query("SELECT flow, run_number, status FROM runs ORDER BY flow, run_number")
        return self.query("SELECT run_number, status FROM runs WHERE flow = ? ORDER BY run_number",
                          (flow,))

    # -- through the client ------------------------------------------------------------------
    @contextlib.contextmanager
    def client(self):
        """``headwater`` reading this datastore, in every namespace."""
        with reading(self.home) as hw:
            yield hw

    def tasks(self, pathspec: str, step: str) -> list[Any]:
        """``Run(pathspec)[step].tasks()`` in task id order (use inside ``client()``)."""
        import headwater

        return sorted(headwater.Run(pathspec)[step].tasks(), key=lambda t: int(t.id))




# -- running scenarios side by side ------------------------------------------------------------


class Failed:
    """What a scenario raised; re-raised by :func:`outcome` in the tests that need it."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def concurrently(scenarios: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run independent scenarios (each with its own directory) at once; name -> return value."""
    results: dict[str, Any] = {}

    def one(name: str, fn: Callable[[], Any]) -> None:
        try:
            results[name] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the test that reads it
            results[name] = Failed(exc)

    threads = [threading.Thread(target=one, args=item, daemon=True) for item in scenarios.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def outcome(results: dict[str, Any], name: str) -> Any:
    value = results.get(name)
    if isinstance(value, Failed):
        raise value.exc
    assert name in results, f"scenario {name!r} did not finish"
    return value


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    """Poll until ``predicate()`` is true; a generous bound, not a speed check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, executor: str):
    """``dirs("name")``: a directory of its own for each scenario of a module."""
    base = tmp_path_factory.mktemp(f"{request.module.__name__.rsplit('.', 1)[-1]}-{executor}")
    made: dict[str, FlowDir] = {}

    def get(name: str) -> FlowDir:
        if name not in made:
            made[name] = FlowDir(base / name, executor)
        return made[name]

    return get
