"""HTML building blocks: escaping, the page layout, badges, tables, pagers, times.

Every value that comes from the datastore goes through ``h()`` (HTML-escape, quotes included)
before it is put in a page; functions here take already-escaped markup only where their
parameter says ``html``. Links are built with ``href()`` from path parts and query values, so a
name can never break out of its attribute.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from urllib.parse import quote, urlencode

STATUS_LABELS = {"succeeded": "succeeded", "failed": "failed", "running": "running",
                 "abandoned": "abandoned", "pending": "pending"}


def h(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return escape(str(value), quote=True)


def href(*parts: object, **query: object) -> str:
    """``/Flow/12/train?page=2``: path parts quoted, empty query values left out; escaped."""
    path = "/" + "/".join(quote(str(p), safe="") for p in parts)
    pairs = [(k, str(v)) for k, v in query.items() if v not in (None, "")]
    return h(path + ("?" + urlencode(pairs) if pairs else ""))


@dataclass
class Page:
    """What a view returns: a title, the breadcrumb trail and the main markup."""

    title: str
    crumbs: list[tuple[str, str | None]]  # (label, escaped href or None for the current page)
    body: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def layout(page: Page, *, static: dict[str, str], root: str) -> str:
    """The whole document around a page's body."""
    trail = []
    for label, link in page.crumbs:
        trail.append(f'<a href="{link}">{h(label)}</a>' if link else f'<span aria-current="page">{h(label)}</span>')
    crumbs = '<span class="sep">/</span>'.join(trail)
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{h(page.title)} · Headwater</title>"
        f"<link rel=\"stylesheet\" href=\"{h(static['ui.css'])}\">"
        f"<link rel=\"icon\" href=\"{h(static['icon.svg'])}\" type=\"image/svg+xml\">"
        f"<script src=\"{h(static['ui.js'])}\" defer></script></head><body>"
        "<header class=\"top\"><a class=\"brand\" href=\"/\"><span class=\"logo\">&#9670;</span> Headwater</a>"
        f"<nav class=\"crumbs\">{crumbs}</nav>"
        f"<span class=\"root\" title=\"datastore\">{h(root)}</span></header>"
        f"<main>{page.body}</main></body></html>\n"
    )


def badge(status: str, *, small: bool = False) -> str:
    label = STATUS_LABELS.get(status, status)
    cls = "badge small" if small else "badge"
    return f'<span class="{cls} s-{h(status)}">{h(label)}</span>'


def dot(status: str, title: str = "") -> str:
    tip = f' title="{h(title)}"' if title else ""
    return f'<span class="dot s-{h(status)}"{tip}></span>'


def when(ts: float | None) -> str:
    """A local time as ``<time>``; a dash when unknown."""
    if ts is None:
        return '<span class="muted">&mdash;</span>'
    dt = datetime.fromtimestamp(ts)
    return (f'<time datetime="{h(dt.isoformat(timespec="seconds"))}" title="{h(ago(ts))}">'
            f'{h(dt.strftime("%Y-%m-%d %H:%M:%S"))}</time>')


def ago(ts: float, now: float | None = None) -> str:
    seconds = max(0.0, (now or time.time()) - ts)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now" if seconds < 10 else f"{int(seconds)} seconds ago"


def seconds(value: float | None) -> str:
    """``0.42 s``, ``3m 05s``, ``1h 02m``; a dash when unknown."""
    if value is None:
        return "&mdash;"
    value = max(0.0, value)
    if value < 60:
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    minutes, secs = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 24:
        return f"{hours // 24}d {hours % 24:02d}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def duration(start: float | None, end: float | None, *, running: bool = False) -> str:
    if start is None:
        return "&mdash;"
    if end is None:
        return seconds(time.time() - start) + " so far" if running else "&mdash;"
    return seconds(end - start)


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def count(n: int) -> str:
    return f"{n:,}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "",
          empty: str = "Nothing here yet.") -> str:
    """A table of already-escaped cells."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{h(empty)}</p>'
    head = "".join(f"<th>{h(x)}</th>" for x in headers)
    return f'<table class="grid {h(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def facts(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list of already-escaped values."""
    items = "".join(f"<div><dt>{h(k)}</dt><dd>{v}</dd></div>" for k, v in pairs)
    return f'<dl class="facts">{items}</dl>'


def section(title: str, body: str, *, extra: str = "", ident: str = "") -> str:
    anchor = f' id="{h(ident)}"' if ident else ""
    return (f'<section class="panel"{anchor}><h2>{h(title)}{extra}</h2>{body}</section>')


def pager(page: int, per_page: int, total: int, link: dict[str, object], parts: Sequence[object]) -> str:
    """``‹ newer  1–50 of 1,000  older ›`` links keeping the other query values."""
    if total <= per_page:
        return ""
    last = (total + per_page - 1) // per_page
    first_item, last_item = (page - 1) * per_page + 1, min(page * per_page, total)
    prev_link = (f'<a href="{href(*parts, **{**link, "page": page - 1})}" rel="prev">&larr; previous</a>'
                 if page > 1 else '<span class="muted">&larr; previous</span>')
    next_link = (f'<a href="{href(*parts, **{**link, "page": page + 1})}" rel="next">next &rarr;</a>'
                 if page < last else '<span class="muted">next &rarr;</span>')
    return (f'<nav class="pager">{prev_link}<span>{count(first_item)}&ndash;{count(last_item)} of '
            f'{count(total)} &middot; page {page} of {last}</span>{next_link}</nav>')


def counts_bar(counts: dict[str, int], total: int) -> str:
    """A thin stacked bar of task statuses."""
    if not total:
        return '<div class="bar"></div>'
    parts = []
    for status in ("succeeded", "running", "abandoned", "failed"):
        n = counts.get(status, 0)
        if n:
            parts.append(f'<span class="s-{status}" style="width:{100 * n / total:.3f}%" '
                         f'title="{n:,} {status}"></span>')
    return f'<div class="bar">{"".join(parts)}</div>'


def chips(tags: Iterable[str], *, link: tuple[object, ...] | None = None) -> str:
    out = []
    for tag in tags:
        if link is not None:
            out.append(f'<a class="chip" href="{href(*link, tag=tag)}">{h(tag)}</a>')
        else:
            out.append(f'<span class="chip">{h(tag)}</span>')
    return " ".join(out)
