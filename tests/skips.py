"""Pytest hooks for tests that need what a machine may lack (registered by ``conftest.py``).

Such a test calls :func:`harness.unavailable` (or ``need_module``), which skips it with the
command that installs what is missing. At the end of the run every reason is listed once with
its count. Under CI (``CI`` set, as ``.ci/run`` runs) every test must run: a skip is reported
as a failure, so a server or package missing from CI's machine cannot pass unseen.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """In CI every test must run: a skip (something missing on the machine) is a failure."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"not run in CI, where every test must run: {_reason(report)}"


def pytest_terminal_summary(terminalreporter: object, exitstatus: int, config: pytest.Config) -> None:
    """Say what did not run here and how to install it, one line per reason."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):  # type: ignore[attr-defined]
        reasons[_reason(report)] += 1
    if not reasons:
        return
    write = terminalreporter.write_line  # type: ignore[attr-defined]
    terminalreporter.section("tests that did not run on this machine")  # type: ignore[attr-defined]
    for reason, count in reasons.most_common():
        write(f"{count:5d} skipped: {reason}")
    write("(CI runs them all: there a missing server or package is a failure.)")


def _reason(report: pytest.TestReport) -> str:
    """The text given to ``pytest.skip`` (a skip's ``longrepr`` is ``(path, line, text)``)."""
    text = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return text.removeprefix("Skipped: ")
