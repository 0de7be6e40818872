"""Attempts as Ray tasks: the steps that ask for it (``@ray``, ``--with ray``) run on a cluster.

Each attempt is one Ray task. In the Ray worker it runs as the fork executor runs it: a child
forked from a template process that loaded the run's flow once, the way ``python -m
headwater.task`` loads it (the run's folder when the worker's machine has it, else the code
package). So a warm worker starts a task in milliseconds, survives a step that crashes, and
reports the exit code or signal (``_ray_worker.py``). Inputs and outputs go through the
datastore (a local root works when the cluster is this machine; S3 otherwise); the
scheduler records the outcome from the task's result, as for any executor.

What a task prints is written to its logs in the datastore by the worker, and sent back to
the scheduler's console through a small actor (``ConsoleSink``) the run owns, so lines keep
their ``[run/step/task]`` prefix. Stopping an attempt (a time limit, Ctrl-C, a failed
sibling) cancels its Ray task: the worker kills the attempt's process group and reports the
outcome (an attempt that had just succeeded keeps its result); a worker that does not answer
within seconds is ended (``force=True``), and its template kills the attempt with it. A
scheduler that dies takes its Ray job, and so its workers, templates and tasks, along.

The cluster is ``HEADWATER_RAY_ADDRESS``, else ``RAY_ADDRESS``; with neither, a local Ray is
started for the run. ``ray`` comes with ``pip install 'headwater[ray]'``, on the cluster's
nodes too. A task sees the run's environment variables (but those that describe a machine:
``PATH``, ``HOME``, ``LD_*``, ...), as a local task does.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time

from ..exceptions import CommandError
from ..task import TaskSpec
from .base import AttemptDone, step_timeout

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

ADDRESS_ENVS = ("HEADWATER_RAY_ADDRESS", "RAY_ADDRESS")
# What describes this machine rather than the run stays here: the worker's own values win.
MACHINE_ENV = frozenset({"PATH", "HOME", "PWD", "OLDPWD", "SHELL", "SHLVL", "TMPDIR", "TEMP", "TMP",
                         "HOSTNAME", "TERM", "DISPLAY", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH",
                         "PYTHONSTARTUP", "CUDA_VISIBLE_DEVICES", "_"})
MACHINE_ENV_PREFIXES = ("LD_", "DYLD_", "SSH_", "XDG_", "CONDA_", "RAY_", "OMP_", "PYENV_", "LC_")
CONNECT_WITHIN = 5.0  # seconds to reach the cluster's address before saying it is unreachable
POLL = 0.05  # seconds between looks at finished tasks and console lines
FORCE_AFTER = 10.0  # seconds a stopped attempt's worker gets before it is ended
GANG_STRATEGY = "PACK"  # a gang's nodes as close together as the cluster allows
GANG_READY_WITHIN = 120.0  # seconds to wait for room for a whole gang


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise CommandError("steps on Ray need ray: pip install 'headwater[ray]'") from None
    return ray


def cluster_address() -> str | None:
    """The address of the cluster to use, from the environment (None: start a local one)."""
    for name in ADDRESS_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _check_reachable(address: str) -> None:
    """A quick TCP connect, so a wrong address fails in seconds with one line, not in Ray's
    own minute of retries and its traceback."""
    if address in ("auto", "local"):
        return
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"the Ray address {address!r} is not HOST:PORT (or ray://HOST:PORT); "
                           "check HEADWATER_RAY_ADDRESS or RAY_ADDRESS.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_WITHIN).close()
    except OSError as exc:
        raise CommandError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}. Is the "
                           "cluster running (ray start --head), and is HEADWATER_RAY_ADDRESS right?") from None


def connect(console: Any = None) -> Any:
    """Connect this process to the cluster (once); the ``ray`` module."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    address = cluster_address()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is None:
        if console is not None:
            console.info("No HEADWATER_RAY_ADDRESS: starting a local Ray for this run.")
        with _quiet_stderr():
            ray.init(log_to_driver=False, logging_level="ERROR", include_dashboard=False,
                     configure_logging=False)
        return ray
    _check_reachable(address)
    try:
        with _quiet_stderr():
            ray.init(address=address, log_to_driver=False, logging_level="ERROR", configure_logging=False)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; one line says which
        raise CommandError(f"cannot connect to the Ray cluster at {address}: {_first_line(exc)}") from None
    return ray


class _quiet_stderr:
    """Ray's core prints notices on file descriptor 2 while it connects (its own log level
    variable announces itself there too): keep them off the user's console."""

    def __enter__(self) -> None:
        import sys

        sys.stderr.flush()
        self.saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)

    def __exit__(self, *exc: Any) -> None:
        os.dup2(self.saved, 2)
        os.close(self.saved)


def step_request(graph: Any, step: str) -> dict[str, float]:
    """What one attempt of ``step`` asks Ray for: cpu, gpu, memory (MB), from ``@ray`` and
    ``@resources`` (the larger of the two for each)."""
    need = {"cpu": 1.0, "gpu": 0.0, "memory": 0.0}
    seen = False
    for deco in graph[step].decorators:
        wanted = deco.runtime_resources()
        if wanted is None:
            continue
        for key in need:
            value = float(wanted.get(key) or 0)
            need[key] = value if not seen else max(need[key], value)
        seen = True
    return need


def _fits(need: dict[str, float], node: dict[str, float]) -> bool:
    return (node.get("CPU", 0) >= need["cpu"] and node.get("GPU", 0) >= need["gpu"]
            and node.get("memory", 0) >= need["memory"] * 1024 * 1024)


def _describe_bundle(bundle: dict[str, float]) -> str:
    return ", ".join(f"{v / (1 << 20):,.0f} MB" if k == "memory" else f"{v:g} {k}" for k, v in bundle.items())


def _describe(node: dict[str, float]) -> str:
    return (f"{node.get('CPU', 0):g} CPU, {node.get('GPU', 0):g} GPU, "
            f"{node.get('memory', 0) / (1 << 20):,.0f} MB")


def check_fit(ray: Any, graph: Any, steps: list[str]) -> None:
    """Refuse, before anything is submitted, a step no node of the cluster can ever hold."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    for step in steps:
        need = step_request(graph, step)
        if not any(_fits(need, node) for node in nodes):
            have = "; ".join(_describe(n) for n in nodes) or "no live node"
            raise CommandError(
                f"step {step!r} asks for {need['cpu']:g} CPU, {need['gpu']:g} GPU and "
                f"{need['memory']:,.0f} MB of memory, which no node of the Ray cluster has "
                f"(its nodes: {have}). Lower the request in @ray/@resources, or add a node that fits.")


def _options(need: dict[str, float]) -> dict[str, Any]:
    options: dict[str, Any] = {"num_cpus": need["cpu"], "max_retries": 0, "retry_exceptions": False}
    if need["gpu"]:
        options["num_gpus"] = need["gpu"]
    if need["memory"]:
        options["memory"] = int(need["memory"] * 1024 * 1024)
    return options


def passed_env() -> dict[str, str]:
    """The run's environment for its tasks in the workers (variables do not travel by
    themselves): everything but what describes this machine (:data:`MACHINE_ENV`), so a step
    reads the settings it reads locally (``HEADWATER_*``, ``AWS_*``, its own)."""
    return {k: v for k, v in os.environ.items()
            if k not in MACHINE_ENV and not k.startswith(MACHINE_ENV_PREFIXES)}


class RayExecutor:
    """Runs the attempts it is given as Ray tasks (see the module's docstring)."""

    name = "ray"
    needs_code_package = True  # a worker on another machine unpacks the flow from it
    #: The scheduler's own kill of a timed-out attempt waits this much longer: a worker may
    #: take that long to start it, and the worker stops it at its limit from its real start.
    start_allowance = 60.0

    def __init__(self, flow_cls: type, graph: Any, datastore: Any) -> None:
        self.flow_cls = flow_cls
        self.graph = graph
        self.datastore = datastore
        self._running: dict[Any, tuple[TaskSpec, float]] = {}  # Ray ref -> (spec, submitted)
        self._by_key: dict[tuple[int, int], Any] = {}
        self._specs: dict[tuple[int, int], TaskSpec] = {}  # until its last line is echoed
        self._gangs: dict[tuple, list[TaskSpec]] = {}  # gang -> its nodes submitted so far
        self._gang_of: dict[Any, dict[str, Any]] = {}  # Ray ref -> its gang's placement group
        self._reasons: dict[tuple[int, int], str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, events: queue.Queue, console: Any, steps: list[str] | None = None) -> None:
        self.events, self.console = events, console
        ray = self.ray = connect(console)
        check_fit(ray, self.graph, steps if steps is not None else [n.name for n in self.graph])
        from ._ray_worker import ConsoleSink, run_attempt_remote

        self.sink = ConsoleSink.options(num_cpus=0).remote()
        self.remote = run_attempt_remote
        self.env = passed_env()
        self.thread = threading.Thread(target=self._watch, name="headwater-ray", daemon=True)
        self.thread.start()

    def placement(self, spec: TaskSpec) -> dict[str, Any]:
        """What the run records about where an attempt of ``spec``'s step goes."""
        need = step_request(self.graph, spec.step)
        return {"executor": "ray", "resources": {k: v for k, v in need.items() if v},
                "ray_address": cluster_address() or "local"}

    def submit(self, spec: TaskSpec) -> None:
        frame = spec.frames[-1] if spec.frames else None
        if frame is not None and frame.get("parallel"):
            # A gang's nodes are submitted one after the other; place them once all are here.
            key = (spec.step, frame["task"], spec.attempt)
            waiting = self._gangs.setdefault(key, [])
            waiting.append(spec)
            if len(waiting) == int(frame["num_splits"]):
                del self._gangs[key]
                self._place_gang(waiting)
            return
        self._submit(spec, _options(step_request(self.graph, spec.step)))

    def _submit(self, spec: TaskSpec, options: dict[str, Any], gang: Any = None) -> None:
        ref = self.remote.options(**options).remote(spec.to_json(), self.env, self.sink,
                                                    step_timeout(self.graph, spec.step))
        with self._lock:
            self._running[ref] = (spec, time.monotonic())
            self._by_key[(spec.task_id, spec.attempt)] = ref
            self._specs[(spec.task_id, spec.attempt)] = spec
            if gang is not None:
                self._gang_of[ref] = gang

    def _place_gang(self, specs: list[TaskSpec]) -> None:
        """All nodes of a gang at once, or none: a placement group with one bundle per node,
        then each node as a Ray task in its bundle, told node 0's address."""
        from ray.util.placement_group import (
            placement_group,
            placement_group_table,
            remove_placement_group,
        )
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        ray = self.ray
        specs = sorted(specs, key=lambda s: int(s.frames[-1]["index"]))
        need = step_request(self.graph, specs[0].step)
        bundle = {"CPU": need["cpu"]}
        if need["gpu"]:
            bundle["GPU"] = need["gpu"]
        if need["memory"]:
            bundle["memory"] = need["memory"] * 1024 * 1024
        n = len(specs)
        total = ray.cluster_resources()
        short = [k for k, v in bundle.items() if v * n > total.get(k, 0)]
        pg = None
        problem = None
        if short:
            problem = (f"the {n} nodes of step {specs[0].step!r} ask for {n} x {_describe_bundle(bundle)}, "
                       f"more than the whole Ray cluster has ({_describe(total)})")
        else:
            pg = placement_group([dict(bundle) for _ in specs], strategy=GANG_STRATEGY)
            try:
                ray.get(pg.ready(), timeout=GANG_READY_WITHIN)
            except Exception:  # noqa: BLE001 - GetTimeoutError, or the cluster went away
                remove_placement_group(pg)
                pg = None
                problem = (f"the {n} nodes of step {specs[0].step!r} could not all be placed on the Ray "
                           f"cluster within {GANG_READY_WITHIN:.0f} s (each asks for {_describe_bundle(bundle)})")
        if pg is None:
            for spec in specs:
                self.events.put(AttemptDone(spec, None, None, None, problem))
            return
        node_of_bundle = placement_group_table(pg).get("bundles_to_node_id", {})
        ips = {n["NodeID"]: n.get("NodeManagerAddress") for n in ray.nodes()}
        main_ip = ips.get(node_of_bundle.get(0)) or "127.0.0.1"
        gang = {"pg": pg, "left": n, "remove": remove_placement_group}
        for index, spec in enumerate(specs):
            spec.frames = spec.frames[:-1] + [dict(spec.frames[-1], main_ip=main_ip)]
            strategy = PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=index)
            options = dict(_options(need), scheduling_strategy=strategy)
            self._submit(spec, options, gang)

    def cancel(self, spec: TaskSpec, reason: str) -> None:
        key = (spec.task_id, spec.attempt)
        with self._lock:
            ref = self._by_key.get(key)
            if ref is None:
                return
            self._reasons.setdefault(key, reason)
        self._stop_task(ref)

    def cancel_all(self, reason: str) -> None:
        with self._lock:
            refs = list(self._running.items())
            for _, (spec, _) in refs:
                self._reasons.setdefault((spec.task_id, spec.attempt), reason)
        for ref, _ in refs:
            self._stop_task(ref)

    def _stop_task(self, ref: Any) -> None:
        """Ask the worker to stop the attempt (it kills the attempt's processes and reports
        what ended it: an attempt that had just succeeded keeps its result); end the worker
        if it has not answered within :data:`FORCE_AFTER` seconds."""
        try:
            self.ray.cancel(ref, force=False)
        except Exception:  # noqa: BLE001 - finished meanwhile
            return

        def force() -> None:
            with self._lock:
                running = ref in self._running
            if running:
                try:
                    self.ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - finished meanwhile
                    pass

        timer = threading.Timer(FORCE_AFTER, force)
        timer.daemon = True
        timer.start()

    def close(self) -> None:
        self.cancel_all("the run ended")
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
        try:
            self.ray.kill(self.sink)
        except Exception:  # noqa: BLE001 - the cluster may be gone already
            pass

    # -- the watching thread ----------------------------------------------------------------
    def _watch(self) -> None:
        ray = self.ray
        echoed = 0.0
        while not self._stop.is_set():
            with self._lock:
                refs = list(self._running)
            done: list[Any] = []
            if refs:
                # Wake for the first finished task, then take every other one finished by then.
                done, rest = ray.wait(refs, num_returns=1, timeout=POLL)
                if done and rest:
                    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                    done += more
            else:
                self._stop.wait(POLL)
            now = time.monotonic()
            if done or now - echoed >= POLL:
                self._echo()  # finished tasks' last lines before their outcomes
                echoed = now
            for ref in done:
                self._finished(ref)
        self._echo()

    def _echo(self) -> None:
        try:
            lines = self.ray.get(self.sink.drain.remote(), timeout=10)
        except Exception:  # noqa: BLE001 - console echo is best effort; the logs have it all
            return
        for task_id, attempt, _step, stream, text in lines:
            with self._lock:
                spec = self._specs.get((task_id, attempt))
            if spec is not None:
                self.console.task_line(spec, stream, text)

    def _finished(self, ref: Any) -> None:
        with self._lock:
            gang = self._gang_of.pop(ref, None)
            if gang is not None:
                gang["left"] -= 1
                if gang["left"] == 0:  # the gang's last node: free its reservation
                    gang["remove"](gang["pg"])
            spec, _ = self._running.pop(ref)
            key = (spec.task_id, spec.attempt)
            self._by_key.pop(key, None)
            reason = self._reasons.pop(key, None)
        try:
            out = self.ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - the worker died or the task was cancelled
            out = {"result": None, "exit_code": None, "signal": None,
                   "reason": f"the Ray task stopped before reporting a result ({_first_line(exc)})"}
        with self._lock:
            self._specs.pop(key, None)
        result = out["result"]
        if result is not None:
            result["node"] = out.get("node")
        self.events.put(AttemptDone(spec, result, out["exit_code"], out["signal"], reason or out["reason"]))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


__all__ = ["RayExecutor", "check_fit", "cluster_address", "connect", "step_request"]
