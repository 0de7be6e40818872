"""``/<Flow>/<run>/<step>/<task>/<artifact>[?attempt=N]``: one artifact's value in full."""

from __future__ import annotations

from .. import previews
from ..html import Page, facts, h, href, section, size
from .common import Ctx, NotFound, load_task
from .task import pick_attempt


def artifact_page(ctx: Ctx, flow: str, run: int, step: str, task_id: int, name: str) -> Page:
    row = load_task(ctx, flow, run, step, task_id)
    number, _ = pick_attempt(ctx, row)
    arts = ctx.reader.artifacts(flow, run, task_id, number)
    art = next((a for a in arts if a.name == name), None)
    if art is None:
        names = [a.name for a in arts if not a.name.startswith("_")]
        listed = f" Its artifacts: {', '.join(names[:20])}." if names else ""
        raise NotFound(f"Task {flow}/{run}/{step}/{task_id} (attempt {number}) has no artifact {name}.{listed}",
                       (f"task {flow}/{run}/{step}/{task_id}", href(flow, run, step, task_id)))
    info = [("type", f"<code>{h(art.type)}</code>"), ("stored size", size(art.size)),
            ("attempt", str(number)), ("content hash", f'<code class="small">{h(art.key)}</code>')]
    code = (f'<pre class="snippet">from headwater import Task\n'
            f'Task("{h(flow)}/{run}/{h(step)}/{task_id}", attempt={number})["{h(name)}"].data</pre>')
    body = (f'<div class="head"><h1>{h(name)} <span class="muted small">artifact of '
            f'<a href="{href(flow, run, step, task_id, attempt=ctx.query.get("attempt"))}">'
            f'{h(flow)}/{run}/{h(step)}/{task_id}</a></span></h1></div>'
            + section("Value", previews.full(ctx.datastore_for(flow, run).blobs, art))
            + section("About", facts(info) + "<h3>In Python</h3>" + code))
    crumbs = [("Flows", "/"), (flow, href(flow)), (str(run), href(flow, run)), (step, href(flow, run, step)),
              (str(task_id), href(flow, run, step, task_id)), (name, None)]
    return Page(f"{flow}/{run}/{step}/{task_id}/{name}", crumbs, body)
