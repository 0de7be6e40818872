"""``python -m headwater.task``: one attempt, in this interpreter, from a self-contained spec.

Every executor that cannot fork from the scheduler runs this: the subprocess executor, and
the remote ones (a Ray worker, a Kubernetes pod, an Airflow or Argo task)::

    python -m headwater.task --spec '{"flow": "TrainFlow", "run": 3, ...}'
    python -m headwater.task --spec -            # the JSON on standard input
    python -m headwater.task --spec-file spec.json

The spec (:class:`~headwater.task.TaskSpec` as JSON) names the code package, the flow file,
module and class, the step, the run and task ids, the attempt, the input references, the
``--with`` decorators, and the datastore and metadata URLs. The code is used from
``code["dir"]`` when that folder holds the flow file (a local run), else unpacked from the
code package into a cache folder. Configs come from the values the run stored, so the graph
and the decorator arguments are exactly the run's.

With ``--result-fd N`` a scheduler is listening: the result goes to that pipe and the
scheduler records it. Without it the task records itself through the metadata writer: the
task and the attempt, a heartbeat while it runs, its logs, artifacts, outcome and transition,
so that ``logs``, ``dump``, the client and the UI show it as they show any task.
``--supervisor PID`` stops the task (and every process it started) when that process dies.
"""

from __future__ import annotations

import os
import signal
import sys

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

    from .task import TaskSpec

HEARTBEAT_SECONDS = 10.0
USAGE = ("usage: python -m headwater.task (--spec JSON | --spec - | --spec-file PATH) "
         "[--result-fd N] [--supervisor PID]")


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.get("supervisor"):
        _supervise(int(args["supervisor"]))
    from .exceptions import HeadwaterException

    try:
        spec = _read_spec(args)
        flow_cls, graph = load_flow(spec)
        result_fd = args.get("result_fd")
        if result_fd is not None:
            result = _run(spec, flow_cls, graph)
            _write_result(int(result_fd), result)
        else:
            result = record_attempt(spec, flow_cls, graph)
    except HeadwaterException as exc:  # the spec, the code or the records: one clear line
        print(f"{exc.headline}: {exc}", file=sys.stderr, flush=True)
        _no_result(args)
        os._exit(2)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if result.get("ok") else 1)


def _parse(argv: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    names = {"--spec": "spec", "--spec-file": "spec_file", "--result-fd": "result_fd",
             "--supervisor": "supervisor"}
    it = iter(argv)
    for arg in it:
        flag, eq, value = arg.partition("=")
        if flag not in names:
            _usage(f"unknown option {arg!r}")
        if not eq:
            value = next(it, None)  # type: ignore[assignment]
            if value is None:
                _usage(f"{flag} needs a value")
        out[names[flag]] = value
    if ("spec" in out) == ("spec_file" in out):
        _usage("give the task with exactly one of --spec or --spec-file")
    for name in ("result_fd", "supervisor"):
        if name in out and not out[name].isdigit():
            _usage(f"--{name.replace('_', '-')} must be a number, got {out[name]!r}")
    return out


def _usage(problem: str) -> None:
    print(f"headwater.task: {problem}\n{USAGE}", file=sys.stderr)
    sys.exit(2)


def _read_spec(args: dict[str, str]) -> TaskSpec:
    from .exceptions import CommandError
    from .task import TaskSpec

    if "spec_file" in args:
        try:
            with open(args["spec_file"], encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise CommandError(f"cannot read the task spec {args['spec_file']}: {exc}") from None
    else:
        text = sys.stdin.read() if args["spec"] == "-" else args["spec"]
    try:
        return TaskSpec.from_json(text)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"the task spec is not valid: {exc}") from None


def _supervise(pid: int) -> None:
    """Die with the process that started us, taking the step's own processes along."""
    def stop(signum: int, frame: Any) -> None:
        try:
            os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(1)

    signal.signal(signal.SIGTERM, stop)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != pid:  # it died before we asked
        os._exit(1)


# -- the flow's code --------------------------------------------------------------------------

def load_flow(spec: TaskSpec) -> tuple[type, Any]:
    """The flow class (from the code the run recorded) and its graph, built as the run did."""
    from .build import prepare_flow
    from .exceptions import CommandError

    code = spec.code or {}
    if not code.get("file") or not code.get("cls"):
        raise CommandError("the task spec does not say which flow to run (code.file, code.cls).")
    folder = code_folder(spec)
    module = _import_flow(folder, code["file"], code.get("module") or "__main__")
    flow_cls = getattr(module, code["cls"], None)
    if not isinstance(flow_cls, type):
        raise CommandError(f"{code['file']} defines no flow class {code['cls']!r}.")
    configs = _config_values(spec, flow_cls)
    from .plugins import decorator_from_spec

    graph, _ = prepare_flow(flow_cls, config_values=configs,
                            extra_decorators=[decorator_from_spec(s) for s in spec.decospecs])
    return flow_cls, graph


def code_folder(spec: TaskSpec) -> str:
    """Where the flow's files are: the run's own folder if this machine has it, else the code
    package unpacked into a cache folder named by its key."""
    from .exceptions import CommandError

    code = spec.code or {}
    here = code.get("dir")
    if here and os.path.isfile(os.path.join(here, code["file"])):
        return here
    key = code.get("key")
    if not key:
        raise CommandError(
            f"the flow file {code['file']} is not in {here or 'this machine'} and the run has no "
            "code package to unpack.")
    import tempfile

    from .datastore.codepackage import read_package
    from .datastore.datastore import open_datastore

    cache = os.path.join(os.environ.get("HEADWATER_CODE_CACHE") or tempfile.gettempdir(),
                         "headwater-code", key)
    if not os.path.isdir(cache):
        files = read_package(open_datastore(spec.root).blobs.load_bytes(key))
        staging = f"{cache}.{os.getpid()}.tmp"
        for name, data in files.items():
            target = os.path.join(staging, name)
            if not os.path.realpath(target).startswith(os.path.realpath(staging) + os.sep):
                continue  # never write outside the folder, whatever the archive says
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
        try:
            os.rename(staging, cache)  # atomic: a concurrent task sees all the files or none
        except OSError:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)  # another task unpacked it first
    return cache


def _import_flow(folder: str, file: str, module_name: str) -> Any:
    """Execute the flow file as the run did: as ``__main__`` (so pickled classes defined in it
    resolve), without starting its command line; or import it by module name."""
    import importlib.util

    from . import flowspec

    if folder not in sys.path:
        sys.path.insert(0, folder)
    path = os.path.join(folder, file)
    if module_name != "__main__":
        return importlib.import_module(module_name)
    spec = importlib.util.spec_from_file_location("__main__", path)
    if spec is None or spec.loader is None:
        from .exceptions import CommandError

        raise CommandError(f"cannot load the flow file {path}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules["__main__"] = module
    flowspec._LOADED_FOR_TASK = True
    try:
        spec.loader.exec_module(module)
    finally:
        flowspec._LOADED_FOR_TASK = False
    return module


def _config_values(spec: TaskSpec, flow_cls: type) -> dict[str, Any]:
    from .configs import flow_configs

    configs = flow_configs(flow_cls)
    if not configs:
        return {}
    params = spec.params if spec.params is not None else _params_refs(spec)
    from .datastore.datastore import open_datastore

    blobs = open_datastore(spec.root).blobs
    return {c.attr: blobs.load(params[c.attr][0]) for c in configs if c.attr in params}


def _params_refs(spec: TaskSpec) -> dict[str, Any]:
    from .metadata.vocabulary import PARAMS_TASK
    from .task import LazyArtifacts

    return LazyArtifacts(spec.metadata).artifacts_of(spec.flow, spec.run, PARAMS_TASK, 0)


# -- running and recording ----------------------------------------------------------------------

def _run(spec: TaskSpec, flow_cls: type, graph: Any) -> dict[str, Any]:
    from .task import run_attempt

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    return run_attempt(spec, flow_cls, graph)


def _write_result(fd: int, result: dict[str, Any]) -> None:
    import pickle

    sys.stdout.flush()
    sys.stderr.flush()
    with os.fdopen(fd, "wb") as f:
        f.write(pickle.dumps(result, protocol=5))


def _no_result(args: dict[str, str]) -> None:
    """Nothing to report: close the result pipe so the scheduler sees the exit alone."""
    fd = args.get("result_fd")
    if fd is not None:
        try:
            os.close(int(fd))
        except OSError:
            pass


def record_attempt(spec: TaskSpec, flow_cls: type, graph: Any) -> dict[str, Any]:
    """Run the attempt with nobody listening: record it through the metadata writer, with
    heartbeats while it runs and its output in the datastore's logs."""
    import threading

    from .datastore.datastore import open_datastore
    from .metadata import open_writer
    from .metadata.vocabulary import Status
    from .user import hostname

    md = open_writer(spec.metadata)
    ds = open_datastore(spec.root)
    md.new_task(spec.flow, spec.run, spec.task_id, spec.step, foreach_stack=spec.frames or None,
                parents=[p[0] for p in spec.parents], exist_ok=True)
    md.start_attempt(spec.flow, spec.run, spec.task_id, spec.attempt, host=hostname(), pid=os.getpid())
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                md.heartbeat(spec.flow, spec.run, [(spec.task_id, spec.attempt)])
            except Exception:  # noqa: BLE001 - a missed heartbeat is not worth failing the task
                pass

    threading.Thread(target=beat, daemon=True, name="headwater-heartbeat").start()
    with captured(ds, spec):
        result = _run(spec, flow_cls, graph)
    stop.set()
    ok = bool(result.get("ok"))
    from .task import TRANSITION_KEYS

    with md.transaction():  # the outcome and the task's facts together
        md.finish_attempt(
            spec.flow, spec.run, spec.task_id, spec.attempt,
            status=Status.SUCCEEDED if ok else Status.FAILED,
            exit_reason=None if ok else "the step raised an exception",
            exception=result.get("exception"), artifacts=result.get("artifacts", ()),
            task_final=ok or spec.attempt >= spec.max_retries,
            host_pid=(result.get("host"), result.get("pid")),
            transition={k: result[k] for k in TRANSITION_KEYS if k in result} if ok else None,
        )
        if result.get("python_version"):
            md.set_task_meta(spec.flow, spec.run, spec.task_id, {"python_version": result["python_version"]})
    if ok and not result.get("next"):  # the end step: the run is done
        md.finish_run(spec.flow, spec.run, Status.SUCCEEDED)
    md.close()
    return result


class captured:
    """Copy what the attempt prints (its processes too) into the datastore's logs, and on to
    this process's own output (or to ``echo(stream, lines)``), line by line with the time
    each was printed."""

    def __init__(self, ds: Any, spec: TaskSpec, echo: Any = None) -> None:
        self.ds, self.spec, self.echo = ds, spec, echo

    def __enter__(self) -> captured:
        import threading

        self.threads = []
        self.saved = []
        for fd, stream in ((1, "stdout"), (2, "stderr")):
            (sys.stdout if fd == 1 else sys.stderr).flush()
            read, write = os.pipe()
            original = os.dup(fd)
            os.dup2(write, fd)
            os.close(write)
            self.saved.append((fd, original))
            s = self.spec
            writer = self.ds.log_writer(s.flow, s.run, s.step, s.task_id, s.attempt, stream)
            echo = None if self.echo is None else (lambda texts, stream=stream: self.echo(stream, texts))
            t = threading.Thread(target=_pump, args=(read, original, writer, echo), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, original in self.saved:
            os.dup2(original, fd)  # closes our pipe's last write end: the pump sees EOF
        for t in self.threads:
            t.join(timeout=10)
        for _, original in self.saved:
            os.close(original)


def _pump(read: int, original: int, writer: Any, echo: Any = None) -> None:
    import time

    partial = b""
    with os.fdopen(read, "rb", buffering=0) as f:
        while True:
            data = f.read(1 << 16)
            if not data:
                break
            if echo is None:
                try:
                    os.write(original, data)
                except OSError:
                    pass
            *lines, partial = (partial + data).split(b"\n")
            now = time.time()
            texts = [line.decode("utf-8", "replace") for line in lines]
            for text in texts:
                writer.write(now, text)
            writer.flush()
            if echo is not None and texts:
                echo(texts)
    if partial:
        text = partial.decode("utf-8", "replace")
        writer.write(time.time(), text)
        if echo is not None:
            echo([text])
    writer.close()
