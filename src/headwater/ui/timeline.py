"""A run's timeline as an SVG: one bar per task, or one per step for large runs.

Up to ``TASK_ROWS`` tasks, each gets its own row (first attempt's start to its end, so the
time spent retrying shows). Above that, rows are steps, each a bar from its first task's
creation to its last task's end with the task count as label: a 2,000-way foreach stays one
row. Running bars extend to now.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .html import h
from .queries import StepStats, TimelineTask

TASK_ROWS = 60
WIDTH, LABEL, ROW, BAR = 1000, 190, 20, 12
NICE = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
        14400, 21600, 43200, 86400)


@dataclass
class Row:
    label: str
    link: str  # escaped href
    status: str
    start: float
    end: float | None
    note: str = ""


def tick_label(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        m, s = divmod(int(seconds), 60)
        return f"{m}m" + (f" {s:02d}s" if s else "")
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h" + (f" {rest // 60:02d}m" if rest else "")


def task_rows(tasks: Sequence[TimelineTask], run_status: str, link: Callable[[str, int], str]) -> list[Row]:
    rows = []
    for t in tasks:
        status = "abandoned" if t.status == "running" and run_status == "abandoned" else t.status
        note = " (cloned)" if t.cloned else (f" ({t.attempt + 1} attempts)" if t.attempt else "")
        rows.append(Row(f"{t.step}/{t.task_id}", link(t.step, t.task_id), status, t.started,
                        t.finished, note))
    return rows


def step_rows(order: Sequence[str], stats: dict[str, StepStats], run_status: str,
              link: Callable[[str], str]) -> list[Row]:
    rows = []
    for name in order:
        st = stats.get(name)
        if st is None or st.first_created is None:
            continue
        status = st.status(run_status)
        end = st.last_finished if status in ("succeeded", "failed") else None
        rows.append(Row(name, link(name), status, st.first_created, end, f" ({st.total:,} tasks)"))
    return rows


def draw(rows: Sequence[Row], run_start: float, run_end: float | None) -> str:
    if not rows:
        return '<p class="empty">No task has started yet.</p>'
    now = time.time()
    t0 = min([run_start, *(r.start for r in rows)])
    t1 = max([run_end or now, *((r.end or now) for r in rows)])
    span = max(t1 - t0, 0.001)
    step = next((n for n in NICE if span / n <= 8), NICE[-1])
    scale = (WIDTH - LABEL - 12) / span
    height = 28 + ROW * len(rows) + 6
    out = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
           f'width="100%" role="img" aria-label="timeline of tasks">']
    tick = 0.0
    while tick <= span + 1e-9:
        x = LABEL + tick * scale
        out.append(f'<line class="tick" x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{height - 4}"/>'
                   f'<text class="axis" x="{x:.1f}" y="12" text-anchor="middle">{h(tick_label(tick))}</text>')
        tick += step
    for i, row in enumerate(rows):
        y = 26 + i * ROW
        x = LABEL + (row.start - t0) * scale
        w = max(2.0, ((row.end or now) - row.start) * scale)
        took = (row.end or now) - row.start
        tip = f"{row.label}{row.note}: {row.status}, {took:.2f} s"
        label = row.label if len(row.label) <= 26 else row.label[:25] + "…"
        out.append(
            f'<a href="{row.link}" class="lane s-{h(row.status)}"><title>{h(tip)}</title>'
            f'<rect class="hover" x="0" y="{y - 3}" width="{WIDTH}" height="{ROW}"/>'
            f'<text class="label" x="{LABEL - 10}" y="{y + BAR - 2}" text-anchor="end">{h(label)}</text>'
            f'<rect class="span" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR}" rx="3"/></a>')
    out.append("</svg>")
    return "".join(out)
