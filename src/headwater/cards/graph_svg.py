"""The flow's graph as an inline SVG, with one step highlighted.

A simple layered layout: each step sits one layer below the furthest of its parents (edges
that go back up, as in a loop, are left out of that count and drawn curving on the right);
within a layer, steps are ordered by the mean position of their parents, which keeps
splits and joins mostly uncrossed. Input is ``FlowGraph.to_dict()``.
"""

from __future__ import annotations

from .html import escape

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

NODE_H = 40
LAYER_GAP = 46
NODE_GAP = 28
MARGIN = 16


def graph_svg(graph: dict[str, Any], current: str | None = None) -> str:
    steps = [s for s in graph.get("steps", []) if isinstance(s, dict) and s.get("name")]
    if not steps:
        return ""
    names = [s["name"] for s in steps]
    info = {s["name"]: s for s in steps}
    succ = {n: [t for t in (info[n].get("next") or []) if t in info] for n in names}
    back = _back_edges(names, succ, info)
    layer = _layers(names, succ, back)
    rows = _order(names, succ, back, layer)

    width = {n: max(110, int(7.4 * max(len(n), len(_detail(info[n])) * 0.85)) + 28) for n in names}
    row_w = [sum(width[n] for n in row) + NODE_GAP * (len(row) - 1) for row in rows]
    total_w = max(row_w) + 2 * MARGIN + 60  # room on the right for back edges
    pos: dict[str, tuple[float, float]] = {}
    for i, row in enumerate(rows):
        x = MARGIN + (max(row_w) - row_w[i]) / 2
        y = MARGIN + i * (NODE_H + LAYER_GAP)
        for n in row:
            pos[n] = (x, y)
            x += width[n] + NODE_GAP
    total_h = MARGIN * 2 + len(rows) * NODE_H + (len(rows) - 1) * LAYER_GAP

    edges = []
    for src in names:
        for dst in succ[src]:
            edges.append(_edge(pos[src], width[src], pos[dst], width[dst], (src, dst) in back))
    nodes = [_node(n, info[n], pos[n], width[n], n == current) for n in names]
    label = f"Graph of {graph.get('name') or 'the flow'}" + (f", step {current} highlighted" if current else "")
    return (
        f'<svg class="graph" role="img" aria-label="{escape(label)}" '
        f'width="{total_w:.0f}" height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}">'
        '<defs><marker id="hw-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="#8c959f"/>'
        "</marker></defs>" + "".join(edges) + "".join(nodes) + "</svg>"
    )


def _detail(step: dict[str, Any]) -> str:
    if step.get("foreach"):
        return f"foreach {step['foreach']}"
    if step.get("condition"):
        return f"switch on {step['condition']}"
    if step.get("type") == "join":
        return "join"
    return ""


def _back_edges(names: list[str], succ: dict[str, list[str]], info: dict[str, Any]) -> set[tuple[str, str]]:
    """Edges into a step still on the depth-first path: the ones that close a loop."""
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1 on the path, 2 done
    starts = [n for n in names if info[n].get("type") == "start"] + names
    for root in starts:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, i = stack[-1]
            if i < len(succ[node]):
                stack[-1] = (node, i + 1)
                nxt = succ[node][i]
                if state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                stack.pop()
    return back


def _layers(names: list[str], succ: dict[str, list[str]], back: set[tuple[str, str]]) -> dict[str, int]:
    parents: dict[str, list[str]] = {n: [] for n in names}
    for src in names:
        for dst in succ[src]:
            if (src, dst) not in back:
                parents[dst].append(src)
    layer: dict[str, int] = {}
    pending = list(names)
    while pending:  # the forward edges form a DAG, so every pass places at least one step
        rest = []
        for n in pending:
            if all(p in layer for p in parents[n]):
                layer[n] = 1 + max((layer[p] for p in parents[n]), default=-1)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            for n in rest:
                layer[n] = 0
            break
        pending = rest
    return layer


def _order(names: list[str], succ: dict[str, list[str]], back: set[tuple[str, str]],
           layer: dict[str, int]) -> list[list[str]]:
    rows: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for n in names:
        rows[layer[n]].append(n)
    index = {n: i for row in rows for i, n in enumerate(row)}
    parents: dict[str, list[str]] = {n: [] for n in names}
    for src in names:
        for dst in succ[src]:
            if (src, dst) not in back:
                parents[dst].append(src)
    for row in rows[1:]:
        def key(n: str) -> float:
            ps = parents[n]
            return sum(index[p] for p in ps) / len(ps) if ps else float(index[n])
        row.sort(key=key)
        for i, n in enumerate(row):
            index[n] = i
    return [r for r in rows if r]


def _node(name: str, step: dict[str, Any], xy: tuple[float, float], w: int, current: bool) -> str:
    x, y = xy
    detail = _detail(step)
    cls = "step current" if current else "step"
    aria = ' aria-current="step"' if current else ""
    title = f"<title>{escape(step.get('doc') or name)}</title>"
    text_y = y + (17 if detail else 25)
    out = [f'<g class="{cls}" data-step="{escape(name)}"{aria}>{title}',
           f'<rect x="{x:.1f}" y="{y:.1f}" width="{w}" height="{NODE_H}" rx="7"/>',
           f'<text x="{x + w / 2:.1f}" y="{text_y:.1f}" text-anchor="middle">{escape(name)}</text>']
    if detail:
        out.append(f'<text class="detail" x="{x + w / 2:.1f}" y="{y + 32:.1f}" '
                   f'text-anchor="middle">{escape(detail)}</text>')
    out.append("</g>")
    return "".join(out)


def _edge(a: tuple[float, float], aw: int, b: tuple[float, float], bw: int, is_back: bool) -> str:
    if is_back:  # leave from the right side, come back into the target's right side
        x1, y1 = a[0] + aw, a[1] + NODE_H * 0.7
        x2, y2 = b[0] + bw, b[1] + NODE_H * 0.3
        bend = max(x1, x2) + (30 if a == b else 40)
        top, bottom = (y1 + 10, y2 - 10) if a == b else (y1, y2)
        d = f"M{x1:.1f},{y1:.1f} C{bend:.1f},{top:.1f} {bend:.1f},{bottom:.1f} {x2:.1f},{y2:.1f}"
    else:
        x1, y1 = a[0] + aw / 2, a[1] + NODE_H
        x2, y2 = b[0] + bw / 2, b[1]
        mid = (y1 + y2) / 2
        d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}"
    return f'<path class="edge" d="{d}" marker-end="url(#hw-arrow)"/>'
