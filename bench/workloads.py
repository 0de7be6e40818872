"""The benchmark workloads: what each one runs, what it measures and how it checks the result.

A workload's `measure` runs one repetition for one tool inside that tool's working directory
and returns metric values in base units (seconds, bytes). It raises BenchFailure when a
command fails or the flow computed the wrong thing, so a broken tool costs a cell, not the
whole bench.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procs import CmdResult, disk_usage, run_cmd

FLOWS_DIR = Path(__file__).resolve().parent / "flows"
TEMPLATE_IMPORT = "from metaflow import"


class BenchFailure(Exception):
    """One tool failed one workload; the message says why (with the command's stderr).

    `partial` holds the metrics measured before or despite the failure: they still count.
    """

    def __init__(self, message: str, partial: dict[str, float] | None = None) -> None:
        super().__init__(message)
        self.partial = partial or {}


@dataclass(frozen=True)
class Tool:
    key: str  # the module name: "metaflow" or "headwater"
    label: str
    python: str
    version: str
    datastore_dir: str  # the local datastore a run creates in its working directory


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # "s", "ms" (stored as seconds) or "MiB" (stored as bytes)


@dataclass
class Ctx:
    """Where and how one tool runs one workload."""

    tool: Tool
    home: Path
    env: dict[str, str]
    timeout: float
    log_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def workdir(self) -> Path:
        """The commands' working directory: the flow file and the tool's local datastore."""
        return self.home / "work"

    @property
    def out(self) -> Path:
        """Side files the flows write (timestamps, results), read without any client.

        Kept outside the working directory so no tool packs them with the flow's code."""
        return self.home / "out"

    def python(self, args: list[str], extra_env: dict[str, str] | None = None,
               drop_env: tuple[str, ...] = ()) -> CmdResult:
        env = {**self.env, **(extra_env or {}), "BENCH_OUT": str(self.out)}
        for name in drop_env:
            env.pop(name, None)
        log_dir = self.home / "logs" / f"{next(self.log_ids):04d}"
        return run_cmd([self.tool.python, *args], self.workdir, env, self.timeout, log_dir)

    def checked(self, args: list[str], extra_env: dict[str, str] | None = None,
                drop_env: tuple[str, ...] = ()) -> CmdResult:
        result = self.python(args, extra_env, drop_env)
        if not result.ok:
            raise BenchFailure(result.describe_failure())
        return result

    def fresh_out(self) -> None:
        shutil.rmtree(self.out, ignore_errors=True)
        self.out.mkdir(parents=True)

    def side(self, name: str) -> Any:
        """A JSON value the flow wrote to out/NAME.json."""
        path = self.out / f"{name}.json"
        if not path.exists():
            raise BenchFailure(f"the flow did not write {path.name}")
        return json.loads(path.read_text())


Measure = Callable[[Ctx], dict[str, float]]
Setup = Callable[[Ctx], None]


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    flow: str  # template file in flows/
    metrics: tuple[Metric, ...]
    measure: Measure
    setup: Setup | None = None
    fresh_dir_per_rep: bool = False  # a new working directory for every repetition
    s3: bool = False  # both tools keep artifacts on the bench's S3 server


def install_flow(template: str, tool: Tool, workdir: Path) -> Path:
    """Copy a flow template, changing only its import line to the tool's."""
    source = (FLOWS_DIR / template).read_text()
    if source.count(TEMPLATE_IMPORT) != 1:
        raise ValueError(f"{template} must contain exactly one '{TEMPLATE_IMPORT}' line")
    workdir.mkdir(parents=True)
    target = workdir / "flow.py"
    target.write_text(source.replace(TEMPLATE_IMPORT, f"from {tool.key} import"))
    return target


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise BenchFailure(f"wrong result: {message}")


# --- hello -------------------------------------------------------------------------------


def measure_hello(ctx: Ctx) -> dict[str, float]:
    """Four independent commands: one failing still lets the others be measured."""
    module = ctx.tool.key
    commands = {
        "import": ["-c", f"import {module}"],
        "import_api": ["-c", f"from {module} import FlowSpec, step"],
        "check": ["flow.py", "check"],
        "run": ["flow.py", "run"],
    }
    values: dict[str, float] = {}
    failures: list[str] = []
    for key, args in commands.items():
        result = ctx.python(args)
        if result.ok:
            values[key] = result.wall
        else:
            failures.append(result.describe_failure())
    if failures:
        raise BenchFailure("\n".join(failures), partial=values)
    return values


def hello() -> Workload:
    return Workload(
        name="hello",
        title="hello (start → hello → end)",
        flow="hello.py",
        metrics=(
            Metric("import", "`python -c 'import X'`", "ms"),
            Metric("import_api", "`python -c 'from X import FlowSpec, step'`", "ms"),
            Metric("check", "`flow.py check`", "s"),
            Metric("run", "`flow.py run`", "s"),
        ),
        measure=measure_hello,
    )


# --- foreach -----------------------------------------------------------------------------


def foreach(n: int, executor: str | None = None, s3: bool = False) -> Workload:
    """``executor``: Headwater's executor (through HEADWATER_EXECUTOR, which Metaflow ignores:
    it always starts a fresh interpreter per task, as ``subprocess`` does)."""
    extra = {"HEADWATER_EXECUTOR": executor} if executor else {}

    def measure(ctx: Ctx) -> dict[str, float]:
        ctx.fresh_out()
        args = ["flow.py", "run", "--max-workers", "16", "--max-num-splits", str(n)]
        wall = ctx.checked(args, {"BENCH_N": str(n), **extra}).wall
        expect(ctx.side("result") == {"total": n * (n - 1)}, "foreach join total")
        return {"wall": wall, "per_task": wall / n}

    return Workload(
        name=f"foreach-{n}-{executor}" if executor else f"foreach-{n}" + ("-s3" if s3 else ""),
        title=f"foreach fan-out, {n:,} tasks" + (f", Headwater `--executor {executor}`" if executor else "")
        + (", on S3" if s3 else ""),
        flow="foreach.py",
        metrics=(
            Metric("wall", "`flow.py run` wall", "s"),
            Metric("per_task", "per task (wall / N)", "ms"),
        ),
        measure=measure,
        s3=s3,
    )


# --- bigarray ----------------------------------------------------------------------------


def bigarray(mib: int, s3: bool = False) -> Workload:
    def measure(ctx: Ctx) -> dict[str, float]:
        ctx.fresh_out()
        result = ctx.checked(["flow.py", "run"], {"BENCH_ARRAY_MIB": str(mib)})
        expect(ctx.side("result") == {"ok": True}, "loaded array sums differently")
        created, loaded = ctx.side("created"), ctx.side("loaded")
        return {
            "persist": loaded["start"] - created,
            "load_sum": loaded["end"] - loaded["start"],
            "wall": result.wall,
            **({} if s3 else {"disk": float(disk_usage(ctx.workdir / ctx.tool.datastore_dir))}),
            "rss": float(result.peak_rss),
        }

    size = f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"
    metrics = (
        Metric("persist", "persist → next step starts", "s"),
        Metric("load_sum", "load + sum in next step", "s"),
        Metric("wall", "`flow.py run` wall", "s"),
        *(() if s3 else (Metric("disk", "datastore size on disk", "MiB"),)),
        Metric("rss", "peak RSS, process tree", "MiB"),
    )
    return Workload(
        name="bigarray-s3" if s3 else "bigarray",
        title=f"{size} NumPy float64 artifact" + (", on S3" if s3 else ""),
        flow="bigarray.py",
        metrics=metrics,
        measure=measure,
        fresh_dir_per_rep=True,
        s3=s3,
    )


# --- artifacts ---------------------------------------------------------------------------


def measure_artifacts(ctx: Ctx) -> dict[str, float]:
    ctx.fresh_out()
    wall = ctx.checked(["flow.py", "run"]).wall
    expect(ctx.side("result") == {"total": 499500}, "sum of the 1,000 artifacts")
    return {"wall": wall}


def artifacts(s3: bool = False) -> Workload:
    return Workload(
        name="artifacts-s3" if s3 else "artifacts",
        title="1,000 small artifacts, set then read" + (", on S3" if s3 else ""),
        flow="artifacts.py",
        metrics=(Metric("wall", "`flow.py run` wall", "s"),),
        measure=measure_artifacts,
        s3=s3,
    )


# --- resume ------------------------------------------------------------------------------

RESUME_TRAIL = ["start", *(f"s{i}" for i in range(1, 9)), "end"]


def measure_resume(ctx: Ctx) -> dict[str, float]:
    ctx.fresh_out()
    failing = ctx.python(["flow.py", "run"], {"BENCH_FAIL": "1"})
    if failing.ok:
        raise BenchFailure("the run with BENCH_FAIL=1 succeeded; its last step should fail")
    wall = ctx.checked(["flow.py", "resume"], drop_env=("BENCH_FAIL",)).wall
    expect(ctx.side("result") == {"trail": RESUME_TRAIL}, "resumed run's trail of steps")
    return {"wall": wall}


def resume() -> Workload:
    return Workload(
        name="resume",
        title="resume a 10-step run that failed in its last step",
        flow="resume.py",
        metrics=(Metric("wall", "`flow.py resume` wall", "s"),),
        measure=measure_resume,
    )


# --- client ------------------------------------------------------------------------------


def client(runs: int, jobs: int) -> Workload:
    def setup(ctx: Ctx) -> None:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(
                lambda i: ctx.python(["flow.py", "run"], {"BENCH_X": str(i)}),
                range(runs - 1),
            ))
        for result in results:
            if not result.ok:
                raise BenchFailure("setup: " + result.describe_failure())
        ctx.checked(["flow.py", "run"], {"BENCH_X": str(runs)})  # the latest, made last

    def measure(ctx: Ctx) -> dict[str, float]:
        code = (f"from {ctx.tool.key} import Flow; "
                "print(Flow('ClientFlow').latest_successful_run.data.x)")
        result = ctx.checked(["-c", code])
        lines = result.stdout.strip().splitlines()
        expect(lines[-1:] == [str(runs)], f"latest run's x printed {lines[-1:]}, not {runs}")
        return {"wall": result.wall}

    return Workload(
        name="client",
        title=f"client: latest successful run's artifact, {runs} runs stored",
        flow="client.py",
        metrics=(Metric("wall", "fresh `python -c` wall", "s"),),
        measure=measure,
        setup=setup,
    )


@dataclass(frozen=True)
class Sizes:
    foreach_ns: tuple[int, ...]
    array_mib: int
    client_runs: int
    setup_jobs: int
    s3_foreach_n: int


FULL = Sizes(foreach_ns=(100, 1000), array_mib=1024, client_runs=200, setup_jobs=4, s3_foreach_n=100)
QUICK = Sizes(foreach_ns=(20,), array_mib=128, client_runs=50, setup_jobs=4, s3_foreach_n=20)


def all_workloads(sizes: Sizes) -> list[Workload]:
    return [
        hello(),
        *(foreach(n) for n in sizes.foreach_ns),
        foreach(sizes.foreach_ns[0], executor="subprocess"),
        bigarray(sizes.array_mib),
        artifacts(),
        resume(),
        client(sizes.client_runs, sizes.setup_jobs),
        bigarray(sizes.array_mib, s3=True),
        artifacts(s3=True),
        foreach(sizes.s3_foreach_n, s3=True),
    ]
