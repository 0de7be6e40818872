"""The core tests' harness: ``tests/harness.py`` plus readers of a run by flow, run and step.

Artifact values, exceptions and task output are read through the client
(``Run(...)[step].tasks()``, ``task.data``, ``Task(pathspec).exception``, ``task.stdout``), as
a user reads them; the bare task records with plain ``sqlite3``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from harness import Done, base_env, reading  # noqa: F401 - re-exported
from harness import FlowDir as BaseFlowDir

HEADER = (
    "from headwater import FlowSpec, step, Parameter, IncludeFile, Config, JSONType, current\n"
)


class FlowDir(BaseFlowDir):
    """A directory of flows and their datastore, with readers of runs by (flow, run, step)."""

    HEADER = HEADER

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
def fd(tmp_path: Path, mode: Any) -> FlowDir:
    """A fresh directory for one test's flows and datastore."""
    return FlowDir(tmp_path, mode)


@pytest.fixture(scope="module")
def module_fd(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
              mode: Any) -> FlowDir:
    """A directory shared by a module's tests, for runs that several tests look at."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    return FlowDir(tmp_path_factory.mktemp(f"{name}-{mode.name}"), mode)
