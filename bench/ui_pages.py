"""Server time of every kind of UI page over a datastore with 1,000 runs and a 2,000-way foreach.

    python bench/ui_pages.py                 # build a datastore in a temporary directory, time pages
    python bench/ui_pages.py --reps 50       # more requests per page
    python bench/ui_pages.py --keep DIR      # build (or reuse) the datastore in DIR

Records are written the way the runtime writes them (through ``SQLiteMetadata`` and the blob
store), which takes seconds instead of the minutes 1,000 real runs would. Each run of
``BenchFlow`` has 8 tasks (start, a 5-way foreach, a join, end) with artifacts, logs and tags;
``BigFlow/1`` has a 2,000-way foreach. A real server runs on 127.0.0.1; each page is requested
``--reps`` times and the ``Server-Timing`` header the server adds is reported (median and max,
in milliseconds), next to the time the whole request took.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

from headwater.datastore import BlobStore, LocalStorage
from headwater.datastore.datastore import open_datastore
from headwater.metadata import PARAMS_STEP, PARAMS_TASK, SQLiteMetadata, Status

RUNS = 1000
SPLITS = 5
BIG = 2000
GRAPH = {"name": "BenchFlow", "steps": [
    {"name": "start", "type": "foreach", "next": ["train"], "foreach": "shards"},
    {"name": "train", "type": "linear", "next": ["join"]},
    {"name": "join", "type": "join", "next": ["end"]},
    {"name": "end", "type": "end", "next": []}]}


def build(root: Path) -> None:
    md = SQLiteMetadata(root)
    blobs = BlobStore(LocalStorage(root))
    alpha, score, best = blobs.save(0.5), blobs.save(0.91), blobs.save({"accuracy": 0.9, "f1": 0.8})
    shards = blobs.save(list(range(SPLITS)))

    def art(name: str, ref) -> tuple[str, str, str, int]:  # noqa: ANN001
        return (name, ref.key, ref.type, ref.size)

    started = time.time()
    for flow, count, splits in (("BenchFlow", RUNS, SPLITS), ("BigFlow", 1, BIG)):
        graph = {**GRAPH, "name": flow}
        with md.transaction():
            for i in range(count):
                user = "ana" if i % 2 else "bob"
                tags = ["nightly"] if i % 10 == 0 else []
                run = md.new_run(flow, user=user, tags=tags, system_tags=[f"user:{user}", "runtime:local"],
                                 graph=graph)
                md.new_task(flow, run, PARAMS_TASK, PARAMS_STEP, status=Status.SUCCEEDED, finished=True)
                md.start_attempt(flow, run, PARAMS_TASK, 0)
                md.finish_attempt(flow, run, PARAMS_TASK, 0, status=Status.SUCCEEDED, artifacts=[art("alpha", alpha)])
                tid = 1
                md.new_task(flow, run, tid, "start", parents=[0])
                md.start_attempt(flow, run, tid, 0, host="bench", pid=1)
                md.finish_attempt(flow, run, tid, 0, status=Status.SUCCEEDED,
                                  artifacts=[art("alpha", alpha), art("shards", shards)])
                children = []
                for k in range(splits):
                    tid += 1
                    frames = [{"task": 1, "step": "start", "var": "shards", "index": k, "num_splits": splits,
                               "value": k}]
                    md.new_task(flow, run, tid, "train", foreach_stack=frames, parents=[1])
                    md.start_attempt(flow, run, tid, 0, host="bench", pid=tid)
                    failed = flow == "BigFlow" and k % 700 == 7
                    md.finish_attempt(flow, run, tid, 0, status=Status.FAILED if failed else Status.SUCCEEDED,
                                      artifacts=[art("alpha", alpha), art("score", score)])
                    children.append(tid)
                tid += 1
                md.new_task(flow, run, tid, "join", parents=children)
                md.start_attempt(flow, run, tid, 0, host="bench", pid=tid)
                md.finish_attempt(flow, run, tid, 0, status=Status.SUCCEEDED, artifacts=[art("best", best)])
                tid += 1
                md.new_task(flow, run, tid, "end", parents=[tid - 1])
                md.start_attempt(flow, run, tid, 0, host="bench", pid=tid)
                md.finish_attempt(flow, run, tid, 0, status=Status.SUCCEEDED,
                                  artifacts=[art("best", best), art("alpha", alpha)])
                md.finish_run(flow, run, Status.SUCCEEDED if i % 7 else Status.FAILED)
                if i == count // 2 or flow == "BigFlow":
                    writer = open_datastore(root).log_writer(flow, run, "train", 2, 0, "stdout")
                    for line in range(2000):
                        writer.write(time.time(), f"epoch {line} loss {1 / (line + 1):.5f}")
                    writer.close()
    md.close()
    print(f"built {RUNS} runs of BenchFlow and a {BIG}-way foreach in {time.time() - started:.1f} s", file=sys.stderr)


def timed(conn: http.client.HTTPConnection, path: str) -> tuple[int, float, float]:
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    wall = (time.perf_counter() - started) * 1000
    server = float(response.getheader("server-timing", "app;dur=nan").split("dur=")[1])
    return response.status, server, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--keep", type=Path, default=None, help="build the datastore here (reused if present)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="hw-ui-bench-"))
    root = folder / ".headwater"
    if not (root / "metadata.db").exists():
        root.mkdir(parents=True, exist_ok=True)
        build(root)

    from headwater.ui.server import start_in_thread

    mid = RUNS // 2 + 1
    big_first, big_last = 2, BIG + 1
    pages = [
        ("flows", "/"),
        ("runs, page 1", "/BenchFlow"),
        ("runs, page 10", "/BenchFlow?page=10"),
        ("runs, tag filter", "/BenchFlow?tag=nightly"),
        ("runs, status+user", "/BenchFlow?status=failed&user=bob"),
        ("runs, live part", "/BenchFlow?part=live"),
        ("run", f"/BenchFlow/{mid}"),
        ("run, live part", f"/BenchFlow/{mid}?part=live"),
        ("step", f"/BenchFlow/{mid}/train"),
        ("task (2,000-line log)", f"/BenchFlow/{mid}/train/2"),
        ("artifact", f"/BenchFlow/{mid}/join/{SPLITS + 2}/best"),
        ("log lines JSON", f"/_hw/log/BenchFlow/{mid}/train/2/0/stdout?offset=0"),
        ("2,000-way run", "/BigFlow/1"),
        ("2,000-way step, page 1", "/BigFlow/1/train"),
        ("2,000-way step, page 20", "/BigFlow/1/train?page=20"),
        ("2,000-way step, failed", "/BigFlow/1/train?status=failed"),
        ("task with 2,000 children", "/BigFlow/1/start/1"),
        ("join of 2,000", f"/BigFlow/1/join/{big_last + 1}"),
        ("a foreach task", f"/BigFlow/1/train/{big_first + 999}"),
        ("not found", "/BenchFlow/99999"),
    ]
    server = start_in_thread(root)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        print(f"{'page':<28} {'status':>6} {'server ms (median / max)':>26} {'request ms':>11}")
        worst = 0.0
        for label, path in pages:
            timed(conn, path)  # warm up
            results = [timed(conn, path) for _ in range(args.reps)]
            server_ms = [r[1] for r in results]
            wall_ms = [r[2] for r in results]
            worst = max(worst, max(server_ms))
            print(f"{label:<28} {results[0][0]:>6} {statistics.median(server_ms):>15.1f} / {max(server_ms):>7.1f}"
                  f" {statistics.median(wall_ms):>11.1f}")
        conn.close()
        print(f"slowest page: {worst:.1f} ms of server time")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
