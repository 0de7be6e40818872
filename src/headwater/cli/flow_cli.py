"""``python flow.py <command>``: the commands of a flow file.

Thin on purpose: parse the command line, call the runtime or the client, print. Every
Headwater error becomes one red headline plus the message, with a non-zero exit code.

    python flow.py [--config NAME PATH] [--config-value NAME JSON] COMMAND ...
        run | check | show | output-dot | logs | dump | tag
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ..exceptions import CommandError, HeadwaterException, LintError


def main(flow_cls: type) -> None:
    """Entry point called by ``FlowSpec.__init__`` when the flow file runs as a script."""
    try:
        cli = build_cli(flow_cls)
        cli.main(args=sys.argv[1:], prog_name=os.path.basename(sys.argv[0]), standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HeadwaterException as exc:
        report(exc)
        sys.exit(exc.exit_code)
    sys.exit(0)


def report(exc: HeadwaterException) -> None:
    red = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    head = f"\x1b[1;31m{exc.headline}\x1b[0m" if red else exc.headline
    if isinstance(exc, LintError):
        click.echo(f"{head}: {len(exc.findings)} problem{'s' if len(exc.findings) != 1 else ''} found", err=True)
        for finding in exc.findings:
            click.echo(f"  {finding}", err=True)
        return
    text = str(exc)
    if "\n" in text:
        click.echo(f"{head}:", err=True)
        for line in text.splitlines():
            click.echo(f"  {line}", err=True)
    else:
        click.echo(f"{head}: {text}", err=True)


class _Obj:
    """State shared by the subcommands of one invocation."""

    def __init__(self, flow_cls: type, config_paths: dict[str, str], config_texts: dict[str, str],
                 datastore_root: str | None, quiet: bool, decospecs: tuple[str, ...]) -> None:
        self.flow_cls = flow_cls
        self.config_paths = config_paths
        self.config_texts = config_texts
        self.datastore_root = datastore_root
        self.quiet = quiet
        self.decospecs = decospecs
        self._prepared: tuple[Any, dict[str, Any]] | None = None

    @property
    def script(self) -> str:
        return sys.argv[0] or "flow.py"

    def prepare(self) -> tuple[Any, dict[str, Any]]:
        if self._prepared is None:
            from ..runtime.launch import prepare_flow

            self._prepared = prepare_flow(
                self.flow_cls, config_paths=self.config_paths, config_texts=self.config_texts,
                extra_decorators=_decorators_from_specs(self.decospecs),
            )
        return self._prepared

    def root(self, create: bool = False) -> Path:
        from ..datastore.root import find_root

        return find_root(self.datastore_root, create=create)


def _decorators_from_specs(specs: tuple[str, ...]) -> list[Any]:
    from ..plugins import decorator_from_spec

    env = os.environ.get("HEADWATER_DEFAULT_DECOSPECS", "")
    all_specs = [s for s in env.split() if s] + list(specs)
    return [decorator_from_spec(s) for s in all_specs]


def build_cli(flow_cls: type) -> click.Group:
    from ..parameters import check_parameter_names, flow_parameters

    check_parameter_names(flow_cls)

    @click.group(help=f"Commands of the flow {flow_cls.__name__}.", context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--config", "configs", nargs=2, multiple=True, metavar="NAME PATH",
                  help="Read the Config NAME from the JSON file PATH.")
    @click.option("--config-value", "config_values", nargs=2, multiple=True, metavar="NAME JSON",
                  help="Give the Config NAME as an inline JSON string.")
    @click.option("--datastore-root", envvar="HEADWATER_HOME", default=None,
                  help="The .headwater directory to use (default: nearest one upwards, else ./.headwater).")
    @click.option("--with", "decospecs", multiple=True, metavar="DECORATOR",
                  help="Add a decorator to every step, e.g. --with retry:times=2.")
    @click.option("--quiet", is_flag=True, help="Print only the summary, not the tasks' output.")
    @click.pass_context
    def cli(ctx: click.Context, configs: tuple, config_values: tuple, datastore_root: str | None,
            decospecs: tuple, quiet: bool) -> None:
        ctx.obj = _Obj(flow_cls, dict(configs), dict(config_values), datastore_root, quiet, decospecs)

    @cli.command(help="Validate the flow: report every problem with file:line.")
    @click.pass_obj
    def check(obj: _Obj) -> None:
        graph, _ = obj.prepare()
        click.echo(f"{flow_cls.__name__}: {len(graph)} steps, no problems found.")

    @cli.command(help="Show the steps, their docstrings and transitions.")
    @click.pass_obj
    def show(obj: _Obj) -> None:
        from .show import show_graph

        graph, _ = obj.prepare()
        click.echo(show_graph(graph))

    @cli.command("output-dot", help="Print the graph in Graphviz DOT (pipe to `dot -Tpng`).")
    @click.pass_obj
    def output_dot(obj: _Obj) -> None:
        graph, _ = obj.prepare()
        click.echo(graph.output_dot(), nl=False)

    run_params = [_param_option(p) for p in flow_parameters(flow_cls)]

    def start(obj: _Obj, *, params: dict[str, Any] | None, resume: tuple[str | None, str | None] | None,
              tags: tuple[str, ...], max_workers: int, max_num_splits: int, run_id_file: str | None,
              executor: str, max_cpu: float | None, max_memory: float | None, quiet: bool) -> None:
        from ..client.tags import validate_tags
        from ..runtime.console import Console
        from ..runtime.launch import launch_run
        from ..user import current_user

        graph, configs = obj.prepare()
        validate_tags(tags)
        _, ok = launch_run(
            flow_cls, graph, params=params or {}, configs=configs, root=obj.root(create=True),
            user=current_user(), tags=list(tags), max_workers=max_workers, max_num_splits=max_num_splits,
            console=Console(quiet=quiet or obj.quiet), script=obj.script, run_id_file=run_id_file,
            executor_name=executor, resume=resume, max_cpu=max_cpu, max_memory=max_memory,
        )
        if not ok:
            sys.exit(1)

    @click.pass_obj
    def run(obj: _Obj, **options: Any) -> None:
        from ..runtime.launch import resolve_parameters
        from ..user import current_user

        obj.prepare()
        given = {p.name: options.pop(_dest(p), None) for p in flow_parameters(flow_cls)}
        params = resolve_parameters(flow_cls, given, user=current_user())
        start(obj, params=params, resume=None, **options)

    @click.pass_obj
    def resume(obj: _Obj, step: str | None, origin_run_id: str | None, **options: Any) -> None:
        start(obj, params=None, resume=(origin_run_id, step), **options)

    cli.add_command(click.Command(
        "run", callback=run, help="Run the flow locally, steps in parallel where the graph allows.",
        params=[*_run_options(), *run_params],
    ))
    cli.add_command(click.Command(
        "resume", callback=resume,
        help="Re-run the latest run (or --origin-run-id) from its failed steps, or from STEP, "
             "reusing every task that already succeeded.",
        params=[
            click.Argument(["step"], required=False),
            click.Option(["--origin-run-id"], default=None, help="The run to resume (default: your latest)."),
            *_run_options(),
        ],
    ))

    from .card_cmds import add_card_commands
    from .inspect_cmds import add_inspect_commands

    add_inspect_commands(cli, flow_cls)
    add_card_commands(cli, flow_cls)
    return cli


def _run_options() -> list[click.Option]:
    return [
        click.Option(["--tag", "tags"], multiple=True, help="Tag the run (repeatable)."),
        click.Option(["--max-workers"], type=click.IntRange(min=1), default=16, show_default=True,
                     help="How many tasks may run at once."),
        click.Option(["--max-num-splits"], type=click.IntRange(min=1), default=100, show_default=True,
                     help="The most tasks one foreach may start."),
        click.Option(["--max-cpu"], type=click.FloatRange(min=0.1), default=None,
                     help="Run tasks at once only while their @resources(cpu=...) fit in this many CPUs."),
        click.Option(["--max-memory"], type=click.FloatRange(min=1), default=None,
                     help="Likewise for @resources(memory=...), in MB."),
        click.Option(["--run-id-file"], default=None, help="Write the run id to this file."),
        click.Option(["--quiet"], is_flag=True, help="Print only the summary, not the tasks' output."),
        click.Option(["--executor"], default="fork", show_default=True,
                     type=click.Choice(["fork", "inprocess"]),
                     help="fork: warm isolated processes; inprocess: one at a time, for pdb."),
    ]


def _dest(param: Any) -> str:
    return "param_" + param.attr


def _param_option(param: Any) -> click.Option:
    names = [f"--{param.name}"]
    if "_" in param.name:
        names.append("--" + param.name.replace("_", "-"))
    help_text = param.help or ""
    if param.show_default and param.default is not None and not callable(param.default):
        help_text += f"  [default: {param.default!r}]"
    help_text += f"  [env: {param.env_name}]"
    kwargs: dict[str, Any] = {"default": None, "help": help_text.strip(), "metavar": param.type_name.upper()}
    if param.type is bool:
        kwargs.update(is_flag=False, flag_value="true")
    return click.Option([*names, _dest(param)], **kwargs)


def fail(message: str) -> None:
    raise CommandError(message)
