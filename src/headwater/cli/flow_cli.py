"""``python flow.py <command>`` in click: help, usage, errors, and every command.

``commands.main`` sends plain ``run``/``resume``/``check`` command lines past this module
(see ``options.py``); everything else, including every mistake, lands here. The options
come from the tables in ``options.py``, so both parsers read the same ones.

    python flow.py [--config NAME PATH] [--config-value NAME JSON] COMMAND ...
        run | resume | check | show | output-dot | logs | dump | tag | card
"""

from __future__ import annotations

import os
import sys

import click

from . import commands
from .options import GROUP_OPTIONS, RESUME_OPTIONS, RUN_OPTIONS, Invocation, Opt, parameter_flags

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

FlowContext = commands.FlowContext


def run_click(flow_cls: type) -> None:
    """Parse ``sys.argv`` with click and run the command (errors are click's own)."""
    cli = build_cli(flow_cls)
    try:
        cli.main(args=sys.argv[1:], prog_name=os.path.basename(sys.argv[0]), standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


def build_cli(flow_cls: type, execute: Callable[[type, Invocation], None] = commands.execute) -> click.Group:
    """The click group of ``flow_cls``; ``run``, ``resume`` and ``check`` hand an
    :class:`Invocation` to ``execute`` (tests pass their own to compare with the quick parser).
    """
    from ..parameters import flow_parameters

    parameters = flow_parameters(flow_cls)

    def group(ctx: click.Context, **group_options: Any) -> None:
        ctx.obj = FlowContext(flow_cls, group_options)

    cli = click.Group(
        help=f"Commands of the flow {flow_cls.__name__}.", callback=click.pass_context(group),
        params=[_click_option(o) for o in GROUP_OPTIONS],
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @cli.command(help="Validate the flow: report every problem with file:line.")
    @click.pass_obj
    def check(obj: FlowContext) -> None:
        execute(flow_cls, Invocation("check", obj.group, {}))

    @cli.command(help="Show the steps, their docstrings and transitions.")
    @click.pass_obj
    def show(obj: FlowContext) -> None:
        from .show import show_graph

        graph, _ = obj.prepare()
        click.echo(show_graph(graph))

    @cli.command("output-dot", help="Print the graph in Graphviz DOT (pipe to `dot -Tpng`).")
    @click.pass_obj
    def output_dot(obj: FlowContext) -> None:
        graph, _ = obj.prepare()
        click.echo(graph.output_dot(), nl=False)

    @click.pass_obj
    def run(obj: FlowContext, **options: Any) -> None:
        given = {p.name: options.pop(_dest(p)) for p in parameters}
        execute(flow_cls, Invocation("run", obj.group, options, given))

    @click.pass_obj
    def resume(obj: FlowContext, step: str | None, **options: Any) -> None:
        execute(flow_cls, Invocation("resume", obj.group, options, None, step))

    cli.add_command(click.Command(
        "run", callback=run, help="Run the flow locally, steps in parallel where the graph allows.",
        params=[*(_click_option(o) for o in RUN_OPTIONS), *(_param_option(p) for p in parameters)],
    ))
    cli.add_command(click.Command(
        "resume", callback=resume,
        help="Re-run the latest run (or --origin-run-id) from its failed steps, or from STEP, "
             "reusing every task that already succeeded.",
        params=[click.Argument(["step"], required=False), *(_click_option(o) for o in RESUME_OPTIONS)],
    ))

    from .card_cmds import add_card_commands
    from .inspect_cmds import add_inspect_commands

    add_inspect_commands(cli, flow_cls)
    add_card_commands(cli, flow_cls)
    return cli


def _click_option(opt: Opt) -> click.Option:
    kwargs: dict[str, Any] = {"help": opt.help, "multiple": opt.multiple, "metavar": opt.metavar}
    if opt.kind == "switch":
        return click.Option(["/".join(opt.flags), opt.dest], default=opt.default,
                            show_default=True, help=opt.help)
    if opt.kind == "flag":
        kwargs["is_flag"] = True
    else:
        kwargs["default"] = opt.default
        kwargs["show_default"] = opt.default is not None
        if opt.nargs != 1:
            kwargs["nargs"] = opt.nargs
        if opt.envvar:
            kwargs["envvar"] = opt.envvar
        if opt.kind == "int":
            kwargs["type"] = click.IntRange(min=opt.minimum)
        elif opt.kind == "float":
            kwargs["type"] = click.FloatRange(min=opt.minimum)
            kwargs["callback"] = _finite
        elif opt.kind == "choice":
            kwargs["type"] = click.Choice(opt.choices)
    return click.Option([*opt.flags, opt.dest], **kwargs)


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and (value != value or value in (float("inf"), float("-inf"))):
        raise click.BadParameter(f"{value} is not a finite number.")
    return value


def _dest(param: Any) -> str:
    return "param_" + param.attr


def _param_option(param: Any) -> click.Option:
    names = list(parameter_flags(param))
    help_text = param.help or ""
    if param.show_default and param.default is not None and not callable(param.default):
        help_text += f"  [default: {param.default!r}]"
    help_text += f"  [env: {param.env_name}]"
    kwargs: dict[str, Any] = {"default": None, "help": help_text.strip(), "metavar": param.type_name.upper()}
    if param.type is bool:
        kwargs.update(is_flag=False, flag_value="true")
    return click.Option([*names, _dest(param)], **kwargs)
