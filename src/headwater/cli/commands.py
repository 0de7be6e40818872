"""``python flow.py ...``: the entry point and the commands that do not need click.

``main`` reads a plain ``run``/``resume``/``check`` command line with the quick parser
(``options.py``) and runs it from here; any other command line goes to the click group in
``flow_cli.py``, whose callbacks call the same functions. Every Headwater error becomes one
red headline plus the message, with a non-zero exit code.
"""

from __future__ import annotations

import os
import sys

from ..exceptions import HeadwaterException, LintError
from .options import Invocation, quick_parse

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


def main(flow_cls: type) -> None:
    """Entry point called by ``FlowSpec.__init__`` when the flow file runs as a script."""
    from ..parameters import check_parameter_names, flow_parameters

    try:
        if getattr(flow_cls, "_hw_flow_mutators", None):
            _prepare_early(flow_cls, sys.argv[1:])
        check_parameter_names(flow_cls)
        invocation = quick_parse(sys.argv[1:], flow_parameters(flow_cls))
        if invocation is None:
            from .flow_cli import run_click

            run_click(flow_cls)
        else:
            execute(flow_cls, invocation)
    except HeadwaterException as exc:
        report(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("Aborted.", file=sys.stderr)
        sys.exit(130)
    sys.exit(0)


# A flow mutator's pre_mutate() may add parameters, which the command line must know before
# it is parsed: such a flow is prepared from the options before the command, and the command
# reuses that preparation when it has the same configs and --with decorators.
_early: tuple[tuple[Any, ...], tuple[Any, dict[str, Any]]] | None = None


def _prepare_key(flow_cls: type, configs: dict[str, str], texts: dict[str, str],
                 decospecs: list[str]) -> tuple[Any, ...]:
    return (flow_cls, tuple(sorted(configs.items())), tuple(sorted(texts.items())), tuple(decospecs))


def _prepare_early(flow_cls: type, argv: list[str]) -> None:
    global _early
    from .options import group_options

    group = group_options(argv)
    if group is None:
        return
    env = os.environ.get("HEADWATER_DEFAULT_DECOSPECS", "")
    specs = [s for s in env.split() if s] + list(group["decospecs"])
    from ..runtime.launch import prepare_flow

    try:
        result = prepare_flow(flow_cls, config_paths=dict(group["configs"]),
                              config_texts=dict(group["config_values"]),
                              extra_decorators=_decorators_from_specs(specs))
    except HeadwaterException:
        return  # the command reports it, where it would have without mutators
    _early = (_prepare_key(flow_cls, dict(group["configs"]), dict(group["config_values"]), specs), result)


def report(exc: HeadwaterException) -> None:
    red = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    head = f"\x1b[1;31m{exc.headline}\x1b[0m" if red else exc.headline
    lines: list[str]
    if isinstance(exc, LintError):
        count = len(exc.findings)
        lines = [f"{head}: {count} problem{'s' if count != 1 else ''} found",
                 *(f"  {finding}" for finding in exc.findings)]
    elif "\n" in str(exc):
        lines = [f"{head}:", *(f"  {line}" for line in str(exc).splitlines())]
    else:
        lines = [f"{head}: {exc}"]
    sys.stdout.flush()
    print("\n".join(lines), file=sys.stderr, flush=True)


S3_ROOT_ENV = "HEADWATER_DATASTORE_SYSROOT_S3"


# Values of Metaflow's top-level options that need a capability Headwater does not have yet.
NOT_YET = {
    ("environment", "conda"): (
        "--environment conda: @conda environments are not available in Headwater yet. Use "
        "--environment local (the default): steps run with the packages of this interpreter."),
    ("environment", "pypi"): (
        "--environment pypi: @pypi environments are not available in Headwater yet. Use "
        "--environment local (the default): steps run with the packages of this interpreter."),
    ("environment", "uv"): (
        "--environment uv: uv environments are not available in Headwater yet. Use "
        "--environment local (the default): steps run with the packages of this interpreter."),
}


def check_group_options(group: dict[str, Any]) -> None:
    """Stop on a Metaflow option value that Headwater cannot honour yet."""
    for (dest, value), message in NOT_YET.items():
        if group.get(dest) == value:
            from ..exceptions import NotAvailableYet

            raise NotAvailableYet(message)


class FlowContext:
    """State shared by the commands of one invocation (the click group's ``obj``)."""

    def __init__(self, flow_cls: type, group: dict[str, Any]) -> None:
        check_group_options(group)
        # The choice reaches readers and task processes through its environment twin.
        if group["metadata"] != (os.environ.get("HEADWATER_DEFAULT_METADATA") or "local").strip().lower():
            os.environ["HEADWATER_DEFAULT_METADATA"] = group["metadata"]
        self.flow_cls = flow_cls
        self.group = group  # GROUP_OPTIONS by dest, as parsed
        self.config_paths = dict(group["configs"])
        self.config_texts = dict(group["config_values"])
        self.datastore_root: str | None = group["datastore_root"]
        self.quiet: bool = group["quiet"]
        self.decospecs: tuple[str, ...] = tuple(group["decospecs"])
        self._prepared: tuple[Any, dict[str, Any]] | None = None

    @property
    def script(self) -> str:
        return sys.argv[0] or "flow.py"

    @property
    def all_decospecs(self) -> list[str]:
        """``HEADWATER_DEFAULT_DECOSPECS``, then ``--with``: the decorators added to every step."""
        env = os.environ.get("HEADWATER_DEFAULT_DECOSPECS", "")
        return [s for s in env.split() if s] + list(self.decospecs)

    def prepare(self) -> tuple[Any, dict[str, Any]]:
        """The linted graph and the config values (once per invocation)."""
        key = _prepare_key(self.flow_cls, self.config_paths, self.config_texts, self.all_decospecs)
        if self._prepared is None and _early is not None and _early[0] == key:
            self._prepared = _early[1]
        if self._prepared is None:
            from ..runtime.launch import prepare_flow

            self._prepared = prepare_flow(
                self.flow_cls, config_paths=self.config_paths, config_texts=self.config_texts,
                extra_decorators=_decorators_from_specs(self.all_decospecs),
            )
        return self._prepared

    def root(self, create: bool = False) -> str:
        """The local folder of the run records (``.headwater``)."""
        from ..datastore.root import root_dir

        given = self.datastore_root
        return root_dir(None if given and given.startswith("s3://") else given, create=create)

    def datastore_url(self) -> str | None:
        """Where the bytes of a new run go, when not in the records' folder: an S3 URL."""
        from ..exceptions import CommandError

        given = self.datastore_root or ""
        kind = self.group.get("datastore") or ("s3" if given.startswith("s3://") else "local")
        if kind == "local":
            if given.startswith("s3://"):
                raise CommandError(f"--datastore-root {given} is on S3, but --datastore is local; "
                                   "use --datastore s3, or give a local folder.")
            return None
        url = given if given.startswith("s3://") else os.environ.get(S3_ROOT_ENV, "")
        if not url:
            raise CommandError(f"--datastore s3 needs a root: --datastore-root s3://bucket/prefix, "
                               f"or {S3_ROOT_ENV}=s3://bucket/prefix.")
        if not url.startswith("s3://"):
            raise CommandError(f"the S3 datastore root {url!r} must look like s3://bucket/prefix.")
        return url

    def use_datastore(self) -> None:
        """Resolve the datastore (``--datastore-root`` included) and point the client at it,
        for the commands that read past runs through the client."""
        from ..client.stores import use_datastore

        use_datastore(self.root())


def _decorators_from_specs(specs: list[str]) -> list[Any]:
    from ..plugins import decorator_from_spec

    return [decorator_from_spec(s) for s in specs]


def execute(flow_cls: type, invocation: Invocation) -> None:
    """Run a parsed ``run``, ``resume`` or ``check``."""
    ctx = FlowContext(flow_cls, invocation.group)
    if invocation.command == "check":
        check(ctx)
    elif invocation.command == "run":
        run(ctx, invocation.params, invocation.options)
    else:
        options = dict(invocation.options)
        origin = options.pop("origin_run_id")
        start(ctx, params=None, resume=(origin, invocation.step), **options)


def check(ctx: FlowContext) -> None:
    graph, _ = ctx.prepare()
    print(f"{ctx.flow_cls.__name__}: {len(graph)} steps, no problems found.")


def run(ctx: FlowContext, given: dict[str, str | None], options: dict[str, Any]) -> None:
    from ..runtime.launch import resolve_parameters
    from ..user import current_user

    ctx.prepare()
    params = resolve_parameters(ctx.flow_cls, given, user=current_user())
    start(ctx, params=params, resume=None, **options)


def start(ctx: FlowContext, *, params: dict[str, Any] | None,
          resume: tuple[str | None, str | None] | None, tags: tuple[str, ...], max_workers: int,
          max_num_splits: int, run_id_file: str | None, executor: str, max_cpu: float | None,
          max_memory: float | None, quiet: bool) -> None:
    from ..runtime.console import Console
    from ..runtime.launch import launch_run
    from ..tags import validate_tags
    from ..user import current_user

    graph, configs = ctx.prepare()
    validate_tags(tags)
    root = ctx.root(create=True)
    hooks = bool(getattr(ctx.flow_cls, "_hw_exit_hooks", None))
    started: list[int] = []
    try:
        run_id, ok = launch_run(
            ctx.flow_cls, graph, params=params or {}, configs=configs, root=root,
            datastore=ctx.datastore_url(),
            user=current_user(), tags=list(tags), max_workers=max_workers,
            max_num_splits=max_num_splits, console=Console(quiet=quiet or ctx.quiet),
            script=ctx.script, run_id_file=run_id_file, executor_name=executor, resume=resume,
            max_cpu=max_cpu, max_memory=max_memory, decospecs=ctx.all_decospecs,
            started=started.append,
        )
    except BaseException:
        if hooks and started:  # interrupted or broken after it started: the error hooks, as Metaflow
            from ..exit_hook import run_exit_hooks

            run_exit_hooks(ctx.flow_cls, run_id=started[0], ok=False, script=ctx.script, root=root)
        raise
    if hooks:
        from ..exit_hook import run_exit_hooks

        run_exit_hooks(ctx.flow_cls, run_id=run_id, ok=ok, script=ctx.script, root=root)
    if not ok:
        sys.exit(1)
