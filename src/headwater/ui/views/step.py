"""``/<Flow>/<run>/<step>``: a step's tasks, a page at a time, with counts per status."""

from __future__ import annotations

from ..html import (
    Page,
    badge,
    count,
    counts_bar,
    duration,
    h,
    href,
    pager,
    seconds,
    section,
    table,
    when,
)
from ..queries import TASK_STATUSES
from .common import (
    TASKS_PER_PAGE,
    Ctx,
    Live,
    foreach_of,
    live_region,
    load_run,
    load_step,
    task_status,
)


def step_live(ctx: Ctx, flow: str, run: int, step: str) -> Live:
    row = load_run(ctx, flow, run)
    run_status = row.effective_status(ctx.now)
    stats = ctx.reader.step_stats(flow, run).get(step)
    status_filter, page = ctx.arg("status", TASK_STATUSES), ctx.page()
    tasks, total = ctx.reader.task_page(flow, run, step, status_filter, page, TASKS_PER_PAGE)
    starts = ctx.reader.first_starts(flow, run, [t.task_id for t in tasks])
    lines = []
    for t in tasks:
        status = task_status(t, run_status)
        fe = foreach_of(t)
        start = starts.get(t.task_id, t.created_at)
        cloned = (f' <span class="muted small" title="reused by resume from run {h(t.origin_run_id)}">'
                  f'cloned</span>') if t.origin_run_id else ""
        lines.append((
            f'<a class="mono strong" href="{href(flow, run, step, t.task_id)}">{t.task_id}</a>{cloned}',
            badge(status, small=True),
            "" if fe.index is None else count(fe.index),
            f'<code>{h(fe.value)}</code>' if fe.value is not None else "",
            str(t.attempt + 1),
            when(start),
            duration(start, t.finished_at, running=status == "running"),
        ))
    counts = stats.counts if stats else {}
    all_tasks = stats.total if stats else 0
    filters = [f'<a class="{"on" if not status_filter else ""}" href="{href(flow, run, step)}">'
               f'all {count(all_tasks)}</a>']
    for s in TASK_STATUSES:
        n = counts.get(s, 0)
        label = "abandoned" if s == "running" and run_status == "abandoned" else s
        filters.append(f'<a class="{"on" if status_filter == s else ""} c-{label}" '
                       f'href="{href(flow, run, step, status=s)}">{label} {count(n)}</a>')
    spread = ctx.reader.step_durations(flow, run, step) if all_tasks > 1 else None
    timing = ""
    if spread is not None:
        timing = (f'<p class="muted small">{count(spread.count)} finished tasks took: median '
                  f'{seconds(spread.median)} · 90% under {seconds(spread.p90)} · slowest '
                  f'<a href="{href(flow, run, step, spread.slowest_task)}">{spread.slowest_task}</a> '
                  f'{seconds(spread.slowest)}</p>')
    paging = pager(page, TASKS_PER_PAGE, total, {"status": status_filter}, (flow, run, step))
    body = (f'<nav class="tabs">{"".join(filters)}</nav>{counts_bar(counts, all_tasks)}{timing}{paging}'
            + table(("task", "status", "index", "input", "attempts", "started", "duration"), lines,
                    cls="tasks", empty="No task of this step has that status.")
            + paging)
    running = bool(counts.get("running")) and run_status == "running"
    return Live(body, not running and run_status != "running")


def step_page(ctx: Ctx, flow: str, run: int, step: str) -> Page:
    load_step(ctx, flow, run, step)
    live = step_live(ctx, flow, run, step)
    url = href(flow, run, step, status=ctx.query.get("status"), page=ctx.query.get("page"), part="live")
    body = (f'<div class="head"><h1>{h(step)} <span class="muted small">step of '
            f'<a href="{href(flow, run)}">{h(flow)}/{run}</a></span></h1></div>'
            + section("Tasks", live_region(url, live.html, done=live.done, name="tasks")))
    return Page(f"{flow}/{run}/{step}", [("Flows", "/"), (flow, href(flow)), (str(run), href(flow, run)),
                                         (step, None)], body)
