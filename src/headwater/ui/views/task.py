"""``/<Flow>/<run>/<step>/<task>[?attempt=N]``: one attempt of a task, in full.

Status, timings and neighbours, the exception with its traceback, artifacts with previews,
stdout and stderr (followed live while the attempt runs) and the attempt's cards, each in a
sandboxed frame. Without ``attempt`` the latest attempt is shown; tabs switch between them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ...metadata.records import AttemptRow, TaskRow
from .. import cards, logs, previews
from ..html import Page, badge, count, duration, facts, h, href, section, size, table, when
from .common import Ctx, Live, NotFound, foreach_of, live_region, load_run, load_task

CHILDREN_SHOWN = 12
LOG_DONE_AFTER = 2.0  # seconds after an attempt ends before its log is taken as complete


def pick_attempt(ctx: Ctx, row: TaskRow) -> tuple[int, list[int]]:
    """The attempt asked for with ``?attempt=N`` (404 if unknown), else the latest."""
    numbers = [a.attempt for a in ctx.reader.attempts(row.flow, row.run, row.task_id)]
    asked = ctx.query.get("attempt")
    if asked is None or asked == "":
        return row.attempt, numbers
    if not asked.isdigit() or int(asked) not in numbers:
        known = ", ".join(str(n) for n in numbers) or "none yet"
        raise NotFound(f"Task {row.flow}/{row.run}/{row.step}/{row.task_id} has no attempt {asked[:20]} "
                       f"(its attempts: {known}).",
                       ("the latest attempt", href(row.flow, row.run, row.step, row.task_id)))
    return int(asked), numbers


def _status(row: TaskRow, attempt: AttemptRow | None, latest: bool, run_status: str) -> str:
    if attempt is None:
        status = "running" if row.status == "running" else row.status
    else:
        status = row.status if latest and attempt.status == "running" else attempt.status
    return "abandoned" if status == "running" and run_status == "abandoned" else status


def _neighbours(ctx: Ctx, row: TaskRow) -> list[tuple[str, str]]:
    out = []
    ids = row.parent_ids
    parents = ctx.reader.tasks(row.flow, row.run, ids[:CHILDREN_SHOWN])
    if parents:
        links = " ".join(f'<a class="mono" href="{href(row.flow, row.run, p.step, p.task_id)}">'
                         f'{h(p.step)}/{p.task_id}</a>' for p in parents)
        if len(ids) > len(parents):
            links += (f' <a href="{href(row.flow, row.run, parents[0].step)}">and {count(len(ids) - len(parents))} '
                      f'more &rarr;</a>')
        out.append(("parents", links))
    kids, total = ctx.reader.child_tasks(row.flow, row.run, row.task_id, CHILDREN_SHOWN)
    if kids:
        links = " ".join(f'<a class="mono" href="{href(row.flow, row.run, c.step, c.task_id)}">'
                         f'{h(c.step)}/{c.task_id}</a>' for c in kids)
        if total > len(kids):
            links += (f' <a href="{href(row.flow, row.run, kids[0].step)}">and {count(total - len(kids))} '
                      f'more &rarr;</a>')
        out.append(("children", links))
    return out


def _exception(attempt: AttemptRow | None) -> str:
    if attempt is None:
        return ""
    if attempt.exception:
        try:
            exc = json.loads(attempt.exception)
        except ValueError:
            exc = {"type": "exception", "message": attempt.exception}
        head = str(exc.get("type", "Exception"))
        message = str(exc.get("message", ""))
        trace = str(exc.get("traceback", "")).rstrip()
        return section("Exception", f'<p class="exc"><strong>{h(head)}</strong>'
                       f'{": " + h(message) if message else ""}</p>'
                       + (f'<pre class="traceback">{h(trace)}</pre>' if trace else ""), ident="exception")
    if attempt.exit_reason and attempt.status == "failed":
        return section("Why it failed", f'<p class="exc">{h(attempt.exit_reason)}</p>', ident="exception")
    return ""


def _artifacts(ctx: Ctx, row: TaskRow, attempt: int, finished: bool) -> str:
    arts = [a for a in ctx.reader.artifacts(row.flow, row.run, row.task_id, attempt)
            if not a.name.startswith("_")]
    lines = [(f'<a class="mono strong" href="{href(row.flow, row.run, row.step, row.task_id, a.name, attempt=attempt)}">'
              f'{h(a.name)}</a>', previews.inline(ctx.datastore_for(row.flow, row.run).blobs, a),
              f'<span class="muted">{h(a.type)}</span>', size(a.size)) for a in arts]
    empty = "No artifacts." if finished else "Artifacts are recorded when the attempt ends."
    return section("Artifacts", table(("name", "value", "type", "size"), lines, cls="artifacts", empty=empty),
                   ident="artifacts")


def task_live(ctx: Ctx, flow: str, run: int, step: str, task_id: int) -> Live:
    row = load_task(ctx, flow, run, step, task_id)
    run_status = load_run(ctx, flow, run).effective_status(ctx.now)
    number, numbers = pick_attempt(ctx, row)
    attempt = ctx.reader.attempt(flow, run, task_id, number)
    latest = number == row.attempt
    status = _status(row, attempt, latest, run_status)
    running = status == "running"
    tabs = ""
    if len(numbers) > 1:
        tabs = '<nav class="tabs attempts">' + "".join(
            f'<a class="{"on" if n == number else ""}" href="{href(flow, run, step, task_id, attempt=n)}">'
            f'attempt {n}</a>' for n in numbers) + "</nav>"
    fe = foreach_of(row)
    tries = f' <span class="muted">({len(numbers)} attempts)</span>' if len(numbers) > 1 else ""
    info = [("status", badge(status)), ("attempt", f"{number}{tries}" if numbers else "not started yet")]
    started = attempt.started_at if attempt else None
    ended = attempt.finished_at if attempt else None
    info += [("created", when(row.created_at)), ("started", when(started))]
    if status == "abandoned" and ended is None and attempt is not None:
        ended = attempt.heartbeat_at  # it stopped beating there: its time ends there
        info.append(("last heartbeat", when(ended)))
    else:
        info.append(("finished", when(ended)))
    info.append(("duration", duration(started, ended, running=running)))
    if fe.index is not None:
        of = f" of {count(fe.splits)}" if fe.splits else ""
        item = f' &middot; input <code>{h(fe.value)}</code> from <code>{h(fe.var)}</code>' if fe.value is not None else ""
        info.append(("foreach", f"item {count(fe.index)}{of}{item}"))
    if attempt and attempt.host:
        info.append(("host", h(attempt.host) + (f' <span class="muted">pid {attempt.pid}</span>' if attempt.pid else "")))
    info += _placement(ctx.reader.task_meta(flow, run, task_id))
    if row.origin_run_id is not None and row.origin_task_id is not None:
        info.append(("cloned from", f'<a class="mono" href="{href(flow, row.origin_run_id, step, row.origin_task_id)}">'
                     f'{h(flow)}/{h(row.origin_run_id)}/{h(step)}/{row.origin_task_id}</a>'))
    info += _neighbours(ctx, row)
    return Live(tabs + section("Task", facts(info), ident="about") + _exception(attempt), not running)


def _placement(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """Where a remote executor ran the task, and what it asked for."""
    out = []
    if meta.get("executor"):
        where = f" at <code>{h(meta['ray_address'])}</code>" if meta.get("ray_address") else ""
        node = f' &middot; node <code>{h(meta["node"])}</code>' if meta.get("node") else ""
        out.append(("ran on", f"{h(meta['executor'])}{where}{node}"))
    resources = meta.get("resources")
    if isinstance(resources, dict) and resources:
        units = {"memory": " MB"}
        out.append(("resources", ", ".join(f"{h(k)} {v:g}{units.get(k, '')}" for k, v in resources.items()
                                           if isinstance(v, int | float))))
    return out


def artifacts_live(ctx: Ctx, flow: str, run: int, step: str, task_id: int) -> Live:
    row = load_task(ctx, flow, run, step, task_id)
    run_status = load_run(ctx, flow, run).effective_status(ctx.now)
    number, _ = pick_attempt(ctx, row)
    attempt = ctx.reader.attempt(flow, run, task_id, number)
    running = _status(row, attempt, number == row.attempt, run_status) == "running"
    return Live(_artifacts(ctx, row, number, not running), not running)


def _log_panel(ctx: Ctx, row: TaskRow, attempt: int, stream: str, finished_at: float | None,
               running: bool) -> str:
    chunk = logs.read_chunk(ctx.datastore_for(row.flow, row.run), logs.locate(ctx.datastore_for(row.flow, row.run), row, attempt, stream), None)
    url = f"/_hw/log/{href(row.flow, row.run, row.step, row.task_id, attempt, stream)[1:]}"
    done = not running and (finished_at is None or ctx.now - finished_at > LOG_DONE_AFTER)
    lines = "".join(log_line(ts, text) for ts, text in chunk.lines)
    skipped = (f'<p class="muted small">The first {size(chunk.skipped)} are not shown. '
               f'<a href="{url}?raw=1">Whole log</a></p>') if chunk.skipped else ""
    placeholder = "Nothing printed." if done else "Waiting for output…"
    return (f'<div class="logbox">{skipped}<pre class="log" data-log="{url}" data-offset="{chunk.offset}" '
            f'data-done="{1 if done else 0}" data-empty="{h(placeholder)}">'
            f'{lines or ""}</pre>'
            f'<p class="logfoot"><a class="small" href="{url}?raw=1">raw {stream}</a></p></div>')


def stamp(ts: float) -> str:
    """A log line's time of day (empty for a line without one)."""
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S") if ts else ""


def log_line(ts: float, text: str) -> str:
    return f'<span class="ln"><span class="ts">{stamp(ts)}</span>{h(text)}\n</span>'


def _card_folder(ctx: Ctx, row: TaskRow, attempt: int) -> tuple[int, int, list[cards.Card], str | None]:
    """Run, task and cards of the attempt; a task cloned by resume shows its original's cards."""
    found, problem = cards.list_for(ctx.datastore_for(row.flow, row.run).cards(row.flow, row.run, row.step, row.task_id, attempt))
    origin = row.origin_run_id
    if not found and not problem and origin and origin.isdigit() and row.origin_task_id is not None:
        other, other_problem = cards.list_for(
            ctx.datastore_for(row.flow, int(origin)).cards(row.flow, int(origin), row.step, row.origin_task_id, attempt))
        if other or other_problem:
            return int(origin), row.origin_task_id, other, other_problem
    return row.run, row.task_id, found, problem


def cards_live(ctx: Ctx, flow: str, run: int, step: str, task_id: int) -> Live:
    row = load_task(ctx, flow, run, step, task_id)
    run_status = load_run(ctx, flow, run).effective_status(ctx.now)
    number, _ = pick_attempt(ctx, row)
    attempt = ctx.reader.attempt(flow, run, task_id, number)
    running = _status(row, attempt, number == row.attempt, run_status) == "running"
    card_run, card_task, found, problem = _card_folder(ctx, row, number)
    if problem:
        return Live(section("Cards", f'<p class="notice">{h(problem)}</p>', ident="cards"), not running)
    if not found:
        return Live("", not running)
    parts = []
    for card in found:
        info = card.info
        state = "" if info.final else " · updating"
        src = (f"/_hw/card/{href(flow, card_run, step, card_task, number, info.index)[1:]}"
               f"?v={h(info.updated_at)}")
        opener = "" if card.problem else (f' <a class="small" href="{src}" target="_blank" '
                                          f'rel="noopener noreferrer">open &#8599;</a>')
        label = (f'<h3>{h(card.title)} <span class="muted small">{h(info.type)} card{state}</span>'
                 f'{opener}</h3>')
        if card.problem:
            parts.append(f'<div class="card">{label}<p class="notice">{h(card.problem)}</p></div>')
            continue
        parts.append(f'<div class="card">{label}<iframe class="cardframe" sandbox="allow-scripts" '
                     f'src="{src}" data-card="{int(info.index)}" title="{h(card.title)}" '
                     f'referrerpolicy="no-referrer"></iframe></div>')
    done = not running and all(c.info.final for c in found)
    return Live(section("Cards", "".join(parts), ident="cards"), done)


def task_page(ctx: Ctx, flow: str, run: int, step: str, task_id: int) -> Page:
    row = load_task(ctx, flow, run, step, task_id)
    number, _ = pick_attempt(ctx, row)
    live = task_live(ctx, flow, run, step, task_id)
    card_part = cards_live(ctx, flow, run, step, task_id)
    arts = artifacts_live(ctx, flow, run, step, task_id)
    attempt = ctx.reader.attempt(flow, run, task_id, number)
    running = not live.done
    asked = ctx.query.get("attempt")
    finished_at = attempt.finished_at if attempt else None
    ds = ctx.datastore_for(row.flow, row.run)
    quiet = not running and all(not ds.has_log(*logs.locate(ds, row, number, s)) for s in logs.STREAMS)
    if quiet:
        logs_html = '<p class="empty">This attempt printed nothing.</p>'
    else:
        logs_html = "".join(f'<div class="logcol"><h3>{stream}</h3>'
                            f'{_log_panel(ctx, row, number, stream, finished_at, running)}</div>'
                            for stream in logs.STREAMS)
    body = (f'<div class="head"><h1>{h(step)} <span class="muted">/</span> {task_id} '
            f'<span class="muted small">task of <a href="{href(flow, run)}">{h(flow)}/{run}</a></span></h1></div>'
            + live_region(href(flow, run, step, task_id, attempt=asked, part="live"), live.html,
                          done=live.done, name="task")
            + live_region(href(flow, run, step, task_id, attempt=asked, part="cards"), card_part.html,
                          done=card_part.done, name="cards")
            + section("Logs", f'<div class="logs">{logs_html}</div>', ident="logs")
            + live_region(href(flow, run, step, task_id, attempt=asked, part="artifacts"), arts.html,
                          done=arts.done, name="artifacts"))
    crumbs = [("Flows", "/"), (flow, href(flow)), (str(run), href(flow, run)), (step, href(flow, run, step)),
              (str(task_id), None)]
    return Page(f"{flow}/{run}/{step}/{task_id}", crumbs, body)
