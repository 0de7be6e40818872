"""Vega-Lite charts in a card that loads no JavaScript.

With ``vl-convert-python`` installed (``pip install vl-convert-python``; it bundles the
Vega renderer and needs no network), the chart is drawn to an inline SVG. Without it the
card shows the chart's inline data as a table, with a note saying how to get the drawing.
Either way the spec itself is embedded as JSON (``<script type="application/json">``,
which browsers never run), so a viewer that has Vega can draw it interactively.
"""

from __future__ import annotations

import json

from .html import escape, table

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

MAX_ROWS = 50


def render_chart(spec: dict[str, Any]) -> str:
    text = json.dumps(spec, indent=2, sort_keys=True, default=str)
    embedded = ('<script type="application/json" class="vega-lite-spec">'
                + text.replace("</", "<\\/") + "</script>")
    details = f"<details><summary>Vega-Lite spec</summary><pre>{escape(text)}</pre></details>"
    try:
        svg = _svg(spec)
    except Exception as exc:  # noqa: BLE001 - a spec the renderer refuses: show the data instead
        problem = f'<div class="note">The chart could not be drawn: {escape(exc)}</div>'
        return f'<div class="vega-chart">{problem}{_fallback(spec, hint=False)}{details}{embedded}</div>'
    if svg is not None:
        return f'<div class="vega-chart">{svg}{details}{embedded}</div>'
    return f'<div class="vega-chart">{_fallback(spec)}{details}{embedded}</div>'


def _svg(spec: dict[str, Any]) -> str | None:
    try:
        import vl_convert  # optional: renders Vega-Lite offline
    except ImportError:
        return None
    svg = vl_convert.vegalite_to_svg(spec)
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else None


def _fallback(spec: dict[str, Any], *, hint: bool = True) -> str:
    note = ('<div class="note">This chart is shown as its data: install '
            "<code>vl-convert-python</code> in the flow's environment to draw it in cards "
            "(it renders offline).</div>") if hint else ""
    rows = _inline_values(spec)
    if rows is None:
        return note + '<div class="note">The chart\'s data is not embedded in its spec.</div>'
    if not rows:
        return note + '<div class="note">The chart has no data.</div>'
    columns: list[str] = []
    for row in rows[:MAX_ROWS]:
        for key in row if isinstance(row, dict) else ["value"]:
            if key not in columns:
                columns.append(str(key))
    body = []
    for row in rows[:MAX_ROWS]:
        record = row if isinstance(row, dict) else {"value": row}
        body.append([_cell(record.get(c)) for c in columns])
    more = f'<div class="note">First {MAX_ROWS} of {len(rows)} rows.</div>' if len(rows) > MAX_ROWS else ""
    title = spec.get("title")
    head = f"<h3>{escape(title if isinstance(title, str) else json.dumps(title))}</h3>" if title else ""
    return head + note + table(columns, body) + more


def _inline_values(spec: dict[str, Any]) -> list[Any] | None:
    """The rows of the chart's inline data (``data.values``, or a named top-level dataset)."""
    data = spec.get("data")
    if isinstance(data, dict):
        if isinstance(data.get("values"), list):
            return data["values"]
        name = data.get("name")
        datasets = spec.get("datasets")
        if name and isinstance(datasets, dict) and isinstance(datasets.get(name), list):
            return datasets[name]
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for sub in spec.get(key) or []:
            if isinstance(sub, dict):
                found = _inline_values({**sub, "datasets": spec.get("datasets")})
                if found is not None:
                    return found
    return None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
