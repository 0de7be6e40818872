"""What every test directory shares: the executors the end-to-end suites run against.

The runtime and failure suites run each flow on both process executors, through the
environment twin of ``--executor`` (``HEADWATER_EXECUTOR``): a flow must behave the same
whether its tasks are forked from a warm template or started in fresh interpreters. A test
about one executor's own mechanics is marked ``fork_only`` and runs on the fork executor alone.
"""

from __future__ import annotations

import pytest

EXECUTORS = ("fork", "subprocess")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fork_only: tests the fork executor's own mechanics")


@pytest.fixture(scope="module", params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    """The executor the flows of this module run on (each module runs once per executor)."""
    return request.param


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    dropped = [item for item in items if item.get_closest_marker("fork_only")
               and getattr(item, "callspec", None) is not None
               and item.callspec.params.get("executor", "fork") != "fork"]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
