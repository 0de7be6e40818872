"""The flow's graph as an SVG, one box per step coloured by its tasks' statuses.

A step is drawn once however many tasks it has (a 2,000-way foreach is one box reading
``1,997/2,000 ok · 3 failed``). Layout, left to right:

1. edges that close a loop (a ``switch`` going back) are found by a depth-first walk from the
   start and set aside, so the rest is acyclic;
2. each step's column is the longest path to it from the start;
3. within a column, boxes are ordered by the mean position of their neighbours, sweeping
   forwards and backwards a few times to untangle crossings;
4. forward edges are curves from right to left sides; loop edges arc over the boxes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .html import h, seconds
from .queries import StepStats

W, H = 164, 60          # box size
GAP_X, GAP_Y = 46, 22   # space between columns and rows
PAD = 16
# "switch": graphs recorded before the type took Metaflow's name, "split-switch"
KIND_LABELS = {"foreach": "foreach", "split": "split", "join": "join", "switch": "switch",
               "split-switch": "switch"}


@dataclass
class Box:
    name: str
    kind: str
    column: int = 0
    row: float = 0.0
    x: float = 0.0
    y: float = 0.0


def _loop_edges(names: list[str], nexts: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges pointing back to a step still on the depth-first path (they close a loop)."""
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    for root in names:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, i = stack[-1]
            targets = nexts.get(node, [])
            if i < len(targets):
                stack[-1] = (node, i + 1)
                target = targets[i]
                if state.get(target) == 1:
                    back.add((node, target))
                elif target not in state and target in nexts:
                    state[target] = 1
                    stack.append((target, 0))
            else:
                state[node] = 2
                stack.pop()
    return back


def layout(steps: Sequence[dict[str, Any]]) -> tuple[dict[str, Box], list[tuple[str, str, bool]]]:
    """Boxes with positions, and edges as ``(source, target, closes_a_loop)``."""
    names = [str(s["name"]) for s in steps]
    nexts = {str(s["name"]): [str(n) for n in s.get("next") or [] if str(n) in names] for s in steps}
    boxes = {str(s["name"]): Box(str(s["name"]), str(s.get("type") or "linear")) for s in steps}
    # walk from the start first so "back" means back from the start's point of view
    order = sorted(names, key=lambda n: boxes[n].kind != "start")
    back = _loop_edges(order, nexts)
    edges = [(a, b, (a, b) in back) for a in names for b in nexts[a]]
    forward = [(a, b) for a, b, loop in edges if not loop]

    parents: dict[str, list[str]] = {n: [] for n in names}
    for a, b in forward:
        parents[b].append(a)
    remaining = {n: len(parents[n]) for n in names}
    ready = [n for n in order if remaining[n] == 0]
    topo: list[str] = []
    while ready:
        node = ready.pop(0)
        topo.append(node)
        for b in nexts[node]:
            if (node, b) in back:
                continue
            boxes[b].column = max(boxes[b].column, boxes[node].column + 1)
            remaining[b] -= 1
            if remaining[b] == 0:
                ready.append(b)
    for n in names:  # anything left (should not happen) goes after the rest
        if n not in topo:
            topo.append(n)

    columns: dict[int, list[str]] = {}
    for n in topo:
        columns.setdefault(boxes[n].column, []).append(n)
    for col in columns.values():
        for i, n in enumerate(col):
            boxes[n].row = float(i)
    children: dict[str, list[str]] = {n: [] for n in names}
    for a, b in forward:
        children[a].append(b)
    keys = sorted(columns)
    for sweep in range(4):
        seq = keys[1:] if sweep % 2 == 0 else list(reversed(keys[:-1]))
        for c in seq:
            near = parents if sweep % 2 == 0 else children
            col = columns[c]

            def centre(n: str, near: dict[str, list[str]] = near) -> float:
                others = near[n]
                return sum(boxes[o].row for o in others) / len(others) if others else boxes[n].row
            col.sort(key=centre)
            for i, n in enumerate(col):
                boxes[n].row = float(i)

    tallest = max((len(c) for c in columns.values()), default=1)
    for c, col in columns.items():
        offset = (tallest - len(col)) / 2
        for n in col:
            box = boxes[n]
            box.x = PAD + c * (W + GAP_X)
            box.y = PAD + 18 + (box.row + offset) * (H + GAP_Y)
    return boxes, edges


def _took(stats: StepStats, status: str) -> str:
    if status in ("running", "abandoned") or stats.first_created is None or stats.last_finished is None:
        return ""
    return " · " + seconds(stats.last_finished - stats.first_created)


def _caption(stats: StepStats | None, status: str) -> str:
    if stats is None or not stats.total:
        return "not started"
    total, ok = stats.total, stats.counts.get("succeeded", 0)
    if total == 1:
        return status + _took(stats, status)
    text = f"{ok:,}/{total:,} ok"
    if stats.counts.get("failed"):
        text += f" · {stats.counts['failed']:,} failed"
    if stats.counts.get("running"):
        word = "stalled" if status == "abandoned" else "running"
        text += f" · {stats.counts['running']:,} {word}"
    elif not stats.counts.get("failed"):
        text += _took(stats, status)
    return text


def _short(text: str, limit: int = 21) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def draw(steps: Sequence[dict[str, Any]], stats: dict[str, StepStats], run_status: str,
         link: Callable[[str], str]) -> str:
    """The SVG markup; ``link(step)`` gives each box's (escaped) href."""
    if not steps:
        return '<p class="empty">This run recorded no graph.</p>'
    boxes, edges = layout(steps)
    width = max(b.x for b in boxes.values()) + W + PAD
    height = max(b.y for b in boxes.values()) + H + PAD
    # shrink to fit the page down to 60% of the natural size, then scroll sideways
    parts = [f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
             f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
             f'style="min-width:{width * 0.6:.0f}px" '
             f'aria-label="flow graph">'
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
             'class="arrowhead"/></marker></defs>']
    for a, b, loop in edges:
        s, t = boxes[a], boxes[b]
        if loop:
            x1, x2 = s.x + W * 0.65, t.x + W * 0.35
            lift = 16 + 10 * abs(s.column - t.column)
            top = min(s.y, t.y) - lift
            d = f"M{x1:.1f},{s.y:.1f} C{x1:.1f},{top:.1f} {x2:.1f},{top:.1f} {x2:.1f},{t.y:.1f}"
            parts.append(f'<path class="edge loop" d="{d}" marker-end="url(#arrow)"/>')
        else:
            x1, y1, x2, y2 = s.x + W, s.y + H / 2, t.x, t.y + H / 2
            mid = (x1 + x2) / 2
            d = f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2 - 1:.1f},{y2:.1f}"
            dashed = " cond" if s.kind in ("switch", "split-switch") else ""
            parts.append(f'<path class="edge{dashed}" d="{d}" marker-end="url(#arrow)"/>')
    for name, box in boxes.items():
        st = stats.get(name)
        status = st.status(run_status) if st else "pending"
        total = st.total if st else 0
        kind = KIND_LABELS.get(box.kind, "")
        stack = ""
        if total > 1:
            stack = (f'<rect class="stack" x="{box.x + 5:.1f}" y="{box.y - 5:.1f}" width="{W}" '
                     f'height="{H}" rx="9"/>')
        bar = ""
        if total:
            done = st.counts.get("succeeded", 0) if st else 0
            failed = st.counts.get("failed", 0) if st else 0
            x = box.x + 10
            span = W - 20
            wok, wfail = span * done / total, span * failed / total
            bar = (f'<rect class="track" x="{x:.1f}" y="{box.y + H - 11:.1f}" width="{span}" height="4" rx="2"/>'
                   f'<rect class="fill-ok" x="{x:.1f}" y="{box.y + H - 11:.1f}" width="{wok:.1f}" height="4" rx="2"/>')
            if failed:
                bar += (f'<rect class="fill-failed" x="{x + wok:.1f}" y="{box.y + H - 11:.1f}" '
                        f'width="{wfail:.1f}" height="4" rx="2"/>')
        tag = (f'<text class="kind" x="{box.x + W - 10:.1f}" y="{box.y + 17:.1f}" '
               f'text-anchor="end">{h(kind)}</text>') if kind else ""
        parts.append(
            f'<a href="{link(name)}" class="node s-{h(status)}" data-step="{h(name)}">'
            f'<title>{h(name)}: {h(_caption(st, status))}</title>{stack}'
            f'<rect class="box" x="{box.x:.1f}" y="{box.y:.1f}" width="{W}" height="{H}" rx="9"/>'
            f'<circle class="led" cx="{box.x + 14:.1f}" cy="{box.y + 19:.1f}" r="4.5"/>'
            f'<text class="name" x="{box.x + 25:.1f}" y="{box.y + 23:.1f}">{h(_short(name, 15 if kind else 19))}</text>'
            f'{tag}<text class="caption" x="{box.x + 12:.1f}" y="{box.y + 41:.1f}">'
            f'{h(_short(_caption(st, status), 28))}</text>{bar}</a>')
    parts.append("</svg>")
    return "".join(parts)


def steps_from_graph(graph_json: dict[str, Any] | None, recorded: Sequence[str]) -> list[dict[str, Any]]:
    """The graph's steps; for a run without a graph, the recorded steps in a line."""
    steps = list((graph_json or {}).get("steps") or [])
    if steps:
        known = {s.get("name") for s in steps}
        return steps + [{"name": n, "type": "linear", "next": []} for n in recorded if n not in known]
    names = list(recorded)
    return [{"name": n, "type": "linear", "next": [names[i + 1]] if i + 1 < len(names) else []}
            for i, n in enumerate(names)]
