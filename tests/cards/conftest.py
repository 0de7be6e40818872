"""Helpers for card tests: write a flow file, run it as a user would, read its cards back.

Each flow runs for real (``python flow.py run`` in a subprocess, ``HEADWATER_HOME`` inside
the test's directory). Cards are read back with ``get_cards`` in this process, pointed at
the same datastore, and with the ``card`` commands of the flow file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from harness import FlowDir as BaseFlowDir

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


class FlowDir(BaseFlowDir):
    """A directory of flows and their datastore, with readers of the cards they made."""

    HEADER = HEADER
    EXTRA_ENV = {"BROWSER": "true"}  # `card view` must not open a real browser

    def cards(self, pathspec: str, **filters: Any) -> list[Any]:
        """``get_cards(pathspec)`` against this datastore."""
        from headwater.cards import get_cards

        with self.client():
            return get_cards(pathspec, **filters)

    def html(self, pathspec: str, **filters: Any) -> str:
        found = self.cards(pathspec, **filters)
        assert len(found) == 1, f"expected one card of {pathspec} ({filters}), got {found}"
        return found[0].get()


@pytest.fixture
def fd(tmp_path: Path, mode: Any) -> FlowDir:
    return FlowDir(tmp_path, mode)


@pytest.fixture(scope="module")
def module_fd(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
              mode: Any) -> FlowDir:
    name = request.module.__name__.rsplit(".", 1)[-1]
    return FlowDir(tmp_path_factory.mktemp(f"{name}-{mode.name}"), mode)


def assert_offline(html: str) -> None:
    """The page is one self-contained document that loads nothing from the network."""
    assert html.lstrip().lower().startswith("<!doctype html>")
    match = NETWORK_FETCH.search(html)
    assert match is None, f"card fetches from the network: {html[max(match.start() - 80, 0):match.end() + 80]}"
