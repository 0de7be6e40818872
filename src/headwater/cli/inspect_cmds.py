"""``logs``, ``dump`` and ``tag``: look at past runs of this flow from its own file."""

from __future__ import annotations

import pickle

import click

from ..exceptions import CommandError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


def _parse(flow_name: str, spec: str, *, need_step: bool = True) -> tuple[str, str | None, str | None]:
    parts = [p for p in spec.strip("/").split("/") if p]
    if parts and parts[0] == flow_name:
        parts = parts[1:]
    if not parts or len(parts) > 3 or (need_step and len(parts) < 2):
        raise CommandError(
            f"{spec!r} is not a valid path; write RUN/STEP or RUN/STEP/TASK, e.g. 12/train or 12/train/3."
        )
    run = parts[0]
    if not run.isdigit():
        raise CommandError(f"{spec!r}: the run id {run!r} is not a number; list runs with `headwater runs {flow_name}`.")
    return run, (parts[1] if len(parts) > 1 else None), (parts[2] if len(parts) > 2 else None)


def _tasks(flow_name: str, spec: str) -> list[Any]:
    """The tasks PATH names, read from the datastore the command chose (``use_datastore``)."""
    from ..client import Run, namespace

    namespace(None)
    run_id, step_name, task_id = _parse(flow_name, spec)
    run = Run(f"{flow_name}/{run_id}")
    step = run[step_name]
    return [step[task_id]] if task_id else sorted(step.tasks(), key=lambda t: int(t.id))


def _silent_note(task: Any, streams: list[str], script: str) -> str:
    """Why ``logs`` of ``task`` printed nothing, and which attempt did print, if one did."""
    from ..client import Task

    shown = task.current_attempt
    note = f"{task.pathspec} printed nothing" + (f" on {streams[0]}" if len(streams) == 1 else "")
    note += f" in attempt {shown}." if len(task.attempts) > 1 else "."
    for number in sorted(task.attempts, reverse=True):
        if number == shown:
            continue
        other = Task(task.pathspec, attempt=number)
        found = [s for s in streams if any(True for _ in other.loglines(s))]
        if found:
            run, step, task_id = task.pathspec.split("/")[1:]
            flags = f" --{found[0]}" if len(streams) == 1 else ""
            note += (f" Attempt {number} printed on {' and '.join(found)}: "
                     f"python {script} logs {run}/{step}/{task_id} --attempt {number}{flags}")
            break
    return note


def add_inspect_commands(cli: click.Group, flow_cls: type) -> None:
    flow_name = flow_cls.__name__

    @cli.command(help="Print a task's output. PATH is RUN/STEP or RUN/STEP/TASK. With --stdout "
                      "or --stderr, only that stream's text, without headers (to pipe it).")
    @click.argument("path")
    @click.option("--stdout", "only", flag_value="stdout", help="Only standard output.")
    @click.option("--stderr", "only", flag_value="stderr", help="Only standard error.")
    @click.option("--attempt", type=int, default=None, help="An earlier attempt (0 is the first).")
    @click.option("--timestamps", is_flag=True, help="Prefix each line with the time it was printed.")
    @click.pass_obj
    def logs(obj: Any, path: str, only: str | None, attempt: int | None, timestamps: bool) -> None:
        obj.use_datastore()
        from ..client import Task

        streams = [only] if only else ["stdout", "stderr"]
        tasks = _tasks(flow_name, path)
        silent = []
        for task in tasks:
            if attempt is not None:
                task = Task(task.pathspec, attempt=attempt)
            printed = False
            for stream in streams:
                lines = list(task.loglines(stream))
                if not lines:
                    continue
                printed = True
                if not only:
                    click.secho(f"--- {task.pathspec} {stream} (attempt {task.current_attempt})", dim=True)
                for when, text in lines:
                    click.echo(f"{when.isoformat(sep=' ', timespec='milliseconds')} {text}" if timestamps else text)
            if not printed:
                silent.append(task)
        # What printed nothing is said on stderr, so that piped output stays the log text only.
        if len(tasks) == 1 and silent:
            click.echo(_silent_note(silent[0], streams, obj.script), err=True)
        elif tasks and len(silent) == len(tasks):
            click.echo(f"No task of {path} printed {f'on {only}' if only else 'anything'}.", err=True)
            # A retried task's earlier attempt may have printed (a traceback): point at it.
            for task in silent:
                if len(task.attempts) > 1:
                    note = _silent_note(task, streams, obj.script)
                    if "Attempt " in note:
                        click.echo(note, err=True)

    @cli.command(help="Print the artifacts of a step's tasks. PATH is RUN/STEP or RUN/STEP/TASK.")
    @click.argument("path")
    @click.option("--include", default=None, help="Only these artifacts (comma-separated).")
    @click.option("--file", "out_file", default=None,
                  help="Write the values to this pickle file instead: {'RUN/STEP/TASK': {name: value}}, "
                       "keyed without the flow name as in Metaflow.")
    @click.option("--max-value-size", type=int, default=None,
                  help="Truncate printed values to this many characters (default: 200 in the overview "
                       "of every artifact; no limit for the names given with --include).")
    @click.option("--private", is_flag=True, help="Also the artifacts whose names start with _.")
    @click.pass_obj
    def dump(obj: Any, path: str, include: str | None, out_file: str | None, max_value_size: int | None,
             private: bool) -> None:
        obj.use_datastore()
        # Asking for an artifact by name means wanting to see it: only the overview is cut short.
        if max_value_size is None:
            max_value_size = 0 if include else 200
        wanted = {n.strip() for n in include.split(",")} if include else None
        dumped: dict[str, dict[str, Any]] = {}
        cut: list[str] = []
        for task in _tasks(flow_name, path):
            # Names given with --include are found even when they start with _.
            every = task._artifact_map() if private or wanted else task._visible()
            names = [n for n in every if wanted is None or n in wanted]
            if wanted:
                missing = wanted - set(names)
                if missing:
                    raise CommandError(f"{task.pathspec} has no artifact {', '.join(sorted(missing))}.")
            values = {name: task[name].data for name in names}
            dumped[task.pathspec.split("/", 1)[1]] = values  # Metaflow's keys: no flow name
            if out_file is None:
                click.secho(f"{task.pathspec}", bold=True)
                for name, value in values.items():
                    text = repr(value)
                    if max_value_size > 0 and len(text) > max_value_size:
                        text = text[: max_value_size - 3] + "..."
                        cut.append(name)
                    click.echo(f"  {name} = {text}")
        if cut and not include:
            click.secho(f"(values longer than {max_value_size} characters were shortened; "
                        f"`python {obj.script} dump {path} --include {cut[0]}` prints one whole)", dim=True)
        if out_file:
            with open(out_file, "wb") as f:
                pickle.dump(dumped, f, protocol=5)
            click.echo(f"Wrote {sum(len(v) for v in dumped.values())} artifacts of {len(dumped)} tasks to {out_file}.")

    @cli.group(help="List or change the tags of a run.")
    def tag() -> None:
        pass

    def _run(run_id: str | None) -> Any:
        from ..client import Flow, Run, namespace

        namespace(None)
        if run_id is None:
            run = Flow(flow_name).latest_run
            if run is None:
                raise CommandError(f"{flow_name} has no runs yet.")
            return run
        return Run(f"{flow_name}/{run_id}")

    @tag.command("list", help="Show the tags of a run (default: the latest).")
    @click.option("--run-id", default=None)
    @click.option("--flat", is_flag=True, help="Only the tags, one per line (to pipe them).")
    @click.option("--hide-system-tags", is_flag=True, help="Only the user tags.")
    @click.pass_obj
    def tag_list(obj: Any, run_id: str | None, flat: bool, hide_system_tags: bool) -> None:
        obj.use_datastore()
        run = _run(run_id)
        if flat:
            tags = run.user_tags if hide_system_tags else run.user_tags | run.system_tags
            for name in sorted(tags):
                click.echo(name)
            return
        click.echo(f"{run.pathspec}")
        click.echo("  user tags:   " + (", ".join(sorted(run.user_tags)) or "(none)"))
        if not hide_system_tags:
            click.echo("  system tags: " + ", ".join(sorted(run.system_tags)))

    for verb, method in (("add", "add_tags"), ("remove", "remove_tags")):

        def make(verb: str = verb, method: str = method) -> None:
            @tag.command(verb, help=f"{verb.capitalize()} tags on a run (default: the latest).")
            @click.argument("tags", nargs=-1, required=True)
            @click.option("--run-id", default=None)
            @click.pass_obj
            def _cmd(obj: Any, tags: tuple[str, ...], run_id: str | None) -> None:
                obj.use_datastore()
                run = _run(run_id)
                getattr(run, method)(list(tags))
                click.echo(f"{run.pathspec}: " + (", ".join(sorted(run.user_tags)) or "(no user tags)"))

        make()

    @tag.command("replace", help="Replace tag OLD by NEW on a run (default: the latest).")
    @click.argument("old")
    @click.argument("new")
    @click.option("--run-id", default=None)
    @click.pass_obj
    def tag_replace(obj: Any, old: str, new: str, run_id: str | None) -> None:
        obj.use_datastore()
        run = _run(run_id)
        run.replace_tag(old, new)
        click.echo(f"{run.pathspec}: " + (", ".join(sorted(run.user_tags)) or "(no user tags)"))
