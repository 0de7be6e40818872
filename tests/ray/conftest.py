"""Flows with ``@ray`` steps on the session's real local Ray cluster (``ray_cluster`` in
``tests/conftest.py``). Commands run inside the cluster's private network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness import FlowDir


class RayDir(FlowDir):
    """A flow directory whose commands reach the cluster (``HEADWATER_RAY_ADDRESS``)."""

    HEADER = "from headwater import FlowSpec, step, Parameter, current, ray, resources\n"

    def __init__(self, path: Path, cluster: Any) -> None:
        super().__init__(path)
        self.cluster = cluster
        self.mode_env = dict(cluster.env)

    def command(self, argv: list[str]) -> list[str]:
        return self.cluster.command(argv)


@pytest.fixture
def rd(tmp_path: Path, ray_cluster: Any) -> RayDir:
    return RayDir(tmp_path, ray_cluster)
