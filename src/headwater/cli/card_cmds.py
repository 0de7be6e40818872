"""``python flow.py card get|view|list``: the cards of a task.

    python flow.py card list 12/train/3              # index, type, id, updated
    python flow.py card get 12/train/3 out.html      # the HTML (stdout without FILE)
    python flow.py card view 12/train/3 --id report  # open it in a browser

PATHSPEC is RUN/STEP/TASK (the flow name may lead); RUN/STEP is enough when the step has a
single task, and ``card list`` accepts it for any step.
"""

from __future__ import annotations

import click

from ..exceptions import ClientError, CommandError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


def add_card_commands(cli: click.Group, flow_cls: type) -> None:
    flow_name = flow_cls.__name__

    @cli.group(help="Show the cards of a task (see @card).")
    def card() -> None:
        pass

    def one_task(obj: Any, path: str) -> Any:
        from .inspect_cmds import _tasks

        obj.use_datastore()
        tasks = _tasks(flow_name, path)
        if len(tasks) != 1:
            ids = ", ".join(t.id for t in tasks[:10])
            raise CommandError(f"step {path!r} has {len(tasks)} tasks ({ids}); name one as RUN/STEP/TASK.")
        return tasks[0]

    def chosen(obj: Any, task: Any, card_id: str | None, card_type: str | None, index: int | None) -> Any:
        from ..cards import get_cards

        everything = get_cards(task)
        if not everything:
            raise ClientError(
                f"task {task.pathspec} has no cards. Add @card to the step {task.path_components[2]!r}, "
                f"or give every step a card with `python {obj.script} --with card run`. "
                "A task that has not finished may have none yet."
            )
        found = [c for c in everything if (card_id is None or c.id == card_id)
                 and (card_type is None or c.type == card_type) and (index is None or c.index == index)]
        if not found:
            have = ", ".join(f"{c.index}: {c.type}" + (f" (id {c.id})" if c.id else "") for c in everything)
            raise ClientError(f"task {task.pathspec} has no card matching {_wanted(card_id, card_type, index)}; "
                               f"its cards are {have}.")
        if len(found) > 1:
            click.echo(f"{len(found)} cards match; using card {found[0].index}. Choose one with --id, "
                       "--type or --index (see `card list`).", err=True)
        return found[0]

    options = [
        click.option("--id", "card_id", default=None, help="The card with this id (@card(id=...))."),
        click.option("--type", "card_type", default=None, help="The card of this type (default, blank, ...)."),
        click.option("--index", "index", type=int, default=None, help="The card at this position (see list)."),
    ]

    def with_options(f: Any) -> Any:
        for opt in reversed(options):
            f = opt(f)
        return f

    @card.command("get", help="Print a card's HTML, or write it to FILE.")
    @click.argument("pathspec")
    @click.argument("file", required=False, type=click.Path(dir_okay=False, writable=True))
    @with_options
    @click.pass_obj
    def get(obj: Any, pathspec: str, file: str | None, card_id: str | None, card_type: str | None,
            index: int | None) -> None:
        found = chosen(obj, one_task(obj, pathspec), card_id, card_type, index)
        text = found.get()
        if file is None:
            click.echo(text, nl=False)
            return
        with open(file, "w", encoding="utf-8") as f:
            f.write(text)
        click.echo(f"Wrote card {found.index} ({found.type}) of {found.pathspec} to {file}.", err=True)

    @card.command("view", help="Open a card in the web browser (from a temporary copy).")
    @click.argument("pathspec")
    @with_options
    @click.pass_obj
    def view(obj: Any, pathspec: str, card_id: str | None, card_type: str | None, index: int | None) -> None:
        import webbrowser
        from pathlib import Path

        from ..cards.client import save_temp

        found = chosen(obj, one_task(obj, pathspec), card_id, card_type, index)
        path = save_temp(found.get(), found.pathspec, found.index)
        click.echo(path)
        try:
            webbrowser.open(Path(path).as_uri())
        except Exception as exc:  # noqa: BLE001 - no browser here: the path is printed anyway
            click.echo(f"Could not open a browser ({exc}); open the file above.", err=True)

    @card.command("list", help="List the cards of a task, or of every task of a step.")
    @click.argument("pathspec")
    @click.pass_obj
    def list_(obj: Any, pathspec: str) -> None:
        from ..cards import get_cards
        from .inspect_cmds import _tasks

        obj.use_datastore()
        tasks = _tasks(flow_name, pathspec)
        total = 0
        for task in tasks:
            cards = get_cards(task)
            total += len(cards)
            if not cards:
                if len(tasks) == 1:
                    click.echo(f"{task.pathspec}: no cards.")
                continue
            click.secho(f"{task.pathspec} (attempt {task.current_attempt})", bold=True)
            rows = [("index", "type", "id", "updated", "state")]
            for c in cards:
                rows.append((str(c.index), c.type, c.id or "-",
                             c.updated_at.isoformat(sep=" ", timespec="seconds"), "final" if c.final else "live"))
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for r in rows:
                click.echo("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
        if len(tasks) > 1 and not total:
            click.echo(f"No task of {pathspec} has cards.")


def _wanted(card_id: str | None, card_type: str | None, index: int | None) -> str:
    parts = [f"id {card_id!r}" if card_id else "", f"type {card_type!r}" if card_type else "",
             f"index {index}" if index is not None else ""]
    return ", ".join(p for p in parts if p)
