"""The ``headwater`` command: look at runs from any directory, start the UI.

    headwater flows                 every flow with its latest run
    headwater runs [FLOW]           recent runs: status, start, duration, tags
    headwater show PATHSPEC         a flow's runs; a run, step or task with its artifacts
    headwater ui                    browse everything in a browser
    headwater service --database U  the team metadata service (PostgreSQL), with the UI
"""

from __future__ import annotations

import sys
from datetime import datetime

import click

from ..exceptions import HeadwaterException

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


def main() -> None:
    try:
        cli.main(prog_name="headwater", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HeadwaterException as exc:
        from .commands import report

        report(exc)
        sys.exit(exc.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--datastore-root", envvar="HEADWATER_HOME", default=None,
              help="The .headwater directory (default: the nearest one upwards).")
@click.version_option(package_name="headwater")
def cli(datastore_root: str | None) -> None:
    """Headwater: look at your flows' runs, tasks, artifacts and logs."""
    from ..datastore.root import find_root

    ctx = click.get_current_context()
    ctx.obj = datastore_root
    if ctx.invoked_subcommand not in ("ui", "service"):  # `ui` takes its own --datastore-root
        # Fail early, with a clear message, when there is no datastore; the client reads
        # the one found (given explicitly, not through the environment).
        from ..client.stores import use_datastore

        use_datastore(find_root(datastore_root))


def _console() -> Any:
    from rich.console import Console

    return Console()


def _status(status: str) -> str:
    color = {"succeeded": "green", "failed": "red", "running": "yellow", "abandoned": "magenta"}.get(status, "white")
    return f"[{color}]{status}[/{color}]"


def _when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _duration(start: datetime | None, end: datetime | None) -> str:
    if not start:
        return "-"
    seconds = ((end or datetime.now(start.tzinfo)) - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.2f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@cli.command()
@click.option("--all-users", is_flag=True, help="Include everyone's runs, not only yours.")
def flows(all_users: bool) -> None:
    """Every flow with its latest run."""
    from rich.table import Table

    from ..client import Metaflow, namespace

    if all_users:
        namespace(None)
    table = Table("flow", "latest run", "status", "started", "runs")
    for flow in Metaflow().flows:
        run = flow.latest_run
        count = sum(1 for _ in flow)
        if run is None:
            continue
        table.add_row(flow.id, run.id, _status(run.status), _when(run.created_at), str(count))
    _console().print(table)


@cli.command()
@click.argument("flow", required=False)
@click.option("--limit", default=20, show_default=True, help="How many runs to show.")
@click.option("--tag", "tags", multiple=True, help="Only runs with this tag (repeatable).")
@click.option("--all-users", is_flag=True, help="Include everyone's runs, not only yours.")
def runs(flow: str | None, limit: int, tags: tuple[str, ...], all_users: bool) -> None:
    """Recent runs of FLOW (or of every flow): status, start, duration, tags."""

    from ..client import Flow, Metaflow, namespace

    if all_users:
        namespace(None)
    flows = [Flow(flow)] if flow else list(Metaflow().flows)
    table, shown, _ = _runs_table(flows, tags, limit)
    if not shown:
        click.echo("No runs found" + (f" for {flow}" if flow else "") + (" with those tags" if tags else "") + ".")
        return
    _console().print(table)


def _runs_table(flows: list[Any], tags: tuple[str, ...], limit: int) -> tuple[Any, int, int]:
    """The newest ``limit`` runs of ``flows`` as a table; how many are shown, how many exist."""
    from rich.table import Table

    table = Table("run", "status", "started", "duration", "user", "tags")
    shown = total = 0
    for f in flows:
        for run in f.runs(*tags):
            total += 1
            if shown >= limit:
                continue
            user = next((t[5:] for t in run.system_tags if t.startswith("user:")), "-")
            table.add_row(run.pathspec, _status(run.status), _when(run.created_at),
                          _duration(run.created_at, run.finished_at), user, ", ".join(sorted(run.user_tags)))
            shown += 1
    return table, shown, total


@cli.command()
@click.argument("pathspec")
@click.option("--limit", default=20, show_default=True, help="For a flow: how many of its runs to list.")
def show(pathspec: str, limit: int) -> None:
    """A flow (FLOW: its runs), run (FLOW/RUN), step (FLOW/RUN/STEP) or task (FLOW/RUN/STEP/TASK)."""
    from rich.markup import escape
    from rich.table import Table

    from ..client import Flow, Run, Step, Task, namespace
    from ..exceptions import CommandError

    namespace(None)
    parts = pathspec.strip("/").split("/")
    console = _console()
    if len(parts) == 1 and parts[0]:
        flow = Flow(parts[0])
        table, shown, total = _runs_table([flow], (), limit)
        latest = flow.latest_run
        console.print(f"[bold]{flow.id}[/bold]  {total} run{'s' if total != 1 else ''}"
                      + (f", the latest {latest.pathspec} {_status(latest.status)}" if latest else ""))
        if shown:
            console.print(table)
        if total > shown:
            console.print(f"[dim]{total - shown} older runs not shown: headwater show {flow.id} --limit {total}[/dim]")
        if latest is not None:
            console.print(f"[dim]Its steps and tasks: headwater show {latest.pathspec}[/dim]")
    elif len(parts) == 2:
        run = Run(pathspec)
        console.print(f"[bold]{run.pathspec}[/bold]  {_status(run.status)}  started {_when(run.created_at)}"
                      f"  took {_duration(run.created_at, run.finished_at)}")
        console.print(f"tags: {', '.join(sorted(run.tags))}")
        if run.parameters:
            console.print("parameters: " + ", ".join(f"{k}={v!r}" for k, v in run.parameters.items()))
        table = Table("step", "tasks", "succeeded", "failed", "running")
        for step in reversed(list(run)):
            tasks = list(step.tasks())
            ok = sum(1 for t in tasks if t.successful)
            done = sum(1 for t in tasks if t.finished)
            table.add_row(step.id, str(len(tasks)), str(ok), str(done - ok), str(len(tasks) - done))
        console.print(table)
    elif len(parts) == 3:
        step = Step(pathspec)
        table = Table("task", "status", "started", "duration", "index")
        for task in step.tasks():
            status = "succeeded" if task.successful else ("failed" if task.finished else "running")
            table.add_row(task.pathspec, _status(status), _when(task.created_at),
                          _duration(task.created_at, task.finished_at), str(task.index if task.index is not None else "-"))
        console.print(table)
    elif len(parts) == 4:
        task = Task(pathspec)
        status = "succeeded" if task.successful else ("failed" if task.finished else "running")
        console.print(f"[bold]{task.pathspec}[/bold]  {_status(status)}  attempt {task.current_attempt}")
        table = Table("artifact", "type", "size", "value")
        for art in task.artifacts:
            text = repr(art.data)
            table.add_row(art.id, art.type, f"{art.size:,} B", text if len(text) <= 80 else text[:77] + "...")
        console.print(table)
        if task.exception:
            exc = task.exception
            # escape: a message such as "index [3] out of range" is not rich markup
            console.print(f"[red]exception:[/red] {escape(str(exc))}", highlight=False)
        elif task.exit_reason and status == "failed":  # killed, timed out: no exception raised
            console.print(f"[red]why it failed:[/red] {escape(task.exit_reason)}", highlight=False)
        tail = task.stdout.splitlines()[-10:]
        if tail:
            console.print("[dim]last lines of stdout:[/dim]")
            for line in tail:
                console.print(line, markup=False, highlight=False)
    else:
        raise CommandError(f"{pathspec!r} is not a pathspec; write FLOW, FLOW/RUN, FLOW/RUN/STEP or FLOW/RUN/STEP/TASK.")


def _listening(default_port: int) -> Any:
    """The --host and --port options of a command that serves HTTP."""

    def add(command: Any) -> Any:
        command = click.option("--port", default=default_port, show_default=True, type=click.IntRange(0, 65535),
                               help="Port to listen on (0: any free port).")(command)
        return click.option("--host", default="127.0.0.1", show_default=True,
                            help="Interface to listen on. Anything but a loopback address needs --token.")(command)

    return add


@cli.command()
@_listening(8585)
@click.option("--token", default=None, metavar="SECRET", envvar="HEADWATER_UI_TOKEN",
              help="Require this secret (given once as ?token=..., then kept in a cookie). "
                   "HEADWATER_UI_TOKEN keeps it out of the process list.")
@click.option("--open", "open_browser", is_flag=True, help="Open the UI in a web browser.")
@click.option("--datastore-root", default=None, help="The .headwater directory to show.")
def ui(host: str, port: int, token: str | None, open_browser: bool, datastore_root: str | None) -> None:
    """Browse every flow, run, task, log, artifact and card in a web browser (read-only).

    Shows the datastore `headwater` found (see `headwater --datastore-root`).
    """
    from ..datastore.root import find_root
    from ..extras import missing

    try:  # starlette and uvicorn are imported here, not by `import headwater`
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401

        from ..ui.server import serve
    except ImportError as exc:
        raise missing(exc, "headwater ui") from None
    root = find_root(datastore_root or click.get_current_context().obj)
    try:
        serve(root, host=host, port=port, token=token, open_browser=open_browser, echo=click.echo)
    except KeyboardInterrupt:
        pass


@cli.command()
@click.option("--database", required=True, metavar="URL", envvar="HEADWATER_SERVICE_DATABASE",
              help="PostgreSQL to keep the records in: postgresql://USER[:PASSWORD]@HOST:PORT/DB "
                   "(HEADWATER_SERVICE_DATABASE keeps a password out of the process list).")
@_listening(8080)
@click.option("--token", default=None, metavar="SECRET", envvar="HEADWATER_SERVICE_AUTH_KEY",
              help="Require this secret from every client (their HEADWATER_SERVICE_AUTH_KEY), and "
                   "from the UI's visitors once, as ?token=....")
@click.option("--no-ui", is_flag=True, help="Serve only the API, not the UI.")
def service(database: str, host: str, port: int, token: str | None, no_ui: bool) -> None:
    """Run the team metadata service: every run of every machine recorded in PostgreSQL.

    It creates or migrates its tables at start (safe to run again, and with two services on one
    database). Flows and readers use it with HEADWATER_DEFAULT_METADATA=service (or
    --metadata service), HEADWATER_SERVICE_URL and HEADWATER_SERVICE_AUTH_KEY; the UI is served
    at the same address.
    """
    from ..service.server import serve

    try:
        serve(database, host=host, port=port, token=token, ui=not no_ui, echo=click.echo)
    except KeyboardInterrupt:
        pass
