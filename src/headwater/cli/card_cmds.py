"""``python flow.py card get|view|list``: the cards of a task.

    python flow.py card list 12/train/3              # index, type, id, hash, updated
    python flow.py card list 12/train/3 --as-json    # {"pathspec": ..., "cards": [{"type", "hash", ...}]}
    python flow.py card list --file cards.json       # every card of the latest run, as JSON
    python flow.py card get 12/train/3 out.html      # the HTML (stdout without FILE)
    python flow.py card get 12/train/3 --hash 9f1c   # the card whose hash starts with 9f1c
    python flow.py card view 12/train/3 --id report  # open it in a browser

PATHSPEC is RUN/STEP/TASK (the flow name may lead); RUN/STEP is enough when the step has a
single task, and ``card list`` accepts it for any step, or no PATHSPEC for the latest run.
``card get`` gives the card exactly as its render() returned it; ``card view`` shows a
fragment inside Headwater's page.

``card list --as-json`` has Metaflow's shapes: for one task an object ``{"pathspec":
"Flow/run/step/task", "cards": [{"type", "hash", "id", "filename", "index", "final"}, ...]}``;
for a whole run (no PATHSPEC) or a step of several tasks a list of those objects, one per task
that has matching cards. ``--file FILE`` writes that JSON to FILE instead of stdout.
"""

from __future__ import annotations

import json

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

    def chosen(obj: Any, task: Any, card_id: str | None, card_type: str | None, index: int | None,
               card_hash: str | None) -> Any:
        from ..cards import get_cards

        everything = get_cards(task)
        if not everything:
            raise ClientError(
                f"task {task.pathspec} has no cards. Add @card to the step {task.path_components[2]!r}, "
                f"or give every step a card with `python {obj.script} --with card run`. "
                "A task that has not finished may have none yet."
            )
        found = _matching(everything, card_id, card_type, index, card_hash)
        if not found:
            have = ", ".join(f"{c.index}: {c.type}" + (f" (id {c.id})" if c.id else "") + f" hash {c.hash[:8]}"
                             for c in everything)
            raise ClientError(f"task {task.pathspec} has no card matching "
                              f"{_wanted(card_id, card_type, index, card_hash)}; its cards are {have}.")
        if len(found) > 1:
            click.echo(f"{len(found)} cards match; using card {found[0].index}. Choose one with --id, "
                       "--type or --index (see `card list`).", err=True)
        return found[0]

    options = [
        click.option("--id", "card_id", default=None, help="The card with this id (@card(id=...))."),
        click.option("--type", "card_type", default=None, help="The card of this type (default, blank, ...)."),
        click.option("--index", "index", type=int, default=None, help="The card at this position (see list)."),
        click.option("--hash", "card_hash", default=None,
                     help="The card whose hash starts with this (see list; any leading part of it)."),
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
            index: int | None, card_hash: str | None) -> None:
        found = chosen(obj, one_task(obj, pathspec), card_id, card_type, index, card_hash)
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
    def view(obj: Any, pathspec: str, card_id: str | None, card_type: str | None, index: int | None,
             card_hash: str | None) -> None:
        import webbrowser
        from pathlib import Path

        from ..cards.client import save_temp

        found = chosen(obj, one_task(obj, pathspec), card_id, card_type, index, card_hash)
        path = save_temp(found.page(), found.pathspec, found.index)
        click.echo(path)
        try:
            webbrowser.open(Path(path).as_uri())
        except Exception as exc:  # noqa: BLE001 - no browser here: the path is printed anyway
            click.echo(f"Could not open a browser ({exc}); open the file above.", err=True)

    @card.command("list", help="List the cards of a task, of every task of a step, or (no PATHSPEC) "
                               "of the latest run.")
    @click.argument("pathspec", required=False)
    @with_options
    @click.option("--as-json", "as_json", is_flag=True, help="Print the list as JSON (Metaflow's shape).")
    @click.option("--file", "file", default=None, type=click.Path(dir_okay=False, writable=True),
                  help="Write the JSON list to FILE instead of printing it.")
    @click.pass_obj
    def list_(obj: Any, pathspec: str | None, card_id: str | None, card_type: str | None, index: int | None,
              card_hash: str | None, as_json: bool, file: str | None) -> None:
        from ..cards import get_cards

        obj.use_datastore()
        tasks, single = _listed_tasks(flow_name, pathspec)
        found = [(task, _matching(get_cards(task), card_id, card_type, index, card_hash)) for task in tasks]
        if as_json or file:
            entries = [{"pathspec": task.pathspec, "cards": [_as_json(c) for c in cards]}
                       for task, cards in found if cards or single]
            text = json.dumps(entries[0] if single else entries, indent=4)
            if file is None:
                click.echo(text)
                return
            with open(file, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            return
        wanted = _wanted(card_id, card_type, index, card_hash)
        for task, cards in found:
            if not cards:
                if single:
                    click.echo(f"{task.pathspec}: no cards" + (f" matching {wanted}." if wanted else "."))
                continue
            click.secho(f"{task.pathspec} (attempt {task.current_attempt})", bold=True)
            rows = [("index", "type", "id", "hash", "updated", "state")]
            for c in cards:
                rows.append((str(c.index), c.type, c.id or "-", c.hash[:8],
                             c.updated_at.isoformat(sep=" ", timespec="seconds"), "final" if c.final else "live"))
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for r in rows:
                click.echo("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
        if not single and not any(cards for _, cards in found):
            where = pathspec or (tasks[0].pathspec.rsplit("/", 2)[0] if tasks else "the latest run")
            click.echo(f"No task of {where} has cards" + (f" matching {wanted}." if wanted else "."))


def _listed_tasks(flow_name: str, pathspec: str | None) -> tuple[list[Any], bool]:
    """The tasks ``card list`` looks at, and whether PATHSPEC names one task (one JSON object)."""
    from .inspect_cmds import _parse, _tasks

    if pathspec is not None:
        tasks = _tasks(flow_name, pathspec)
        return tasks, _parse(flow_name, pathspec)[2] is not None or len(tasks) == 1
    from ..client import Flow

    run = Flow(flow_name).latest_run
    if run is None:
        raise ClientError(f"flow {flow_name} has no runs in the current namespace; name one as RUN/STEP.")
    tasks = []
    for step in reversed(list(run.steps())):
        tasks.extend(sorted(step.tasks(), key=lambda t: int(t.id)))
    return tasks, False


def _matching(cards: list[Any], card_id: str | None, card_type: str | None, index: int | None,
              card_hash: str | None) -> list[Any]:
    return [c for c in cards if (card_id is None or c.id == card_id) and (card_type is None or c.type == card_type)
            and (index is None or c.index == index) and (card_hash is None or c.hash.startswith(card_hash))]


def _as_json(c: Any) -> dict[str, Any]:
    """One card in ``card list --as-json``: Metaflow's four keys, then Headwater's two."""
    return {"type": c.type, "hash": c.hash, "id": c.id, "filename": c.path.replace("\\", "/").rsplit("/", 1)[-1],
            "index": c.index, "final": c.final}


def _wanted(card_id: str | None, card_type: str | None, index: int | None, card_hash: str | None = None) -> str:
    parts = [f"id {card_id!r}" if card_id else "", f"type {card_type!r}" if card_type else "",
             f"index {index}" if index is not None else "", f"hash {card_hash!r}" if card_hash else ""]
    return ", ".join(p for p in parts if p)
