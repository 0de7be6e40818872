"""With 1,000 runs stored, the common reads still give the right answers.

How fast they are is measured in bench/ (client workload), not asserted here.
"""

from __future__ import annotations

import pytest

from headwater.client import Flow, Run, namespace
from headwater.metadata import PARAMS_STEP, PARAMS_TASK, Status

N = 1000


@pytest.fixture
def many_runs(datastore):
    md, blobs = datastore.md, datastore.blobs
    alpha = blobs.save(0.5)
    best = blobs.save({"accuracy": 0.9})
    with md.transaction():
        for i in range(1, N + 1):
            user = "ana" if i % 2 else "bob"
            run = md.new_run("BigFlow", user=user, tags=["nightly"] if i % 10 == 0 else [],
                             system_tags=[f"user:{user}"])
            md.new_task("BigFlow", run, PARAMS_TASK, PARAMS_STEP, status=Status.SUCCEEDED, finished=True)
            md.start_attempt("BigFlow", run, PARAMS_TASK, 0)
            md.finish_attempt("BigFlow", run, PARAMS_TASK, 0, status=Status.SUCCEEDED,
                              artifacts=[("alpha", alpha.key, alpha.type, alpha.size)])
            md.new_task("BigFlow", run, 1, "end", parents=[0])
            md.start_attempt("BigFlow", run, 1, 0)
            md.finish_attempt("BigFlow", run, 1, 0, status=Status.SUCCEEDED,
                              artifacts=[("best", best.key, best.type, best.size),
                                         ("alpha", alpha.key, alpha.type, alpha.size)])
            # only the oldest run succeeded: latest_successful_run has to look past all the others
            md.finish_run("BigFlow", run, Status.SUCCEEDED if i == 1 else Status.FAILED)
    return datastore


def test_listing_runs(many_runs) -> None:
    assert len(list(Flow("BigFlow"))) == N // 2
    namespace(None)
    assert len(list(Flow("BigFlow"))) == N


def test_listing_runs_by_tag(many_runs) -> None:
    assert len(list(Flow("BigFlow").runs("nightly"))) == 0  # nightly runs are bob's (even numbers)
    namespace(None)
    assert len(list(Flow("BigFlow").runs("nightly"))) == N // 10


def test_latest_successful_run(many_runs) -> None:
    assert Flow("BigFlow").latest_successful_run.id == "1"
    assert Flow("BigFlow").latest_run.id == "999"


def test_reading_one_small_artifact(many_runs) -> None:
    assert Run("BigFlow/501").data.best == {"accuracy": 0.9}
    assert Run("BigFlow/501").parameters == {"alpha": 0.5}
