"""What recording runs through the metadata service costs, next to local SQLite.

    python bench/service.py              # foreach-300, 3 repetitions, 20,000 records
    python bench/service.py --quick      # foreach-100, 2 repetitions, 5,000 records

Starts a throw-away PostgreSQL (``scripts/pgserver.py``) and ``headwater service`` on it, on
127.0.0.1, then measures, with this Python's Headwater (it needs ``headwater[service]``):

- **per task**: the wall time of ``flow.py run`` of a foreach over N trivial tasks (as the
  foreach workload of ``bench/run``), with local metadata (SQLite) and with
  ``--metadata service``, alternating, medians over the repetitions; the difference divided by
  N is what the service adds per task.
- **task records per second**: 4 writer processes record tasks as a scheduler does (a task,
  its attempt started, its attempt finished with 3 artifacts) through the service's client,
  as fast as they can; records per second from the first write until every process has
  flushed. The same against one SQLite database, for scale.

Prints a Markdown table; ``--readme`` also puts it in bench/README.md between the
``service:start``/``service:end`` markers.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))
sys.path.insert(0, str(HERE))

FLOW = """
from headwater import FlowSpec, step

class WideFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range({n}))
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        assert self.total == {n} * ({n} - 1)

if __name__ == "__main__":
    WideFlow()
"""

WRITER = """
import os, sys, time
from headwater.metadata import open_writer, Status
where, flow, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
md = open_writer(where)
run = md.new_run(flow, user="bench", tags=[], system_tags=[])
arts = [("a", "k" * 40, "builtins.int", 10), ("b", "k" * 40, "builtins.str", 20), ("c", "k" * 40, "builtins.list", 30)]
for task in range(1, count + 1):
    with md.transaction():
        md.new_task(flow, run, task, "each", parents=[0])
        md.start_attempt(flow, run, task, 0)
    md.finish_attempt(flow, run, task, 0, status=Status.SUCCEEDED, artifacts=arts, transition={"next": ["join"]})
md.close()
"""

WRITERS = 4


def env_for(home: Path, service: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update(HEADWATER_HOME=str(home), HEADWATER_USER="bench")
    if service:
        env.update(HEADWATER_DEFAULT_METADATA="service", HEADWATER_SERVICE_URL=service)
    return env


def timed_run(workdir: Path, n: int, service: str | None) -> float:
    home = workdir / ("svc" if service else "local")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "flow.py", "run", "--quiet", "--max-workers", "16",
                           "--max-num-splits", str(n)], cwd=workdir, env=env_for(home, service),
                          capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the run failed:\n{done.stdout}{done.stderr}")
    return took


def records_per_second(where: str, count: int, home: Path) -> float:
    env = env_for(home, None)
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, where, f"Load{i}", str(count // WRITERS)], env=env)
             for i in range(WRITERS)]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit("a writer failed")
    return (count // WRITERS) * WRITERS / (time.perf_counter() - start)


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--readme", action="store_true", help="write the table into bench/README.md")
    args = ap.parse_args()
    n = 100 if args.quick else 300
    reps = args.reps or (2 if args.quick else 3)
    count = 5000 if args.quick else 20000

    import pgserver

    scratch = Path(tempfile.mkdtemp(prefix="hw-bench-service-"))
    pg = pgserver.start()
    service = None
    try:
        database = pg.create_database("bench")
        service = subprocess.Popen([sys.executable, "-m", "headwater", "service", "--database", database,
                                    "--port", "0", "--no-ui"], stdout=subprocess.PIPE, text=True)
        url = None
        while url is None:
            line = service.stdout.readline()
            if not line:
                raise SystemExit("the service did not start")
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            url = found.group(0) if found else None
        (scratch / "flow.py").write_text(FLOW.replace("{n}", str(n)))
        timed_run(scratch, n, None)  # warm-up of both
        timed_run(scratch, n, url)
        local, remote = [], []
        for _ in range(reps):
            local.append(timed_run(scratch, n, None))
            remote.append(timed_run(scratch, n, url))
        sqlite_rate = records_per_second(str(scratch / "load-sqlite"), count, scratch)
        service_rate = records_per_second(url, count, scratch)
    finally:
        if service is not None:
            service.terminate()
            service.wait(timeout=30)
        pg.remove()
        shutil.rmtree(scratch, ignore_errors=True)

    per_local = statistics.median(local) / n * 1000
    per_remote = statistics.median(remote) / n * 1000
    today = datetime.date.today().isoformat()
    table = "\n".join([
        f"Measured {today} with `python bench/service.py{' --quick' if args.quick else ''}` "
        f"(medians of {reps}; PostgreSQL {pg.bindir.split('/')[-2] if '/usr/lib/' in pg.bindir else ''} "
        "with fsync off, service and run on one machine).",
        "",
        "| row | local SQLite | metadata service | ratio |",
        "|---|---|---|---|",
        f"| foreach-{n} `flow.py run` wall, s | {median(local)} | {median(remote)} | "
        f"{statistics.median(remote) / statistics.median(local):.2f}x |",
        f"| per task, ms | {per_local:.1f} | {per_remote:.1f} | {per_remote / per_local:.2f}x |",
        f"| task records per second ({WRITERS} writers, {count:,} tasks) | {sqlite_rate:,.0f} | "
        f"{service_rate:,.0f} | {service_rate / sqlite_rate:.2f}x |",
    ])
    print(table)
    if args.readme:
        import report

        report.put_block(HERE / "README.md", "service", "The metadata service", table)


if __name__ == "__main__":
    main()
