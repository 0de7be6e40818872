"""The failure tests' harness: ``tests/harness.py``, and scenarios run side by side.

What a run left is read back through the client (``Run``, ``Task(pathspec, attempt=N)``), as a
user reads it, and the bare records (which runs exist, their status) with plain ``sqlite3``.

Most scenarios take a second or two of waiting (a retry delay, a timeout, a sleeping task), so
a module runs its independent scenarios side by side (:func:`concurrently`), each in its own
directory and datastore, and its tests then look at what each scenario left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from harness import MODES, Done, base_env, make_mode, reading  # noqa: F401 - re-exported
from harness import FlowDir as BaseFlowDir


@pytest.fixture(scope="module", params=(*MODES, "service", "ray"))
def mode(request: pytest.FixtureRequest) -> Any:
    """Every mode of the other suites, the metadata service recording the runs, and every
    step on a Ray cluster."""
    return make_mode(request, request.param)


class FlowDir(BaseFlowDir):
    """A directory of flows and their datastore, with a reader of a run's tasks by pathspec."""

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
def dirs(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, mode: Any):
    """``dirs("name")``: a directory of its own for each scenario of a module."""
    base = tmp_path_factory.mktemp(f"{request.module.__name__.rsplit('.', 1)[-1]}-{mode.name}")
    made: dict[str, FlowDir] = {}

    def get(name: str) -> FlowDir:
        if name not in made:
            made[name] = FlowDir(base / name, mode)
        return made[name]

    return get
