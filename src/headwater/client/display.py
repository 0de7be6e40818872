"""Small HTML pieces for notebooks (``_repr_html_`` of Run and Task). Every value is escaped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


_COLORS = {"succeeded": "#1a7f37", "failed": "#cf222e", "running": "#0969da", "abandoned": "#9a6700"}


def badge(status: str) -> str:
    color = _COLORS.get(status, "#57606a")
    return (f'<span style="color:#fff;background:{color};border-radius:4px;padding:1px 6px;'
            f'font-size:90%">{escape(status)}</span>')


def when(value: datetime | None) -> str:
    return "&mdash;" if value is None else escape(value.isoformat(sep=" ", timespec="seconds"))


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "&mdash;"
    seconds = (end - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the page
        text = f"<unprintable {type(value).__name__}: {exc}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, raw_columns: Sequence[int] = ()) -> str:
    """An HTML table; cells are escaped unless their column index is in ``raw_columns``."""
    head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f"<td style='text-align:left'>{cell if i in raw_columns else escape(str(cell))}</td>"
            for i, cell in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    if not body:
        return "<p><em>none</em></p>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def fields(pairs: Iterable[tuple[str, str]]) -> str:
    """A two-column table of already-escaped values."""
    rows = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th><td style='text-align:left'>{v}</td></tr>"
                   for k, v in pairs)
    return f"<table>{rows}</table>"


def title(kind: str, pathspec: str, status: str) -> str:
    return f"<h4 style='margin:4px 0'>{escape(kind)} <code>{escape(pathspec)}</code> {badge(status)}</h4>"


def pre(text: str) -> str:
    return f"<pre style='white-space:pre-wrap;max-height:20em;overflow:auto'>{escape(text)}</pre>"
