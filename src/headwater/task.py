"""One attempt of one task: the single entry point every executor runs.

``run_attempt(spec, flow_cls, graph)`` loads the parent task's artifact references, sets
``current``, runs the decorators' hooks around the step function, stores every artifact the
step assigned (unchanged inherited ones are passed on by reference), checks the transition
against the graph, and returns a small result dict. It never writes metadata: the runtime
records the result, so that during a run the metadata database has a single writer.

A local fork, a subprocess, a Ray worker or a Kubernetes pod differ only in how they deliver
the ``TaskSpec`` here and the result back.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping

from .current import current
from .datastore import SerializationError
from .exceptions import (
    BlobWriteError,
    DatastoreError,
    HeadwaterException,
    StepError,
    UnpicklableArtifactError,
    interrupted_by,
    interruption_message,
)
from .flowspec import FlowSpec, Inputs
from .user import hostname

# Recorded in each task's metadata under Metaflow's field name (its client shows it): the
# interpreter the attempt ran in, which may differ from the scheduler's on another machine.
PYTHON_VERSION = ".".join(str(n) for n in sys.version_info[:3])

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


# What of an attempt's result says where the run goes next (recorded with the task).
TRANSITION_KEYS = ("next", "foreach", "num_splits", "values", "case", "num_parallel")


class TaskSpec:
    """Everything an attempt needs, small and picklable.

    ``parents`` are (task_id, step, attempt); ``frames`` the open splits, outermost first;
    ``recover`` is set for a @catch attempt after a process death (record it, skip the step).
    ``params`` and ``inputs`` are artifact refs (name -> (key, type, size)) the scheduler
    already holds: the run's parameters and the single parent's artifacts. Without them (a
    join, a retry) the task reads the metadata instead.

    ``root`` is the datastore's URL and ``metadata`` where the run's records are; ``code``
    says where the flow comes from in a fresh interpreter (``python -m headwater.task``):
    ``{"key": code package key, "file": flow file, "module": its module name, "cls": the
    flow class}``; ``decospecs`` are the run's ``--with`` decorators. ``to_json`` and
    ``from_json`` carry a spec to another process or machine.
    """

    __slots__ = ("flow", "run", "step", "task_id", "attempt", "root", "parents", "frames",
                 "max_num_splits", "max_retries", "user", "tags", "origin_run_id",
                 "parameter_names", "recover", "params", "inputs", "metadata", "code",
                 "decospecs")

    def __init__(self, *, flow: str, run: int, step: str, task_id: int, attempt: int, root: str,
                 parents: list[tuple[int, str, int]] | None = None, frames: list[dict] | None = None,
                 max_num_splits: int = 100, max_retries: int = 0, user: str = "",
                 tags: list[str] | None = None, origin_run_id: str | None = None,
                 parameter_names: list[str] | None = None, recover: dict | None = None,
                 params: dict | None = None, inputs: dict | None = None,
                 metadata: str | None = None, code: dict | None = None,
                 decospecs: list[str] | None = None) -> None:
        self.flow = flow
        self.run = run
        self.step = step
        self.task_id = task_id
        self.attempt = attempt
        self.root = root
        self.metadata = metadata if metadata is not None else root
        self.code = code
        self.decospecs = decospecs or []
        self.parents = parents or []
        self.frames = frames or []
        self.max_num_splits = max_num_splits
        self.max_retries = max_retries
        self.user = user
        self.tags = tags or []
        self.origin_run_id = origin_run_id
        self.parameter_names = parameter_names or []
        self.recover = recover
        self.params = params
        self.inputs = inputs

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run}/{self.step}/{self.task_id}"

    def to_json(self) -> str:
        import json

        return json.dumps({name: getattr(self, name) for name in self.__slots__})

    @classmethod
    def from_json(cls, text: str | bytes) -> TaskSpec:
        import json

        fields = json.loads(text)
        fields["parents"] = [tuple(p) for p in fields.get("parents") or []]
        for name in ("params", "inputs"):
            if fields.get(name) is not None:
                fields[name] = {k: tuple(v) for k, v in fields[name].items()}
        return cls(**fields)

    def __repr__(self) -> str:
        return f"TaskSpec({self.pathspec!r}, attempt={self.attempt})"


def run_attempt(spec: TaskSpec, flow_cls: type[FlowSpec], graph: Any, *, stores: Any = None) -> dict[str, Any]:
    """Run the step and return ``{"ok": bool, "artifacts": [...], "next": [...], ...}``."""
    started = time.time()
    if stores is not None:
        md, blobs = stores
    else:
        from .datastore.datastore import open_datastore

        md, blobs = LazyArtifacts(spec.metadata), open_datastore(spec.root).blobs
    node = graph[spec.step]
    decos = list(node.decorators)
    result: dict[str, Any] = {"ok": False, "started_at": started, "host": hostname(), "pid": os.getpid(),
                              "python_version": PYTHON_VERSION}
    flow: FlowSpec | None = None
    try:
        flow = _build_flow(spec, flow_cls, graph, md, blobs, node)
        current._set(
            flow_name=spec.flow, run_id=str(spec.run), step_name=spec.step, task_id=str(spec.task_id),
            retry_count=spec.attempt, max_retries=spec.max_retries, origin_run_id=spec.origin_run_id,
            username=spec.user, namespace=f"user:{spec.user}", tags=list(spec.tags),
            parameter_names=list(spec.parameter_names),
        )
        current._set_extra("_datastore_root", spec.root)
        current._set_extra("_attempt", spec.attempt)
        if spec.frames and spec.frames[-1].get("parallel"):
            _join_gang(spec.frames[-1])
        hook_args = {"flow": flow, "step_name": spec.step, "retry_count": spec.attempt,
                     "max_retries": spec.max_retries}
        func = getattr(flow, spec.step)
        inputs = None
        if node.is_join:
            inputs = Inputs([_parent_view(p, spec, flow_cls, graph, md, blobs) for p in spec.parents])
            call = lambda: func(inputs)  # noqa: E731
        else:
            call = func
        if spec.recover is not None:
            for deco in decos:
                deco.task_process_died(flow=flow, step_name=spec.step, failure=spec.recover)
            _follow_static_graph(flow, node)
        else:
            for deco in decos:
                deco.task_pre_step(**hook_args)
            for deco in decos:
                call = deco.task_decorate(call, **hook_args)
            wrappers = getattr(node, "wrappers", None)
            if wrappers:  # user step decorators run inside the step decorators' wrapping
                from .user_decorators import run_wrapped

                step_call = call
                call = lambda: run_wrapped(step_call, wrappers, flow=flow, node=node,  # noqa: E731
                                           step_name=spec.step, inputs=inputs)
            try:
                call()
            except Exception as exc:  # the step's own failure: a decorator may handle it
                if not any(deco.task_exception(exc, **hook_args) for deco in decos):
                    raise
                _follow_static_graph(flow, node)
            else:
                for deco in decos:
                    deco.task_post_step(**hook_args)
        result.update(_finish(flow, node, spec, blobs))
        result["ok"] = True
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a recorded attempt
        result["exception"] = describe_exception(exc)
        if isinstance(exc, KeyboardInterrupt):
            result["interrupted_by"] = interrupted_by(exc)  # an in-process run stops too
        if isinstance(exc, HeadwaterException):
            # Our own rule was broken: one clear sentence, plus where in the user's code.
            where = _user_frame(exc)
            print(f"{exc.headline}: {exc}" + (f"\n  (at {where})" if where else ""), file=sys.stderr)
        else:
            print(user_traceback(exc), file=sys.stderr, end="")
    if flow is not None:
        for deco in decos:
            try:
                deco.task_finished(flow=flow, step_name=spec.step, retry_count=spec.attempt,
                                   max_retries=spec.max_retries, ok=result["ok"],
                                   exception=result.get("exception"))
            except Exception as exc:  # noqa: BLE001 - a report must never fail the task
                print(f"@{deco.name}: {type(exc).__name__}: {exc} (ignored)", file=sys.stderr)
    tempdir = current._tempdir
    current._reset()
    if tempdir:
        import shutil

        shutil.rmtree(tempdir, ignore_errors=True)
    result["finished_at"] = time.time()
    return result


def warm_up() -> None:
    """Import what every attempt needs, once, in a process that will fork the attempts.

    The fork template calls this as it starts, while the scheduler is still recording the
    run, so no attempt pays for these imports itself.
    """
    from .datastore import datastore
    from .metadata import sqlite_reader  # noqa: F401 - joins and retries read their inputs with it

    datastore.LocalDatastore("/").blobs  # noqa: B018 - loads blobs, storage, xxhash


PROBE_MIN_SIZE = 256  # bytes stored: smaller blobs are not worth a header read
PROBE_MAX = 16  # blob headers read per task, largest first


def warm_up_for(spec: TaskSpec, probed: set[str]) -> None:
    """Before forking ``spec``: import the zstd decompressor if an artifact it reads is
    compressed, so that the thousand tasks of a foreach over a large list do not each import
    it. ``probed`` holds the blob keys already looked at (each header is read once).
    """
    if "zstandard" in sys.modules:
        return
    refs = [*(spec.params or {}).values(), *(spec.inputs or {}).values()]
    # Compressed blobs hold at least MIN_COMPRESS (64 KiB) of data, so they are rarely tiny:
    # look at the few largest only, not at each of a thousand small values.
    largest = sorted((ref for ref in refs if ref[2] >= PROBE_MIN_SIZE), key=lambda r: -r[2])
    keys = [key for key, _, _ in largest[:PROBE_MAX] if key not in probed]
    if not keys:  # the common case: the tasks of a foreach share their inputs
        return
    from .datastore.datastore import open_datastore
    from .datastore.serialize import preload_codec

    store = open_datastore(spec.root).blobs
    for key in keys:
        probed.add(key)
        try:
            compressed = store.is_compressed(key)
        except (OSError, HeadwaterException):
            continue  # the task itself will report a missing or damaged blob
        if compressed:
            preload_codec()
            return


class LazyArtifacts:
    """Artifact refs from the run's metadata reader, opened on first use: most tasks get
    their refs in the spec and never open it."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._reader: Any = None

    def reader(self) -> Any:
        """The run's metadata reader (opened now if it was not)."""
        if self._reader is None:
            from .metadata import open_reader

            self._reader = open_reader(self.location)
        return self._reader

    def artifacts_of(self, flow: str, run: int, task_id: int, attempt: int) -> dict[str, tuple[str, str, int]]:
        """name -> (key, type, size) for one attempt of a task."""
        return {a.name: (a.key, a.type, a.size)
                for a in self.reader().artifacts(flow, run, task_id, attempt)}


def _on_damage(spec: TaskSpec, flow_cls: type[FlowSpec], md: Any, task_id: int, step: str) -> Any:
    """What a flow (or a join's input) raises when an artifact of task ``task_id`` (its
    parent, or the run's parameters) turns out damaged: the artifact, the task, the path and
    the step to re-run (``datastore/damage.py``)."""

    def damaged(name: str, key: str, exc: Any, is_param: bool) -> BaseException:
        from .datastore.damage import PARAMS_STEP, damaged_artifact
        from .metadata import PARAMS_TASK

        reader = md.reader() if isinstance(md, LazyArtifacts) else md if hasattr(md, "task") else None
        module = sys.modules.get(flow_cls.__module__)
        script = os.path.basename(getattr(module, "__file__", None) or "") or None
        return damaged_artifact(exc, name=name, flow=spec.flow, run=spec.run,
                                step=PARAMS_STEP if is_param else step,
                                task_id=PARAMS_TASK if is_param else task_id, reader=reader,
                                script=script,
                                shown=f"self.{name}")

    return damaged


class Parallel:
    """``current.parallel`` in a ``@parallel`` step: this node's place in its gang.

    ``main_ip`` is node 0's address, for the rendezvous of distributed training (the same
    values are in ``MF_PARALLEL_MAIN_IP``, ``MF_PARALLEL_NUM_NODES``,
    ``MF_PARALLEL_NODE_INDEX`` and ``MF_PARALLEL_CONTROL_TASK_ID``, as Metaflow sets them).
    """

    __slots__ = ("main_ip", "num_nodes", "node_index", "control_task_id")

    def __init__(self, main_ip: str, num_nodes: int, node_index: int, control_task_id: str) -> None:
        self.main_ip, self.num_nodes = main_ip, num_nodes
        self.node_index, self.control_task_id = node_index, control_task_id

    def __repr__(self) -> str:
        return (f"Parallel(main_ip={self.main_ip!r}, num_nodes={self.num_nodes}, "
                f"node_index={self.node_index}, control_task_id={self.control_task_id!r})")


def _join_gang(frame: dict[str, Any]) -> None:
    node = Parallel(str(frame.get("main_ip") or "127.0.0.1"), int(frame["num_splits"]),
                    int(frame["index"]), str(frame["control"]))
    current._set_extra("parallel", node)
    os.environ.update(MF_PARALLEL_MAIN_IP=node.main_ip, MF_PARALLEL_NUM_NODES=str(node.num_nodes),
                      MF_PARALLEL_NODE_INDEX=str(node.node_index),
                      MF_PARALLEL_CONTROL_TASK_ID=node.control_task_id)


def _follow_static_graph(flow: FlowSpec, node: Any) -> None:
    """After a handled failure the step never reached self.next(): go where the graph goes."""
    if not node.is_end:
        flow.__dict__["_hw_transition"] = {"targets": list(node.out_funcs), "foreach": None}


def _build_flow(spec: TaskSpec, flow_cls: type[FlowSpec], graph: Any, md: Any, blobs: Any, node: Any) -> FlowSpec:
    from .metadata import PARAMS_TASK

    params = spec.params
    if params is None:
        params = md.artifacts_of(spec.flow, spec.run, PARAMS_TASK, 0)
    flow = flow_cls.__new__(flow_cls)
    if node.is_join or not spec.parents:
        refs: dict[str, Any] = {}
    elif spec.inputs is not None:
        refs = spec.inputs
    else:
        parent_id, _, parent_attempt = spec.parents[0]
        refs = md.artifacts_of(spec.flow, spec.run, parent_id, parent_attempt)
    owner = spec.parents[0] if spec.parents and not node.is_join else (0, "", 0)
    flow._hw_bind(artifacts=dict(refs), params=params, store=blobs, graph=graph, step=spec.step,
                  frames=spec.frames, is_join=node.is_join,
                  damaged=_on_damage(spec, flow_cls, md, owner[0], owner[1]))
    return flow


def _parent_view(parent: tuple[int, str, int], spec: TaskSpec, flow_cls: type[FlowSpec], graph: Any,
                 md: Any, blobs: Any) -> FlowSpec:
    task_id, step, attempt = parent
    view = flow_cls.__new__(flow_cls)
    refs = md.artifacts_of(spec.flow, spec.run, task_id, attempt)
    view._hw_bind(artifacts=refs, params={}, store=blobs, graph=None, step=step,
                  damaged=_on_damage(spec, flow_cls, md, task_id, step))
    return view


def _finish(flow: FlowSpec, node: Any, spec: TaskSpec, blobs: Any) -> dict[str, Any]:
    """Store the artifacts and work out the transition."""
    d = flow.__dict__
    transition = d.get("_hw_transition")
    out: dict[str, Any] = {}
    if node.is_end:
        if transition is not None:
            raise StepError(f"the end step {spec.step!r} must not call self.next().")
        out["next"] = []
    else:
        frame = spec.frames[-1] if spec.frames else None
        if transition is None and frame is not None and frame.get("parallel") and frame["index"] != 0:
            # A gang's worker node goes where the graph goes; only the control node (node 0)
            # must say so, as in Metaflow.
            transition = {"targets": list(node.out_funcs), "foreach": None}
        if transition is None:
            raise StepError(
                f"step {spec.step!r} finished without calling self.next(); end it with "
                f"self.next(self.{node.out_funcs[0] if node.out_funcs else '<step>'})."
            )
        out.update(_resolve_transition(flow, node, transition, spec))
    out["artifacts"] = _persist(flow, blobs)
    return out


def _resolve_transition(flow: FlowSpec, node: Any, t: dict[str, Any], spec: TaskSpec) -> dict[str, Any]:
    if "cases" in t:
        value = getattr(flow, t["condition"], _MISSING)
        if value is _MISSING:
            raise StepError(
                f"step {spec.step!r} switches on condition={t['condition']!r}, but self.{t['condition']} "
                "is not set; assign it before calling self.next()."
            )
        key = str(value)
        if key not in t["cases"]:
            raise StepError(
                f"step {spec.step!r}: self.{t['condition']} is {value!r}, which is not one of the "
                f"cases {list(t['cases'])}; add a case for it or change the value."
            )
        return {"next": [t["cases"][key]], "case": key}
    if t.get("num_parallel"):
        return {"next": t["targets"], "num_parallel": int(t["num_parallel"])}
    if t["foreach"]:
        var = t["foreach"]
        items = getattr(flow, var, _MISSING)
        if items is _MISSING:
            raise StepError(f"step {spec.step!r}: foreach={var!r} but self.{var} is not set; assign the list first.")
        try:
            n = len(items)
            if n:
                items[0]
        except (TypeError, KeyError, IndexError):
            raise StepError(
                f"step {spec.step!r}: foreach={var!r} needs a list-like artifact (with len() and "
                f"indexing by position), but self.{var} is a {type(items).__name__}; wrap it with "
                f"list(...) (for a dict: list(self.{var}.items()))."
            ) from None
        if n == 0:
            raise StepError(
                f"step {spec.step!r}: foreach={var!r} got an empty list, so there is nothing to run. "
                "Make sure the list has items, or choose another path with a conditional self.next()."
            )
        if n > spec.max_num_splits:
            raise StepError(
                f"step {spec.step!r}: foreach={var!r} would start {n} tasks, more than --max-num-splits "
                f"{spec.max_num_splits}. Raise the limit (run --max-num-splits {n}) if this is intended."
            )
        return {"next": t["targets"], "foreach": var, "num_splits": n,
                "values": [_frame_value(items[i]) for i in range(min(n, 10_000))]}
    return {"next": t["targets"]}


def _frame_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _persist(flow: FlowSpec, blobs: Any) -> list[tuple[str, str, str, int]]:
    """Store new and loaded artifacts; pass untouched inherited ones on by reference."""
    d = flow.__dict__
    refs: Mapping[str, Any] = d["_hw_refs"]
    params = d["_hw_params"]
    loaded = d["_hw_loaded"]
    kept = d["_hw_kept"]
    out: dict[str, tuple[str, str, str, int]] = {}
    for name, ref in refs.items():
        if name not in d:
            out[name] = (name, *ref)
    for name, ref in params.items():
        out[name] = (name, *ref)
    for name, value in d.items():
        if name.startswith("_hw_") or name in params:
            continue
        if name in kept and value is kept[name]:
            out[name] = (name, *refs[name])  # an immutable value the step only read
            continue
        if name in loaded and blobs.fingerprint(value) == loaded[name]:
            out[name] = (name, *refs[name])  # a large value the step only read
            continue
        out[name] = (name, value)  # type: ignore[assignment] - saved below
    todo = [(name, entry[1]) for name, entry in out.items() if len(entry) == 2]
    # On a remote store, a task's new artifacts travel concurrently (each is a round trip).
    saved = blobs.save_many(todo, _unpicklable) if todo else []
    for (name, _), ref in zip(todo, saved, strict=True):
        out[name] = (name, ref.key, ref.type, ref.size)
    return list(out.values())


def _unpicklable(name: str, value: Any, exc: SerializationError | DatastoreError) -> HeadwaterException:
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if isinstance(exc, BlobWriteError):  # a full disk: one line, the artifact and the path
        disk = f"the disk of {exc.root}" if exc.root else "that disk"
        return BlobWriteError(
            f"self.{name} (a {kind}) could not be written to {exc.path}: {exc.reason}. Nothing "
            f"half-written was kept (the file is removed); free some space on {disk} and run "
            "the step again (resume the run).", path=exc.path, root=exc.root, reason=exc.reason)
    if isinstance(exc, DatastoreError):
        return DatastoreError(f"self.{name} (a {kind}) could not be stored: {exc}")
    return UnpicklableArtifactError(
        f"the artifact self.{name} (a {type(value).__module__}.{type(value).__qualname__}) "
        f"cannot be stored: {exc}. Store something picklable instead (e.g. the object's "
        f"state), or delete it with `del self.{name}` before the step ends.")


def describe_exception(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, KeyboardInterrupt):
        # Ctrl-C, or SIGTERM raised as it, reached the step: say so, whatever the class.
        return {"type": "KeyboardInterrupt", "message": interruption_message(interrupted_by(exc)),
                "traceback": user_traceback(exc)}
    cls = type(exc)
    kind = f"{cls.__module__}.{cls.__qualname__}".removeprefix("builtins.")
    if isinstance(exc, HeadwaterException) and cls.__module__.split(".")[0] == "headwater":
        # Headwater's own errors by their short name, or the name Metaflow records for the
        # same failure (a timeout), so code written against Metaflow reads the same type.
        kind = getattr(cls, "recorded_type", None) or cls.__qualname__
    return {
        "type": kind,
        "message": str(exc),
        "traceback": user_traceback(exc),
    }


def user_traceback(exc: BaseException) -> str:
    """The traceback without Headwater's own frames: the user's code is what matters."""
    import traceback  # only when something failed

    package = os.path.dirname(os.path.abspath(__file__))
    tb = traceback.TracebackException.from_exception(exc)
    frames = [f for f in tb.stack if not os.path.abspath(f.filename).startswith(package)]
    if frames:
        tb.stack = traceback.StackSummary.from_list(frames)
    elif isinstance(exc, HeadwaterException):
        tb.stack = traceback.StackSummary()  # our own sentence (a full disk...): no frames of ours
    return "".join(tb.format())


def _user_frame(exc: BaseException) -> str | None:
    """The innermost traceback line outside Headwater's own code, as file:line."""
    import traceback

    package = os.path.dirname(os.path.abspath(__file__))
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if not os.path.abspath(frame.filename).startswith(package):
            where = f"{frame.filename}:{frame.lineno}"
    return where


_MISSING = object()


if __name__ == "__main__":  # python -m headwater.task: one attempt in this interpreter
    from headwater.task_entry import main

    main()
