"""A small, safe Markdown: what reports need, and never raw HTML.

Supported: ``#`` headings, paragraphs, ``**bold**``, ``*italic*``, ```code```, fenced code
blocks, ``-``/``*``/``1.`` lists, ``>`` quotes, ``---`` rules, ``[links](url)`` and
``![images](data:...)``. Everything is escaped first, so ``<script>`` in the text shows as
text. Links keep only http(s), mailto and relative targets; an image that is not a ``data:``
URI becomes a link, because a card never loads anything from the network.
"""

from __future__ import annotations

import html
import re

_FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_SAFE_URL = re.compile(r"^(https?:|mailto:|#|/|\./|\.\./|[\w.-]+(/|$))", re.IGNORECASE)


def to_html(text: str) -> str:
    """Render Markdown ``text`` as an HTML fragment."""
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append("<p>" + "<br>".join(inline(p) for p in para) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            end = fence.group(1)
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i].strip() != end:
                body.append(lines[i])
                i += 1
            lang = fence.group(2)
            cls = f' class="language-{html.escape(lang)}"' if lang else ""
            out.append(f'<pre class="code"><code{cls}>{html.escape(chr(10).join(body))}</code></pre>')
            i += 1
            continue
        if not line.strip():
            flush()
        elif _HEADING.match(line):
            flush()
            m = _HEADING.match(line)
            assert m is not None
            level = len(m.group(1))
            out.append(f"<h{level}>{inline(m.group(2))}</h{level}>")
        elif _RULE.match(line):
            flush()
            out.append("<hr>")
        elif _BULLET.match(line) or _NUMBERED.match(line):
            flush()
            ordered = _BULLET.match(line) is None
            pattern = _NUMBERED if ordered else _BULLET
            items: list[str] = []
            while i < len(lines) and pattern.match(lines[i]):
                match = pattern.match(lines[i])
                assert match is not None
                items.append(f"<li>{inline(match.group(1))}</li>")
                i += 1
            tag = "ol" if ordered else "ul"
            out.append(f"<{tag}>{''.join(items)}</{tag}>")
            continue
        elif _QUOTE.match(line):
            flush()
            quoted: list[str] = []
            while i < len(lines) and _QUOTE.match(lines[i]):
                match = _QUOTE.match(lines[i])
                assert match is not None
                quoted.append(match.group(1))
                i += 1
            out.append(f"<blockquote>{to_html(chr(10).join(quoted))}</blockquote>")
            continue
        else:
            para.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)


def inline(text: str) -> str:
    """Inline markup of one line; code spans are left exactly as written."""
    parts = _CODE_SPAN.split(text)
    out: list[str] = []
    # split() with two groups yields: text, ticks, code, text, ticks, code, ...
    for k in range(0, len(parts), 3):
        out.append(_emphasis(html.escape(parts[k], quote=True)))
        if k + 2 < len(parts):
            out.append(f"<code>{html.escape(parts[k + 2].strip(), quote=True)}</code>")
    return "".join(out)


def _emphasis(escaped: str) -> str:
    escaped = _IMAGE.sub(_image, escaped)
    escaped = _LINK.sub(_link, escaped)
    escaped = _BOLD.sub(r"<strong>\2</strong>", escaped)
    return _ITALIC.sub(r"<em>\2</em>", escaped)


def _image(m: re.Match[str]) -> str:
    alt, url = m.group(1), m.group(2)
    if url.lower().startswith("data:image/"):
        return f'<img alt="{alt}" src="{url}">'
    return _link_html(alt or url, url)


def _link(m: re.Match[str]) -> str:
    return _link_html(m.group(1), m.group(2))


def _link_html(label: str, url: str) -> str:
    if not _SAFE_URL.match(html.unescape(url)):
        return label
    return f'<a href="{url}" rel="noopener noreferrer" target="_blank">{label}</a>'
