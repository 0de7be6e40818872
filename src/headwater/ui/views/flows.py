"""``/``: every flow with its latest run; ``/<Flow>``: its runs, filtered and paginated."""

from __future__ import annotations

from ...metadata.records import RunRow
from ..html import (
    Page,
    ago,
    badge,
    chips,
    count,
    dot,
    duration,
    h,
    href,
    pager,
    seconds,
    section,
    table,
    when,
)
from ..queries import RUN_STATUSES, RunFilter
from .common import RUNS_PER_PAGE, Ctx, Live, live_region, load_flow, user_of

REFRESH_MS = 2000  # lists refresh more slowly than a running run's page


# -- / ----------------------------------------------------------------------------------------

def index_live(ctx: Ctx) -> Live:
    flows = ctx.reader.flow_summaries()
    if not flows:
        return Live('<div class="emptystate"><h2>No runs yet</h2><p>Run a flow from this project, '
                    'e.g. <code>python flow.py run</code>; it appears here as soon as it starts.</p>'
                    f'<p class="muted">Datastore: <code>{h(ctx.root)}</code></p></div>', False)
    rows = []
    for f in flows:
        last = f.latest
        assert last is not None
        status = last.effective_status(ctx.now)
        strip = "".join(
            f'<a href="{href(f.name, r.number)}">{dot(r.effective_status(ctx.now), f"#{r.number} {r.effective_status(ctx.now)}")}</a>'
            for r in reversed(f.recent))
        rows.append((
            f'<a class="strong" href="{href(f.name)}">{h(f.name)}</a>',
            f'<a class="mono" href="{href(f.name, last.number)}">#{last.number}</a>',
            badge(status),
            f'<span title="{h(ago(last.created_at, ctx.now))}">{when(last.created_at)}</span>',
            duration(last.created_at, last.ended_at(ctx.now), running=status == "running"),
            h(last.user),
            count(f.runs),
            f'<span class="strip">{strip}</span>',
        ))
    body = table(("flow", "latest run", "status", "started", "duration", "user", "runs", "recent runs"),
                 rows, cls="flows")
    return Live(body, False)


def index(ctx: Ctx) -> Page:
    live = index_live(ctx)
    body = ('<div class="head"><h1>Flows</h1></div>'
            + section("All flows", live_region(href(part="live"), live.html, done=live.done,
                                                every_ms=REFRESH_MS, name="flows")))
    return Page("Flows", [("Flows", None)], body)


# -- /<Flow> ----------------------------------------------------------------------------------

def _filters(ctx: Ctx) -> RunFilter:
    return RunFilter(status=ctx.arg("status", RUN_STATUSES), user=ctx.arg("user"), tag=ctx.arg("tag"))


def _run_line(flow: str, row: RunRow, tags: list[tuple[str, bool]], ctx: Ctx) -> tuple[str, ...]:
    status = row.effective_status(ctx.now)
    user_tags = [t for t, system in tags if not system]
    origin = (f' <a class="muted small" href="{href(flow, row.origin_run_id)}" title="resumed from">'
              f'&#8634; #{h(row.origin_run_id)}</a>') if row.origin_run_id and row.origin_run_id.isdigit() else ""
    return (
        f'<a class="mono strong" href="{href(flow, row.number)}">#{row.number}</a>{origin}',
        badge(status),
        f'<span title="{h(ago(row.created_at, ctx.now))}">{when(row.created_at)}</span>',
        duration(row.created_at, row.ended_at(ctx.now), running=status == "running"),
        f'<a href="{href(flow, user=user_of(tags, row.user))}">{h(user_of(tags, row.user))}</a>',
        chips(user_tags, link=(flow,)),
    )


def durations_chart(flow: str, rows: list[RunRow], now: float) -> str:
    """Bars of the listed runs' durations, oldest on the left, coloured by status."""
    if len(rows) < 2:
        return ""
    runs = list(reversed(rows))
    took = [((r.ended_at(now) or now) - r.created_at) for r in runs]
    top = max(max(took), 0.001)
    slots = max(len(runs), RUNS_PER_PAGE)  # few runs: thin bars on the right, like a longer history
    width, height, gap = 100 / slots, 56, 0.25
    bars = []
    for i, (r, t) in enumerate(zip(runs, took, strict=True), start=slots - len(runs)):
        status = r.effective_status(now)
        bar = max(2.0, height * t / top)
        bars.append(f'<a href="{href(flow, r.number)}" class="s-{h(status)}"><title>#{r.number} {h(status)}, '
                    f'{h(seconds(t).replace("&mdash;", "-"))}</title>'
                    f'<rect x="{i * width + width * gap / 2:.3f}" y="{height - bar:.2f}" '
                    f'width="{width * (1 - gap):.3f}" height="{bar:.2f}" rx="0.4"/></a>')
    return (f'<div class="chart"><span class="muted small">duration of these runs, oldest to newest '
            f'(longest {h(seconds(top))})</span><svg class="durations" viewBox="0 0 100 {height}" '
            f'preserveAspectRatio="none" width="100%" height="{height}" role="img" '
            f'aria-label="run durations">{"".join(bars)}</svg></div>')


def flow_live(ctx: Ctx, flow: str) -> Live:
    filt, page = _filters(ctx), ctx.page()
    rows, total = ctx.reader.run_page(flow, filt, page, RUNS_PER_PAGE)
    tags = ctx.reader.tags_of_runs(flow, [r.number for r in rows])
    lines = [_run_line(flow, r, tags[r.number], ctx) for r in rows]
    keep = {"status": filt.status, "user": filt.user, "tag": filt.tag}
    filtered = any(keep.values())
    empty = "No run matches these filters." if filtered else "This flow has no runs."
    body = (table(("run", "status", "started", "duration", "user", "tags"), lines, cls="runs", empty=empty)
            + pager(page, RUNS_PER_PAGE, total, keep, (flow,)))
    summary = (f'<p class="muted small">{count(total)} run{"s" if total != 1 else ""} '
               f'match{"es" if total == 1 else ""}</p>') if filtered else ""
    return Live(summary + durations_chart(flow, rows, ctx.now) + body, False)


def _filter_form(ctx: Ctx, flow: str) -> str:
    filt = _filters(ctx)
    options = ['<option value="">any status</option>'] + [
        f'<option value="{s}"{" selected" if filt.status == s else ""}>{s}</option>' for s in RUN_STATUSES]
    users = ['<option value="">anyone</option>'] + [
        f'<option value="{h(u)}"{" selected" if filt.user == u else ""}>{h(u)}</option>'
        for u in ctx.reader.users(flow)]
    tag_list = "".join(f'<option value="{h(t)}">' for t in ctx.reader.user_tags(flow))
    clear = f' <a href="{href(flow)}">clear</a>' if any((filt.status, filt.user, filt.tag)) else ""
    return (f'<form class="filters" method="get" action="{href(flow)}">'
            f'<label>status <select name="status">{"".join(options)}</select></label>'
            f'<label>user <select name="user">{"".join(users)}</select></label>'
            f'<label>tag <input name="tag" list="tags" value="{h(filt.tag or "")}" placeholder="any tag" '
            f'autocomplete="off"></label><datalist id="tags">{tag_list}</datalist>'
            f'<button type="submit">Filter</button>{clear}</form>')


def flow_page(ctx: Ctx, flow: str) -> Page:
    load_flow(ctx, flow)
    live = flow_live(ctx, flow)
    url = href(flow, **{k: ctx.query.get(k) for k in ("status", "user", "tag", "page")}, part="live")
    counts = ctx.reader.run_counts(flow)
    words = " · ".join(f'<a class="c-{s}" href="{href(flow, status=s)}">{count(n)} {s}</a>'
                       for s, n in sorted(counts.items()))
    body = (f'<div class="head"><h1>{h(flow)}</h1><span class="muted">{count(sum(counts.values()))} runs'
            f'{" · " + words if words else ""}</span></div>'
            + section("Runs", _filter_form(ctx, flow)
                      + live_region(url, live.html, done=live.done, every_ms=REFRESH_MS, name="runs")))
    return Page(flow, [("Flows", "/"), (flow, None)], body)
