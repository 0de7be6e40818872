"""Every example in examples/ runs as its docstring says (the README points users at them)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from harness import base_env

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ROOT = EXAMPLES.parent

# example -> (arguments, what its output must show); each runs from the repository's root.
LOCAL = {
    "hello.py": (["run"], "succeeded"),
    "branches.py": (["run"], "succeeded"),
    "conditional.py": (["run", "--target", "40"], "succeeded"),
    "foreach_nested.py": (["run"], "succeeded"),
    "inputs.py": (["run", "--alpha", "0.2", "--cities", "examples/cities.csv"], "succeeded"),
    "cards.py": (["run"], "succeeded"),
    "train.py": (["run"], "succeeded"),
}


def _run(example: str, args: list[str], env: dict[str, str], command: object = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(EXAMPLES / example), *args]
    argv = command(argv) if command is not None else argv  # type: ignore[operator]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_every_example_is_covered_here():
    names = {p.name for p in EXAMPLES.glob("*.py")}
    assert names == {*LOCAL, "failures.py", "s3_helper.py", "ray_parallel.py"}, \
        "a new example needs a line in this test"


@pytest.mark.parametrize("example", sorted(LOCAL))
def test_a_local_example_runs(example, tmp_path):
    args, shows = LOCAL[example]
    done = _run(example, args, base_env(tmp_path / ".headwater"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert shows in done.stdout


def test_the_failures_example_fails_then_resumes(tmp_path):
    env = base_env(tmp_path / ".headwater")
    failed = _run("failures.py", ["run"], env)
    assert failed.returncode != 0 and "Resume:" in failed.stdout, failed.stdout + failed.stderr
    resumed = _run("failures.py", ["resume"], {**env, "FIXED": "1"})
    assert resumed.returncode == 0 and "succeeded" in resumed.stdout, resumed.stdout + resumed.stderr


def test_the_s3_helper_example_runs_on_s3(tmp_path, s3_server):
    env = {**base_env(tmp_path / ".headwater"), **s3_server.env}
    root = f"s3://{s3_server.bucket}/examples-{uuid.uuid4().hex[:8]}"
    done = _run("s3_helper.py", ["--datastore-root", root, "run"], env)
    assert done.returncode == 0 and "succeeded" in done.stdout, done.stdout + done.stderr


def test_the_ray_example_runs_on_a_cluster(tmp_path, ray_cluster):
    env = {**base_env(tmp_path / ".headwater"), **ray_cluster.env}
    done = _run("ray_parallel.py", ["run"], env, ray_cluster.command)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "node 1 of 2" in done.stdout and "fitted slope: 3.0" in done.stdout
    assert os.path.isdir(tmp_path / ".headwater")
