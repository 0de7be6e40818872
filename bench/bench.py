"""Benchmark Headwater against Metaflow on the same flows, changing only the import line.

    bench/run                   # the full set; writes bench/results/*.json and bench/README.md
    bench/run --quick           # a reduced set in under two minutes
    bench/run --only foreach    # one workload (or family); README left alone
    bench/run --render FILE     # re-render README.md from a saved results file

See bench/README.md for what each row measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import report
from workloads import FULL, QUICK, BenchFailure, Ctx, Tool, Workload, all_workloads, install_flow

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
README = BENCH_DIR / "README.md"
FIXED_ENV = {
    "USERNAME": "bench",
    "HEADWATER_USER": "bench",
    "METAFLOW_DEFAULT_DATASTORE": "local",
    "METAFLOW_DEFAULT_METADATA": "local",
    "PYTHONUNBUFFERED": "1",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- tools -------------------------------------------------------------------------------


def ensure_venv(name: str, packages: list[str], probe: str) -> str:
    """A venv's python, creating it and installing ``packages`` from PyPI if needed.

    Both tools run from a virtual environment of their own, so each interpreter starts with
    the same (bare) site setup and neither pays for what the other's environment loads.
    """
    venv = BENCH_DIR / f".venv-{name}"
    python = venv / "bin" / "python"
    if python.exists() and _imports(str(python), probe):
        return str(python)
    log(f"installing {' '.join(packages)} into {venv.relative_to(REPO)} ...")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *packages], check=True)
    return str(python)


def _imports(python: str, modules: str) -> bool:
    probe = subprocess.run([python, "-c", f"import {modules}"], capture_output=True)
    return probe.returncode == 0


def module_version(python: str, module: str) -> str:
    code = f"import {module}; print({module}.__version__)"
    probe = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if probe.returncode != 0:
        return "unavailable (import failed)"
    return probe.stdout.strip()


def python_version(python: str) -> str:
    code = "import platform; print(platform.python_version())"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def make_tools(s3: bool = False) -> list[Tool]:
    extra, probe = (["boto3"], ", boto3") if s3 else ([], "")
    mf_python = ensure_venv("metaflow", ["metaflow", "numpy", *extra], "metaflow, numpy" + probe)
    # Editable, so the bench always measures the checkout's current code.
    hw_python = ensure_venv("headwater", ["-e", f"{REPO}[s3]" if s3 else str(REPO), "numpy"],
                            "headwater.task, numpy" + probe)
    # pip compiled Metaflow's modules to .pyc when it installed them; an editable checkout has
    # none (and PYTHONDONTWRITEBYTECODE may forbid writing them), so compile ours the same way.
    subprocess.run([hw_python, "-m", "compileall", "-q", str(REPO / "src" / "headwater")], check=True)
    return [
        Tool("metaflow", "Metaflow", mf_python, module_version(mf_python, "metaflow"), ".metaflow"),
        Tool("headwater", "Headwater", hw_python, module_version(hw_python, "headwater"), ".headwater"),
    ]


def base_env(scratch: Path) -> dict[str, str]:
    """The caller's environment without either tool's settings, plus the bench's own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_"))}
    home = scratch / "metaflow-home"  # no ~/.metaflowconfig profile can leak in
    home.mkdir(exist_ok=True)
    return {**env, **FIXED_ENV, "METAFLOW_HOME": str(home)}


# --- running -----------------------------------------------------------------------------


class ToolRun:
    """One tool's state within one workload: its working directory, reps and errors."""

    def __init__(self, workload: Workload, tool: Tool, root: Path, env: dict[str, str],
                 timeout: float) -> None:
        self.workload, self.tool = workload, tool
        self.root = root / workload.name / tool.key
        self.env, self.timeout = env, timeout
        self.reps: list[dict[str, float]] = []
        self.warmup: dict[str, float] | None = None
        self.errors: list[str] = []
        self.stopped = False  # set by a failure that measured nothing: skip the other reps
        self.ctx = self._new_ctx("main")

    def _new_ctx(self, name: str) -> Ctx:
        env = self.env
        if self.workload.s3:
            env = {**env, **s3_settings(self.tool, f"{self.workload.name}-{self.tool.key}-{name}")}
        ctx = Ctx(tool=self.tool, home=self.root / name, env=env, timeout=self.timeout)
        install_flow(self.workload.flow, self.tool, ctx.workdir)
        return ctx

    def attempt(self, what: str, action: Callable[[Ctx], Any]) -> Any:
        """Run action(ctx). A failure is recorded and shown (once per distinct message);
        its partial metrics are returned, and if there are none the tool stops here."""
        if self.stopped:
            return None
        try:
            return action(self.ctx)
        except BenchFailure as failure:
            if str(failure) not in self.errors:
                log(f"  ✗ {self.tool.label} failed {self.workload.name} ({what}): {failure}")
            self.errors.append(str(failure))
            self.stopped = not failure.partial
            return failure.partial or None

    def setup(self) -> None:
        if self.workload.setup is not None:
            started = time.perf_counter()
            self.attempt("setup", self.workload.setup)
            log(f"  {self.tool.label} setup took {time.perf_counter() - started:.1f} s")

    def repetition(self, label: str) -> dict[str, float] | None:
        if self.workload.fresh_dir_per_rep and not self.stopped:
            shutil.rmtree(self.ctx.home, ignore_errors=True)
            self.ctx = self._new_ctx(label)
        return self.attempt(label, self.workload.measure)

    def as_json(self) -> dict[str, Any]:
        return {"version": self.tool.version, "warmup": self.warmup, "reps": self.reps,
                "errors": self.errors}


def describe(values: dict[str, float], workload: Workload) -> str:
    units = {m.key: m.unit for m in workload.metrics}
    return "  ".join(f"{k}={report.format_value(v, units[k])} {units[k]}"
                     for k, v in values.items())


def run_workload(workload: Workload, tools: list[Tool], args: argparse.Namespace,
                 root: Path, env: dict[str, str]) -> dict[str, Any]:
    log(f"\n== {workload.name}: {workload.title}")
    runs = [ToolRun(workload, tool, root, env, args.timeout) for tool in tools]
    for run in runs:
        run.setup()
    for label in ["warmup", *(f"rep{i}" for i in range(1, args.reps + 1))]:
        for run in runs:  # alternate the tools within each repetition
            values = run.repetition(label)
            if values is None:
                continue
            if label == "warmup":
                run.warmup = values
            else:
                run.reps.append(values)
            if args.verbose:
                log(f"  {label:<6} {run.tool.label:<9} {describe(values, workload)}")
    if not args.keep:
        shutil.rmtree(root / workload.name, ignore_errors=True)
    return {
        "name": workload.name,
        "title": workload.title,
        "metrics": [asdict(m) for m in workload.metrics],
        "tools": {run.tool.key: run.as_json() for run in runs},
    }


def selected(workloads: list[Workload], only: list[str] | None) -> list[Workload]:
    if not only:
        return workloads
    wanted = [w for w in workloads
              if w.name in only or w.name.split("-")[0] in only or ("s3" in only and w.s3)]
    if not wanted:
        names = ", ".join(w.name for w in workloads)
        sys.exit(f"--only matched no workload; choose from: {names}")
    return wanted


def metadata(tools: list[Tool], args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": report.cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": report.memory_gib(),
        "os": platform.platform(),
        "python": python_version(tools[1].python),
        "python_metaflow_venv": python_version(tools[0].python),
        "metaflow_version": tools[0].version,
        "headwater_version": tools[1].version,
        "quick": args.quick,
        "reps": args.reps,
        "only": args.only,
    }


def save(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / time.strftime("%Y%m%d-%H%M%S.json")
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    workloads = selected(all_workloads(sizes), args.only)
    tools = make_tools(s3=any(w.s3 for w in workloads))
    for tool in tools:
        log(f"{tool.label} {tool.version} via {tool.python}")
    root = Path(tempfile.mkdtemp(prefix="headwater-bench-", dir=args.workdir))
    env = base_env(root)
    raw = None
    try:
        if any(w.s3 for w in workloads):
            start_s3(root)
            raw = measure_raw_s3(tools[1].python, sizes.array_mib, args.reps)
        results = [run_workload(w, tools, args, root, env) for w in workloads]
    finally:
        stop_s3()
        if args.keep:
            log(f"working directories kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    out = {"meta": metadata(tools, args), "workloads": results}
    if raw is not None:
        out["raw_s3"] = raw
    return out


# --- the S3 server both tools use --------------------------------------------------------

_S3: list[Any] = []


def start_s3(root: Path) -> None:
    """SeaweedFS on 127.0.0.1 (scripts/s3server.py), for every S3 workload of this run."""
    sys.path.insert(0, str(REPO / "scripts"))
    import s3server

    server = s3server.start(str(root / "s3"))
    log(f"S3 server (SeaweedFS) on {server.endpoint}, bucket {server.bucket}")
    _S3.append(server)


def stop_s3() -> None:
    while _S3:
        _S3.pop().stop()


def s3_settings(tool: Tool, name: str) -> dict[str, str]:
    """Each tool's own settings for the same server: its datastore under its own prefix."""
    server = _S3[0]
    creds = {"AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
             "AWS_DEFAULT_REGION": "us-east-1"}
    root = f"s3://{server.bucket}/{name}"
    if tool.key == "metaflow":
        return {**creds, "METAFLOW_DEFAULT_DATASTORE": "s3", "METAFLOW_DATASTORE_SYSROOT_S3": root,
                "METAFLOW_S3_ENDPOINT_URL": server.endpoint}
    return {**creds, "HEADWATER_DEFAULT_DATASTORE": "s3", "HEADWATER_DATASTORE_SYSROOT_S3": root,
            "HEADWATER_S3_ENDPOINT_URL": server.endpoint}


RAW_SCRIPT = """
import os, sys, time, boto3
from boto3.s3.transfer import TransferConfig
import io
n = int(sys.argv[1]) * 2**20
data = os.urandom(n)
c = boto3.session.Session().client("s3", endpoint_url=os.environ["EP"],
    aws_access_key_id=os.environ["AK"], aws_secret_access_key=os.environ["SK"], region_name="us-east-1")
cfg = TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=16 << 20, max_concurrency=16)
t = time.perf_counter(); c.upload_fileobj(io.BytesIO(data), os.environ["B"], "raw/blob", Config=cfg)
up = time.perf_counter() - t
buf = io.BytesIO()
t = time.perf_counter(); c.download_fileobj(os.environ["B"], "raw/blob", buf, Config=cfg)
down = time.perf_counter() - t
assert buf.getbuffer().nbytes == n
print(up, down)
"""


def measure_raw_s3(python: str, mib: int, reps: int) -> dict[str, Any]:
    """The server's raw limit: boto3's own managed transfer of the same number of bytes,
    from and to memory, 16 MiB parts, 16 threads."""
    server = _S3[0]
    env = {**os.environ, "EP": server.endpoint, "AK": server.access_key, "SK": server.secret_key,
           "B": server.bucket}
    ups, downs = [], []
    for _ in range(reps + 1):  # the first is a warm-up
        out = subprocess.run([python, "-c", RAW_SCRIPT, str(mib)], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        ups.append(float(out[0]))
        downs.append(float(out[1]))
    log(f"raw boto3 on this server, {mib} MiB: upload {ups[1:]} s, download {downs[1:]} s")
    return {"mib": mib, "upload": ups[1:], "download": downs[1:]}


# --- command line ------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run", description="Benchmark Headwater against Metaflow.")
    parser.add_argument("--quick", action="store_true",
                        help="reduced set (smaller N, 128 MiB array, 2 reps), under two minutes")
    parser.add_argument("--reps", type=int, default=None,
                        help="timed repetitions per tool after one warm-up (default 3, quick 2)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this workload or family (hello, foreach, foreach-100, "
                             "bigarray, artifacts, resume, client); repeatable")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds before one command is killed (default 1800)")
    parser.add_argument("--workdir", default=None,
                        help="where to make the temporary working directories (default: $TMPDIR)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the working directories (datastores, logs) for inspection")
    parser.add_argument("--no-readme", action="store_true",
                        help="do not update bench/README.md")
    parser.add_argument("--render", metavar="RESULTS_JSON",
                        help="only re-render README.md from a saved results file")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print every repetition's raw numbers")
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = 2 if args.quick else 3
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.render:
        results = json.loads(Path(args.render).read_text())
    else:
        results = run_bench(args)
        log(f"\nresults saved to {save(results).relative_to(BENCH_DIR.parent)}")
    print("\n" + report.header(results["meta"]) + "\n\n" + report.table(results)
          + "\n\n" + report.raw_s3_table(results), flush=True)
    if args.no_readme or results["meta"].get("only"):
        log("README.md not updated (--only or --no-readme)")
    else:
        report.update_readme(README, results)
        log(f"table written to {README.relative_to(BENCH_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
