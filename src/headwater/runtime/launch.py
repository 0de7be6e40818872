"""Getting a run going: validate the flow, fix its inputs, record the run, start the scheduler.

Everything that can be wrong with the user's input (lint findings, a bad parameter, a missing
config or included file) is found before anything is written, so a refused run leaves no
trace on disk.
"""

from __future__ import annotations

import os
import queue
import sys

from .. import __version__
from ..configs import flow_configs, resolve_delayed
from ..datastore import SerializationError
from ..exceptions import ParameterError
from ..graph import FlowGraph
from ..parameters import Parameter, flow_parameters

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


def prepare_flow(flow_cls: type, *, config_paths: dict[str, str] | None = None,
                 config_texts: dict[str, str] | None = None,
                 extra_decorators: list[Any] | None = None) -> tuple[FlowGraph, dict[str, Any]]:
    """Read configs, resolve decorator arguments, build and lint the graph."""
    from ..lint import check

    config_paths = config_paths or {}
    config_texts = config_texts or {}
    configs = flow_configs(flow_cls)
    known = {c.name for c in configs}
    for name in (*config_paths, *config_texts):
        if name not in known:
            raise ParameterError(
                f"--config {name}: the flow has no Config named {name!r}"
                + (f"; its configs are: {', '.join(sorted(known))}" if known else "")
            )
    values: dict[str, Any] = {}
    for cfg in configs:
        values[cfg.attr] = cfg.load(config_paths.get(cfg.name), config_texts.get(cfg.name))
    flow_cls._hw_config_values = values  # type: ignore[attr-defined]
    graph = FlowGraph(flow_cls)
    for node in graph:
        for deco in extra_decorators or ():
            if not any(d.name == deco.name for d in node.decorators):
                node.decorators.append(deco.copy() if hasattr(deco, "copy") else deco)
        for deco in node.decorators:
            deco.attributes = resolve_delayed(deco.attributes, values)
    check(graph)
    for node in graph:
        for deco in node.decorators:
            deco.step_init(flow=flow_cls, graph=graph, step_name=node.name)
    return graph, values


def resolve_parameters(flow_cls: type, given: dict[str, str | None], *, user: str) -> dict[str, Any]:
    """Values of every parameter; all problems are reported together."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for param in flow_parameters(flow_cls):
        try:
            values[param.attr] = param.resolve(given.get(param.name), flow_name=flow_cls.__name__, user=user)
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("\n".join(problems))
    flow_cls._hw_param_values = values  # type: ignore[attr-defined]
    return values


def class_constants(flow_cls: type) -> dict[str, Any]:
    """Class-level values a flow defines (not steps, parameters or private names)."""
    from ..flowspec import FlowSpec

    out: dict[str, Any] = {}
    for klass in reversed(flow_cls.__mro__):
        if klass is object or klass is FlowSpec or not issubclass(klass, FlowSpec):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or callable(value) or isinstance(value, Parameter | property | staticmethod | classmethod):
                continue
            out[name] = value
    return out


def system_tags(user: str) -> list[str]:
    return [
        f"user:{user}",
        "runtime:local",
        "python_version:{}.{}.{}".format(*sys.version_info[:3]),
        f"headwater_version:{__version__}",
    ]


def launch_run(flow_cls: type, graph: FlowGraph, *, params: dict[str, Any], configs: dict[str, Any],
               root: str, user: str, tags: list[str], max_workers: int, max_num_splits: int,
               console: Any, script: str, run_id_file: str | None = None,
               executor_name: str = "fork", resume: tuple[str | None, str | None] | None = None,
               max_cpu: float | None = None, max_memory: float | None = None) -> tuple[int, bool]:
    """Record a new run and execute it. Returns (run number, succeeded).

    ``resume=(origin_run_id, step)`` makes it a resume of an earlier run: parameters come from
    the origin run and its finished tasks are cloned instead of re-run.
    """
    from ..datastore.codepackage import save_package
    from ..executors import make_executor
    from ..metadata import PARAMS_TASK
    from .scheduler import Scheduler
    from .stores import open_stores

    events: queue.Queue = queue.Queue()
    # The executor may fork a template process: do it before opening the database.
    executor = make_executor(executor_name, flow_cls, graph, root)
    executor.start(events, console)
    md, blobs = open_stores(root)
    flow = flow_cls.__name__
    try:
        cloner = None
        origin_run = None
        param_refs: list[tuple[str, str, str, int]] = []
        if resume is None:
            # _parameter_names tells readers which of task 0's artifacts are parameters.
            param_refs = _save_values(blobs, {**class_constants(flow_cls), **configs, **params,
                                              "_parameter_names": list(params)})
        else:
            from .resume import Cloner, find_origin_run

            origin_run = find_origin_run(md, flow, resume[0], user)
            cloner = Cloner(md, graph, flow, origin_run, resume[1])
        run = md.new_run(flow, user=user, tags=tags, system_tags=system_tags(user),
                         graph=graph.to_dict(), origin_run_id=str(origin_run) if origin_run else None)
        if run_id_file:
            with open(run_id_file, "w", encoding="utf-8") as f:
                f.write(str(run))
        verb = f"resuming run {origin_run}" if origin_run else "started"
        console.info(f"Run {flow}/{run} {verb} by {user} (datastore {root})")
        if cloner is not None:
            cloner.bind(run)
            md.clone_task(flow, run, PARAMS_TASK, origin_run=origin_run, origin_task=PARAMS_TASK, parents=[])
        else:
            _record_parameters(md, flow, run, param_refs)
        flow_file = sys.modules[flow_cls.__module__].__file__ or script

        def record_code() -> None:
            md.set_run_code(flow, run, save_package(flow_file, blobs, os.path.join(root, "cache")))

        scheduler = Scheduler(
            flow_cls=flow_cls, graph=graph, executor=executor, events=events, md=md, console=console,
            run=run, root=str(root), user=user, tags=tags, max_workers=max_workers,
            max_num_splits=max_num_splits, script=script,
            parameter_names=[p.name for p in flow_parameters(flow_cls)],
            cloner=cloner, origin_run_id=str(origin_run) if origin_run else None,
            max_cpu=max_cpu, max_memory=max_memory,
        )
        ok = scheduler.execute(meanwhile=record_code)
        return run, ok
    finally:
        executor.close()
        md.close()


def _save_values(blobs: Any, values: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """Store parameters, configs and constants before the run is recorded (nothing half-made)."""
    refs = []
    for name, value in values.items():
        try:
            ref = blobs.save(value)
        except SerializationError as exc:
            raise ParameterError(f"the value of {name!r} cannot be stored: {exc}") from None
        refs.append((name, ref.key, ref.type, ref.size))
    return refs


def _record_parameters(md: Any, flow: str, run: int, refs: list[tuple[str, str, str, int]]) -> None:
    """Parameters, configs and constants are the artifacts of the run's task 0."""
    from ..metadata import PARAMS_STEP, PARAMS_TASK, Status

    with md.transaction():
        md.new_task(flow, run, PARAMS_TASK, PARAMS_STEP, status=Status.SUCCEEDED, finished=True)
        md.start_attempt(flow, run, PARAMS_TASK, 0)
        md.finish_attempt(flow, run, PARAMS_TASK, 0, status=Status.SUCCEEDED, artifacts=refs)
