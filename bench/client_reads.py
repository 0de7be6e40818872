"""Client reads with 1,000 runs of a flow stored: listing, latest_successful_run, one artifact.

    python bench/client_reads.py            # prints median (min-max) milliseconds per read

Records are written the way the runtime writes them (``SQLiteMetadata`` and the blob store);
only the oldest run succeeded, so ``latest_successful_run`` has to look past 999 others.
Times are taken after import and after one warm-up call, in the same process, as a notebook
user would see them.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from headwater.datastore import BlobStore, LocalStorage
from headwater.metadata import PARAMS_STEP, PARAMS_TASK, SQLiteMetadata, Status

RUNS = 1000
REPS = 25


def build(root: Path) -> None:
    md, blobs = SQLiteMetadata(root), BlobStore(LocalStorage(root))
    alpha, best = blobs.save(0.5), blobs.save({"accuracy": 0.9})
    with md.transaction():
        for i in range(1, RUNS + 1):
            run = md.new_run("BigFlow", user="bench", tags=["nightly"] if i % 10 == 0 else [],
                             system_tags=["user:bench"])
            md.new_task("BigFlow", run, PARAMS_TASK, PARAMS_STEP, status=Status.SUCCEEDED, finished=True)
            md.start_attempt("BigFlow", run, PARAMS_TASK, 0)
            md.finish_attempt("BigFlow", run, PARAMS_TASK, 0, status=Status.SUCCEEDED,
                              artifacts=[("alpha", alpha.key, alpha.type, alpha.size)])
            md.new_task("BigFlow", run, 1, "end", parents=[0])
            md.start_attempt("BigFlow", run, 1, 0)
            md.finish_attempt("BigFlow", run, 1, 0, status=Status.SUCCEEDED,
                              artifacts=[("best", best.key, best.type, best.size)])
            md.finish_run("BigFlow", run, Status.SUCCEEDED if i == 1 else Status.FAILED)
    md.close()


def timed(fn) -> str:
    fn()
    samples = []
    for _ in range(REPS):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return f"{statistics.median(samples):.2f} ms ({min(samples):.2f}-{max(samples):.2f})"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / ".headwater"
        build(root)
        os.environ["HEADWATER_HOME"] = str(root)
        os.environ["HEADWATER_USER"] = "bench"
        from headwater import Flow, Run

        rows = [
            ("list all 1,000 runs", lambda: list(Flow("BigFlow"))),
            ("runs with a tag", lambda: list(Flow("BigFlow").runs("nightly"))),
            ("latest_successful_run", lambda: Flow("BigFlow").latest_successful_run),
            ("Run('BigFlow/501').data.best", lambda: Run("BigFlow/501").data.best),
        ]
        print(f"Client reads, {RUNS} runs stored, median (min-max) of {REPS} after a warm-up:")
        for name, fn in rows:
            print(f"  {name:<32} {timed(fn)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
