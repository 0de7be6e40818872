"""What a Ray step costs per task, next to raw Ray tasks and to the local fork executor.

    python bench/ray_overhead.py              # a 200-way foreach, 3 repetitions
    python bench/ray_overhead.py --quick      # 50-way, 2 repetitions

Starts a local Ray cluster (``scripts/raycluster.py``: 2 CPUs, in private namespaces when
root) and measures, alternating, medians over the repetitions:

- **Headwater on Ray**: ``flow.py run`` of a foreach over N tasks whose body is a ``@ray``
  step that loads the input artifact, adds to it and stores the result; per task is the time
  from the start step's end to the join's start, divided by N (the run's fixed costs, such as
  connecting to Ray, left out, as they are for raw Ray).
- **raw Ray**: the same N tasks as plain Ray tasks doing the same work on the same datastore
  (load the input blob, store the output blob), from the first submit to the last result, in
  a new job as each run is (Ray starts a job's workers afresh; that start is in both).
- **fork executor**: the same flow without ``@ray``, on this machine.

Prints a Markdown table; ``--readme`` also puts it in bench/README.md between the
``ray:start``/``ray:end`` markers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))
sys.path.insert(0, str(HERE))

FLOW = """
import json, os, time
from headwater import FlowSpec, step, ray

class WideRayFlow(FlowSpec):
    @step
    def start(self):
        self.payload = list(range(1000))
        self.items = list(range(N))
        self.split_at = time.time()
        self.next(self.body, foreach="items")

    @ray(cpu=1)
    @step
    def body(self):
        self.out = sum(self.payload) + self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        joined_at = time.time()
        with open(os.environ["BENCH_OUT"], "w") as f:
            json.dump({"span": joined_at - inputs[0].split_at, "n": len(inputs)}, f)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    WideRayFlow()
"""

RAW = """
import json, os, sys, time
import ray
from headwater.datastore.datastore import open_datastore

n, root = int(sys.argv[1]), sys.argv[2]
ray.init(address=os.environ["HEADWATER_RAY_ADDRESS"], log_to_driver=False, logging_level="ERROR")
key = open_datastore(root, create=True).blobs.save(list(range(1000))).key

@ray.remote(num_cpus=1)
def body(i):
    store = open_datastore(root).blobs
    return store.save(sum(store.load(key)) + i).key

start = time.time()  # from the first submit, in a new job, as the flow's foreach is timed
ray.get([body.remote(i) for i in range(n)])
print(json.dumps({"span": time.time() - start}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--readme", action="store_true", help="write the table into bench/README.md")
    args = ap.parse_args()
    n = 50 if args.quick else 200
    reps = args.reps or (2 if args.quick else 3)

    import raycluster

    scratch = Path(tempfile.mkdtemp(prefix="hw-bench-ray-"))
    cluster = raycluster.start(cpus=2)
    try:
        (scratch / "flow.py").write_text(FLOW.replace("N)", f"{n})"))
        (scratch / "local.py").write_text(FLOW.replace("N)", f"{n})").replace("    @ray(cpu=1)\n", ""))
        (scratch / "raw.py").write_text(RAW)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        env.update(cluster.env, HEADWATER_HOME=str(scratch / ".headwater"), HEADWATER_USER="bench",
                   BENCH_OUT=str(scratch / "out.json"))

        def flow(name: str) -> float:
            done = subprocess.run(cluster.command([sys.executable, name, "run", "--quiet", "--max-workers", "16",
                                                   "--max-num-splits", str(n)]),
                                  cwd=scratch, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed:\n{done.stdout}{done.stderr}")
            return json.loads((scratch / "out.json").read_text())["span"]

        def raw() -> float:
            done = subprocess.run(cluster.command([sys.executable, "raw.py", str(n), str(scratch / "raw-store")]),
                                  cwd=scratch, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"raw Ray failed:\n{done.stdout}{done.stderr}")
            return json.loads(done.stdout.strip().splitlines()[-1])["span"]

        flow("flow.py")  # warm-up: the workers start, the templates load
        raw()
        on_ray, raw_ray, local = [], [], []
        for _ in range(reps):
            on_ray.append(flow("flow.py"))
            raw_ray.append(raw())
            local.append(flow("local.py"))
    finally:
        cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    def per_task(values: list[float]) -> str:
        med = statistics.median(values) / n * 1000
        return f"{med:.1f} ({min(values) / n * 1000:.1f}–{max(values) / n * 1000:.1f})"

    ray_ms = statistics.median(on_ray) / n * 1000
    raw_ms = statistics.median(raw_ray) / n * 1000
    local_ms = statistics.median(local) / n * 1000
    table = "\n".join([
        f"Measured {datetime.date.today().isoformat()} with `python bench/ray_overhead.py"
        f"{' --quick' if args.quick else ''}` (a local Ray cluster of 2 CPUs; medians of {reps}, "
        "ms per task, min–max in brackets).",
        "",
        f"| {n}-way foreach, per task | ms | vs raw Ray |",
        "|---|---|---|",
        f"| Headwater, `@ray` step | {per_task(on_ray)} | {ray_ms / raw_ms:.2f}x |",
        f"| raw Ray tasks, same loads and saves | {per_task(raw_ray)} | 1.00x |",
        f"| Headwater, fork executor (no Ray) | {per_task(local)} | {local_ms / raw_ms:.2f}x |",
    ])
    print(table)
    if args.readme:
        import report

        report.put_block(HERE / "README.md", "ray", "Ray", table)


if __name__ == "__main__":
    main()
