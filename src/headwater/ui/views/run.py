"""``/<Flow>/<run>``: the graph with each step's status, a timeline, counts, parameters, tags.

Everything that moves while the run is going (status, counts, graph, timeline, steps table)
is one live region, rebuilt from the reader's step statistics plus, for runs of up to
``timeline.TASK_ROWS`` tasks, their times. An abandoned run's timeline and duration end at its
last heartbeat.
"""

from __future__ import annotations

import json

from ...metadata.records import RunRow
from ...metadata.vocabulary import PARAMS_TASK
from .. import graph_svg, previews, timeline
from ..html import (
    Page,
    badge,
    chips,
    count,
    counts_bar,
    duration,
    facts,
    h,
    href,
    section,
    table,
    when,
)
from ..queries import status_counts
from .common import Ctx, Live, graph_of, live_region, load_run

RESULTS_SHOWN = 30
FAILURES_SHOWN = 5


def _summary(ctx: Ctx, flow: str, row: RunRow, status: str, counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if status == "abandoned":
        counts = {("abandoned" if s == "running" else s): n for s, n in counts.items()}
    words = " · ".join(f'<span class="c-{s}">{count(n)} {s}</span>'
                       for s, n in sorted(counts.items(), key=lambda kv: kv[0]) if n)
    note = ""
    if status == "abandoned":
        note = ('<p class="notice">This run stopped sending heartbeats: its scheduler was killed or '
                f'its machine went away. Finish it with <code>python flow.py resume --origin-run-id '
                f'{row.number}</code>.</p>')
    return (f'<div class="summary">{badge(status)}'
            f'<span class="big">{count(total)} task{"s" if total != 1 else ""}</span>'
            f'<span>{words or "no task yet"}</span>'
            f'<span class="muted">duration {duration(row.created_at, row.ended_at(ctx.now), running=status == "running")}'
            f'</span></div>{counts_bar(counts, total)}{note}')


def _failures(ctx: Ctx, flow: str, run: int, failed: int) -> str:
    """Which tasks failed and why, each linking to its task."""
    if not failed:
        return ""
    items = []
    for f in ctx.reader.failures(flow, run, FAILURES_SHOWN):
        why = f.exit_reason or "failed"
        if f.exception:
            try:
                exc = json.loads(f.exception)
                why = f"{exc.get('type', 'Exception')}: {exc.get('message', '')}".rstrip(": ")
            except ValueError:
                why = f.exception
        items.append(f'<li><a class="mono" href="{href(flow, run, f.step, f.task_id)}">{h(f.step)}/{f.task_id}</a>'
                     f' <span class="why">{h(why if len(why) <= 300 else why[:299] + "…")}</span></li>')
    more = f"<li class=\"muted\">and {count(failed - len(items))} more</li>" if failed > len(items) else ""
    return f'<div class="failures"><strong>Failed</strong><ul>{"".join(items)}{more}</ul></div>'


def run_live(ctx: Ctx, flow: str, run: int) -> Live:
    row = load_run(ctx, flow, run)
    status = row.effective_status(ctx.now)
    stats = ctx.reader.step_stats(flow, run)
    steps = graph_svg.steps_from_graph(graph_of(row), list(stats))

    def step_link(name: str) -> str:
        return href(flow, run, name)

    graph = graph_svg.draw(steps, stats, status, step_link)
    tasks = ctx.reader.timeline(flow, run, timeline.TASK_ROWS)
    if tasks is not None:
        rows = timeline.task_rows(tasks, status, lambda step, tid: href(flow, run, step, tid))
    else:
        rows = timeline.step_rows([s["name"] for s in steps], stats, status, step_link)
    ended = row.ended_at(ctx.now)
    if status == "abandoned":  # nothing has moved since the last heartbeat: stop the bars there
        for lane in rows:
            if lane.end is None:
                lane.end = max(ended or lane.start, lane.start)
    lanes = timeline.draw(rows, row.created_at, ended)
    lines = []
    for s in steps:
        st = stats.get(s["name"])
        if st is None:
            lines.append((f'<span class="muted">{h(s["name"])}</span>', badge("pending", small=True),
                          "0", "", "", "", "", "", ""))
            continue
        step_status = st.status(status)
        running = step_status == "running"
        lines.append((
            f'<a class="strong" href="{step_link(st.name)}">{h(st.name)}</a>',
            badge(step_status, small=True),
            count(st.total),
            count(st.counts.get("succeeded", 0)),
            f'<span class="c-failed">{count(st.counts["failed"])}</span>' if st.counts.get("failed") else "0",
            count(st.counts.get("running", 0)),
            count(st.retried) if st.retried else "",
            when(st.first_created),
            duration(st.first_created, st.last_finished if not running else None, running=running),
        ))
    steps_table = table(("step", "status", "tasks", "succeeded", "failed", "running", "retried",
                         "started", "duration"), lines, cls="steps")
    counts = status_counts(stats)
    html = (_summary(ctx, flow, row, status, counts) + _failures(ctx, flow, run, counts.get("failed", 0))
            + section("Graph", f'<div class="scroll">{graph}</div>', ident="graph")
            + section("Timeline", lanes, ident="timeline")
            + section("Steps", steps_table, ident="steps"))
    return Live(html, status != "running")


def _parameters(ctx: Ctx, flow: str, run: int) -> str:
    rows = ctx.reader.artifacts(flow, run, PARAMS_TASK, 0)
    names_row = next((r for r in rows if r.name == "_parameter_names"), None)
    names = None
    if names_row is not None:
        try:
            names = set(ctx.datastore_for(flow, run).blobs.load(names_row.key))
        except Exception:  # noqa: BLE001 - show every visible value instead
            names = None
    shown = [r for r in rows if not r.name.startswith("_") and (names is None or r.name in names)]
    lines = [(f'<span class="mono strong">{h(r.name)}</span>', previews.inline(ctx.datastore_for(flow, run).blobs, r),
              f'<span class="muted">{h(r.type)}</span>') for r in shown]
    return table(("name", "value", "type"), lines, empty="This run has no parameters.")


def _results(ctx: Ctx, flow: str, run: int, row: RunRow) -> str:
    """The end step's artifacts, the run's results, once it has finished."""
    if row.status != "succeeded":
        return ""
    end = next((s["name"] for s in (graph_of(row) or {}).get("steps", []) if s.get("type") == "end"), "end")
    tasks = ctx.reader.tasks_of_step(flow, run, end, limit=1)
    if not tasks:
        return ""
    task = tasks[0]
    params = {r.name for r in ctx.reader.artifacts(flow, run, PARAMS_TASK, 0)}
    arts = [a for a in ctx.reader.artifacts(flow, run, task.task_id, task.attempt)
            if not a.name.startswith("_") and a.name not in params]
    lines = [(f'<a class="mono strong" href="{href(flow, run, end, task.task_id, a.name)}">{h(a.name)}</a>',
              previews.inline(ctx.datastore_for(flow, run).blobs, a), f'<span class="muted">{h(a.type)}</span>')
             for a in arts[:RESULTS_SHOWN]]
    more = (f'<p class="muted">{len(arts) - RESULTS_SHOWN} more on '
            f'<a href="{href(flow, run, end, task.task_id)}">the end task</a>.</p>'
            if len(arts) > RESULTS_SHOWN else "")
    return section("Results", table(("artifact", "value", "type"), lines,
                                    empty="The end step stored no artifacts.") + more, ident="results",
                   extra=f' <a class="small" href="{href(flow, run, end, task.task_id)}">end task &rarr;</a>')


def run_page(ctx: Ctx, flow: str, run: int) -> Page:
    row = load_run(ctx, flow, run)
    live = run_live(ctx, flow, run)
    tags = ctx.reader.tags(flow, run)
    user_tags = [t for t, system in tags if not system]
    system_tags = [t for t, system in tags if system]
    info = [("user", f'<a href="{href(flow, user=row.user)}">{h(row.user)}</a>'),
            ("started", when(row.created_at))]
    if row.effective_status(ctx.now) == "abandoned":
        info.append(("last heartbeat", when(row.heartbeat_at)))
    else:
        info.append(("finished", when(row.finished_at)))
    if row.origin_run_id:
        info.append(("resumed from", f'<a href="{href(flow, row.origin_run_id)}">{h(flow)}/{h(row.origin_run_id)}</a>'
                     if row.origin_run_id.isdigit() else h(row.origin_run_id)))
    info.append(("tags", chips(user_tags, link=(flow,)) or '<span class="muted">none</span>'))
    info.append(("system tags", f'<span class="muted small">{h(", ".join(system_tags)) or "none"}</span>'))
    body = (f'<div class="head"><h1>{h(flow)} <span class="muted">/</span> {run}</h1></div>'
            + live_region(href(flow, run, part="live"), live.html, done=live.done, name="run")
            + '<div class="cols">'
            + section("Parameters", _parameters(ctx, flow, run), ident="parameters")
            + section("Run", facts(info), ident="about")
            + "</div>"
            + _results(ctx, flow, run, row))
    return Page(f"{flow}/{run}", [("Flows", "/"), (flow, href(flow)), (str(run), None)], body)
