"""A test that needs what this machine lacks is skipped with the command that installs it, the
run ends by listing those reasons, and under CI the same skip is a failure.

Checked on a tiny suite run by a real pytest in a subprocess, with this suite's hooks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def run_suite(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(
        "from skips import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401\n")
    (tmp_path / "test_needs.py").write_text(textwrap.dedent("""
        from harness import need_module, unavailable

        def test_needs_a_server():
            unavailable("the frobnicator server is not installed", "pip install frobnicator")

        def test_needs_a_module():
            need_module("no_such_module_for_headwater_tests")

        def test_needs_nothing():
            pass
    """))
    base = {k: v for k, v in os.environ.items() if k != "CI"}
    path = os.pathsep.join(filter(None, [str(TESTS), base.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
                           str(tmp_path / "pytest.ini"), str(tmp_path)],
                          cwd=tmp_path, env={**base, "PYTHONPATH": path, **env},
                          capture_output=True, text=True, timeout=120)


def test_missing_pieces_are_skipped_and_listed_with_how_to_install_them(tmp_path: Path) -> None:
    done = run_suite(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "tests that did not run on this machine" in out
    assert "1 skipped: the frobnicator server is not installed; to run these tests: pip install frobnicator" in out
    assert ("1 skipped: no_such_module_for_headwater_tests is not installed; to run these tests: "
            "pip install -e '.[test]'") in out
    assert out.rstrip().splitlines()[-1].startswith("1 passed, 2 skipped"), "pytest's own count stays last"


def test_in_ci_a_skip_is_a_failure(tmp_path: Path) -> None:
    done = run_suite(tmp_path, CI="true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not run in CI, where every test must run: the frobnicator server is not installed" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("2 failed, 1 passed"), done.stdout
