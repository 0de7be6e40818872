"""The HTML around every card: one self-contained page with its CSS inline.

A card page fetches nothing: no scripts, no stylesheets, no fonts, and images are ``data:``
URIs. The page says so to the browser too, with a Content-Security-Policy that refuses any
network load, so a card opened from a file, an e-mail or the UI behaves the same offline.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

# Loads nothing from anywhere: inline styles and data: images only.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#ffffff; --soft:#f6f8fa;
        --accent:#0b6bcb; --ok:#1a7f37; --bad:#cf222e; --run:#9a6700; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; color: var(--fg); background: var(--bg);
       font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
.subtitle, .muted, .note { color: var(--muted); }
.note { font-size: 12px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px;
         font-weight: 600; color: #fff; background: var(--muted); vertical-align: middle; }
.badge.succeeded { background: var(--ok); } .badge.failed { background: var(--bad); }
.badge.running { background: var(--run); }
table { border-collapse: collapse; margin: 6px 0 12px; max-width: 100%; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
table.facts th { width: 150px; }
td.name { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; white-space: nowrap; }
td.type { color: var(--muted); font-size: 12px; white-space: nowrap; }
.scroll { overflow-x: auto; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--soft); padding: 8px 10px; border-radius: 6px; overflow-x: auto;
      white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
pre.code { white-space: pre; }
img { max-width: 100%; height: auto; }
figure { margin: 8px 0 16px; } figcaption { color: var(--muted); font-size: 12px; }
.component { margin: 10px 0 16px; }
.error { border: 1px solid var(--bad); border-left-width: 4px; border-radius: 6px;
         padding: 8px 12px; background: #fff5f5; }
.error .headline { color: var(--bad); font-weight: 600; }
.progress .bar { height: 12px; background: var(--soft); border: 1px solid var(--line);
                 border-radius: 6px; overflow: hidden; max-width: 480px; }
.progress .fill { height: 100%; background: var(--accent); }
.valuebox { display: inline-block; min-width: 160px; padding: 10px 14px; margin: 0 8px 8px 0;
            border: 1px solid var(--line); border-radius: 8px; background: var(--soft); }
.valuebox .title { color: var(--muted); font-size: 12px; text-transform: uppercase; }
.valuebox .value { font-size: 24px; font-weight: 600; }
td .markdown > :first-child { margin-top: 0; } td .markdown > :last-child { margin-bottom: 0; }
.markdown blockquote { margin: 6px 0; padding-left: 12px; border-left: 3px solid var(--line);
                       color: var(--muted); }
svg.graph .step rect { fill: #fff; stroke: #8c959f; stroke-width: 1.2; }
svg.graph .step text { font: 12px ui-monospace, Menlo, monospace; fill: var(--fg); }
svg.graph .step .detail { font-size: 10px; fill: var(--muted); }
svg.graph .step.current rect { fill: #ddf4ff; stroke: var(--accent); stroke-width: 2.5; }
svg.graph .step.current text { font-weight: 700; }
svg.graph .edge { fill: none; stroke: #8c959f; stroke-width: 1.2; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"""


def escape(value: Any) -> str:
    """Text made safe for HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, final: bool = True, kind: str = "") -> str:
    """A complete HTML document around ``body``."""
    state = "final" if final else "live"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en" data-card-type="{escape(kind)}" data-card-state="{state}">\n<head>\n'
        '<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="headwater">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def is_document(text: str) -> bool:
    """Whether ``text`` is a whole HTML document rather than a fragment."""
    head = text.lstrip()[:15].lower()
    return head.startswith("<!doctype") or head.startswith("<html")


def displayable(text: str, *, title: str, kind: str = "", final: bool = True) -> str:
    """A stored card as a browser should get it: a whole document as it is, a fragment (what
    a custom card's render() may return, stored as returned) inside :func:`page`."""
    return text if is_document(text) else page(title, text, final=final, kind=kind)


def table(headers: Sequence[str] | None, rows: Iterable[Sequence[str]], *, cls: str = "",
          raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then they are HTML already)."""
    out = [f'<div class="scroll"><table class="{escape(cls)}">']
    if headers:
        out.append("<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        cells = "".join(f"<td>{c if raw else escape(c)}</td>" for c in row)
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def facts(pairs: Iterable[tuple[str, str]]) -> str:
    """A two-column table of label and (already escaped) value."""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="facts"><tbody>{rows}</tbody></table>'


def pre(text: str, cls: str = "") -> str:
    attr = f' class="{escape(cls)}"' if cls else ""
    return f"<pre{attr}>{escape(text)}</pre>"


def badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status)}</span>'


def error_box(headline: str, detail: str = "") -> str:
    body = pre(detail) if detail else ""
    return f'<div class="error"><div class="headline">{escape(headline)}</div>{body}</div>'


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit:,} more characters)"
