"""Helpers for card tests: write a flow file, run it as a user would, read its cards back.

Each flow runs for real (``python flow.py run`` in a subprocess, ``HEADWATER_HOME`` inside
the test's directory). Cards are read back with ``get_cards`` in this process, pointed at
the same datastore, and with the ``card`` commands of the flow file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HEADER = (
    "from headwater import FlowSpec, step, card, current, Parameter\n"
    "from headwater.cards import *\n"
)

# Anything that would make a browser fetch from the network.
NETWORK_FETCH = re.compile(
    r"""<script[^>]+src\s*=|<link[^>]+href\s*=|<(?:img|iframe|source|video|audio|embed)[^>]+src\s*=\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//|@import""",
    re.IGNORECASE,
)


@dataclass
class Done:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def run_id(self, flow: str) -> int:
        found = re.findall(rf"Run {flow}/(\d+) (?:succeeded|failed)", self.stdout)
        assert found, f"no summary line for {flow} in:\n{self}"
        return int(found[-1])

    def __str__(self) -> str:
        return (f"$ {' '.join(self.args)}  -> exit {self.returncode}\n"
                f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}")


class FlowDir:
    """A directory holding flow files and their datastore (``<dir>/hwhome``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.home = self.path / "hwhome"

    def write(self, source: str, name: str = "flow.py") -> Path:
        path = self.path / name
        path.write_text(HEADER + textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        return path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        env.update(HEADWATER_HOME=str(self.home), HEADWATER_USER="tester", NO_COLOR="1",
                   PYTHONIOENCODING="utf-8", PYTHONDONTWRITEBYTECODE="1", BROWSER="true")
        env.update(extra)
        return env

    def cli(self, *args: str, flow: str = "flow.py", timeout: float = 120, **extra: str) -> Done:
        cmd = [sys.executable, flow, *args]
        proc = subprocess.run(cmd, cwd=self.path, env=self.env(**extra), capture_output=True,
                              timeout=timeout, encoding="utf-8", errors="replace")
        return Done(cmd[1:], proc.returncode, proc.stdout, proc.stderr)

    def run(self, *args: str, **kw: Any) -> Done:
        return self.cli("run", *args, **kw)

    def popen(self, *args: str, flow: str = "flow.py") -> subprocess.Popen:
        return subprocess.Popen([sys.executable, flow, *args], cwd=self.path, env=self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
                                errors="replace")

    def cards(self, pathspec: str, **filters: Any) -> list[Any]:
        """``get_cards(pathspec)`` against this datastore."""
        from headwater.cards import get_cards

        old = os.environ.get("HEADWATER_HOME")
        os.environ["HEADWATER_HOME"] = str(self.home)
        try:
            return get_cards(pathspec, **filters)
        finally:
            if old is None:
                os.environ.pop("HEADWATER_HOME", None)
            else:
                os.environ["HEADWATER_HOME"] = old

    def html(self, pathspec: str, **filters: Any) -> str:
        found = self.cards(pathspec, **filters)
        assert len(found) == 1, f"expected one card of {pathspec} ({filters}), got {found}"
        return found[0].get()

    def card_files(self) -> list[Path]:
        return sorted((self.home / "cards").rglob("*.html")) if (self.home / "cards").exists() else []


@pytest.fixture
def fd(tmp_path: Path) -> FlowDir:
    return FlowDir(tmp_path)


@pytest.fixture(scope="module")
def module_fd(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> FlowDir:
    return FlowDir(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))


def assert_offline(html: str) -> None:
    """The page is one self-contained document that loads nothing from the network."""
    assert html.lstrip().lower().startswith("<!doctype html>")
    match = NETWORK_FETCH.search(html)
    assert match is None, f"card fetches from the network: {html[max(match.start() - 80, 0):match.end() + 80]}"
