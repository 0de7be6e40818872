"""A plain run, resume or check stays off the modules that make start-up slow.

Most of a small run's wall time is Python importing modules, so the run path avoids click
(parsed by ``cli/options.py``), ``typing``, ``dataclasses``/``inspect``, ``pathlib`` and
``tarfile``
(see docs/architecture.md). Speed itself is measured in ``bench/``; this only checks,
with ``python -X importtime``, that no change brings those imports back.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

# The start-up path of a run on local files: an S3 run imports boto3 as it must.
pytestmark = pytest.mark.local_only

SLOW = ("click", "typing", "dataclasses", "inspect", "pathlib", "rich", "headwater.client")

FLOW = """
import os


class StartupFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.x = self.alpha
        self.next(self.end)

    @step
    def end(self):
        assert os.environ.get("FAIL") != "1", "failing on purpose"
        print("x is", self.x)


if __name__ == "__main__":
    StartupFlow()
"""


def imported(fd, *args: str) -> set[str]:
    """Modules the command imports beyond what this interpreter loads for ``-c pass``
    (a ``.pth`` file in site-packages may import some of them before any user code)."""
    return _imports(fd, "flow.py", *args) - _imports(fd, "-c", "pass")


def _imports(fd, *args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=fd.path,
                          env=fd.env(FAIL="0"), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", proc.stderr, re.M))


def slow(modules: set[str]) -> set[str]:
    return {m for m in modules if m in SLOW or m.split(".")[0] in SLOW}


@pytest.mark.parametrize("args", [("run", "--alpha", "3", "--tag", "t"), ("check",)],
                         ids=["run", "check"])
def test_plain_commands_skip_the_slow_imports(fd, args):
    fd.write(FLOW)
    modules = imported(fd, *args)
    assert "headwater.lint" in modules
    assert not slow(modules)


def test_resume_skips_the_slow_imports(fd):
    fd.write(FLOW)
    assert fd.run(env=fd.env(FAIL="1")).returncode != 0
    modules = imported(fd, "resume")
    assert "headwater.runtime.resume" in modules
    assert not slow(modules)


def test_help_still_comes_from_click(fd):
    fd.write(FLOW)
    modules = imported(fd, "run", "--help")
    assert "click" in modules
