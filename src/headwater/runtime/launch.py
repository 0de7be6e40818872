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
from ..build import prepare_flow  # noqa: F401 - the CLI imports it from here
from ..datastore import SerializationError
from ..exceptions import ParameterError
from ..graph import FlowGraph
from ..parameters import Parameter, flow_parameters

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


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
    from ..metadata.vocabulary import system_tags as tags

    return tags(user, version=__version__)


def launch_run(flow_cls: type, graph: FlowGraph, *, params: dict[str, Any], configs: dict[str, Any],
               root: str, user: str, tags: list[str], max_workers: int, max_num_splits: int,
               console: Any, script: str, run_id_file: str | None = None,
               executor_name: str = "fork", resume: tuple[str | None, str | None] | None = None,
               max_cpu: float | None = None, max_memory: float | None = None,
               decospecs: list[str] | None = None, datastore: str | None = None,
               started: Any = None) -> tuple[int, bool]:
    """Record a new run and execute it. Returns (run number, succeeded).

    ``resume=(origin_run_id, step)`` makes it a resume of an earlier run: parameters come from
    the origin run and its finished tasks are cloned instead of re-run. ``root`` is the folder
    of the run records; ``datastore`` the URL of the run's bytes when they go elsewhere (S3).
    """
    from ..datastore.codepackage import save_package
    from ..datastore.datastore import open_datastore
    from ..executors import make_executor
    from ..metadata import PARAMS_TASK, location_for, open_reader, open_writer
    from .scheduler import Scheduler

    _check_executors(graph, executor_name)
    records = location_for(root)  # the datastore's folder, or the metadata service's URL
    events: queue.Queue = queue.Queue()
    ds = open_datastore(datastore or root, create=True)
    ds.check()  # a wrong bucket, endpoint or credentials stop the run here, before any record
    if records != str(root):  # the metadata service: unreachable or a wrong token stop it here
        probe = open_writer(records)
        probe.check()
        probe.close()
    blobs = ds.blobs
    # The executor may fork a template process: do it before opening the database.
    executor = make_executor(executor_name, flow_cls, graph, ds)
    executor.start(events, console)
    md = open_writer(records)
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

            reader = open_reader(records)
            try:
                origin_run = find_origin_run(reader, flow, resume[0], user)
            except BaseException:
                reader.close()
                raise
            cloner = Cloner(reader, md, graph, flow, origin_run, resume[1])
        run = md.new_run(flow, user=user, tags=tags, system_tags=system_tags(user),
                         graph=graph.to_dict(), origin_run_id=str(origin_run) if origin_run else None,
                         # Records kept apart from the bytes say where the bytes are.
                         datastore=None if ds.local_root is not None and records == root else ds.url)
        if run_id_file:
            with open(run_id_file, "w", encoding="utf-8") as f:
                f.write(str(run))
        if started is not None:
            started(run)  # the caller knows the run even if it is then interrupted
        verb = f"resuming run {origin_run}" if origin_run else "started"
        console.info(f"Run {flow}/{run} {verb} by {user} (datastore {ds.url})")
        if cloner is not None:
            cloner.bind(run)
            md.clone_task(flow, run, PARAMS_TASK, origin_run=origin_run, origin_task=PARAMS_TASK, parents=[])
            params_refs = {a.name: (a.key, a.type, a.size)
                           for a in cloner.reader.artifacts(flow, origin_run, PARAMS_TASK, 0)}
        else:
            _record_parameters(md, flow, run, param_refs)
            params_refs = {name: (key, typ, size) for name, key, typ, size in param_refs}
        module = sys.modules[flow_cls.__module__]
        flow_file = os.path.realpath(module.__file__ or script)
        code = {"key": None, "file": os.path.basename(flow_file), "dir": os.path.dirname(flow_file),
                "module": flow_cls.__module__, "cls": flow_cls.__name__}

        def record_code() -> None:
            code["key"] = save_package(flow_file, blobs, ds.cache_dir())
            md.set_run_code(flow, run, code["key"])

        if getattr(executor, "needs_code_package", False):
            record_code()  # a fresh interpreter may need it to find the flow
            record_code = None  # type: ignore[assignment]

        scheduler = Scheduler(
            flow_cls=flow_cls, graph=graph, executor=executor, events=events, md=md, console=console,
            run=run, root=ds.url, metadata=md.url, code=code, decospecs=list(decospecs or ()),
            params=params_refs,
            user=user, tags=tags, max_workers=max_workers,
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
        if cloner is not None:
            cloner.close()


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


def _check_executors(graph: FlowGraph, executor_name: str) -> None:
    """A step whose decorator needs an executor this installation lacks is refused up front
    (a step on another executor that exists runs there: ``executors.routing``)."""
    from ..exceptions import CommandError
    from ..executors import EXECUTORS

    for node in graph:
        for deco in node.decorators:
            wanted = deco.runtime_executor()
            if wanted is not None and wanted not in EXECUTORS:
                raise CommandError(
                    f"step {node.name!r}: @{deco.name} needs the {wanted!r} executor, which this "
                    f"installation of Headwater does not have (it has: {', '.join(EXECUTORS)}).")
