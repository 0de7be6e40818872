"""Previews of artifact values: a one-line summary for tables, a fuller view on its own page.

Values are loaded from the blob store only when small enough (``INLINE_BYTES`` stored bytes
for a table row, ``PAGE_BYTES`` for the artifact's page), so a 2 GB array never slows a page.
The one-line form uses ``reprlib`` limits, which look at a few items of a container, not all
of them. DataFrames use pandas' own (escaping) HTML of their first rows; everything else is
text, escaped. A value that cannot be loaded here (its class is not importable in the UI's
environment, a corrupted blob) gets a sentence saying so instead of an error page.
"""

from __future__ import annotations

import base64
import pprint
import reprlib
from typing import Any

from ..client.records import ArtifactRow
from .html import h, size

INLINE_BYTES = 64 * 1024
PAGE_BYTES = 32 * 1024 * 1024
PAGE_CHARS = 200_000

_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict = 100, 100, 8, 6
_short.maxtuple = _short.maxset = _short.maxfrozenset = _short.maxdeque = _short.maxarray = 8
ONE_LINE = 160
_short.maxlevel = 3
_long = reprlib.Repr()  # for values too large to pretty-print whole
_long.maxstring, _long.maxother, _long.maxlist, _long.maxdict = 20_000, 2_000, 500, 200
_long.maxtuple = _long.maxset = _long.maxfrozenset = _long.maxdeque = _long.maxarray = 500
_long.maxlevel = 6
PRETTY_BYTES = 1024 * 1024


class Unavailable(Exception):
    """The value is too large to load for this view, or cannot be loaded here."""


def load(blobs: Any, row: ArtifactRow, limit: int) -> Any:
    if row.size > limit:
        raise Unavailable(f"{size(row.size)} stored; too large to preview here")
    try:
        return blobs.load(row.key)
    except (ImportError, AttributeError) as exc:
        raise Unavailable(f"its class cannot be imported by the UI ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # noqa: BLE001 - a broken blob must not break the page
        raise Unavailable(f"cannot be loaded ({type(exc).__name__}: {exc})") from exc


def _shape(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        return "×".join(f"{n:,}" for n in shape)
    return ""


IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
               (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def image_of(value: Any, css: str) -> str | None:
    """An ``<img>`` of PNG, JPEG or GIF bytes (a data URL: the page policy allows those)."""
    if not isinstance(value, bytes | bytearray):
        return None
    kind = next((k for sig, k in IMAGE_TYPES if value.startswith(sig)), None)
    if kind is None:
        return None
    data = base64.b64encode(bytes(value)).decode("ascii")
    return f'<img class="{css}" alt="image ({size(len(value))})" src="data:{kind};base64,{data}">'


def one_line(value: Any) -> str:
    """A short repr, escaped, with the shape of arrays and frames."""
    mod = type(value).__module__
    if mod.startswith(("numpy", "pandas", "pyarrow", "polars", "torch")):
        shape = _shape(value)
        dtype = getattr(value, "dtype", None)
        kind = type(value).__name__
        bits = [kind, shape, str(dtype) if dtype is not None and not hasattr(value, "columns") else ""]
        if hasattr(value, "columns"):
            cols = [str(c) for c in list(value.columns)[:6]]
            more = ", …" if len(value.columns) > 6 else ""
            bits.append("columns: " + ", ".join(cols) + more)
        return h(" ".join(b for b in bits if b))
    try:
        text = _short.repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the page
        text = f"<unprintable {type(value).__name__}: {exc}>"
    return h(text if len(text) <= ONE_LINE else text[: ONE_LINE - 4] + " ...")


def inline(blobs: Any, row: ArtifactRow) -> str:
    """The cell shown in a task's artifact table."""
    try:
        value = load(blobs, row, INLINE_BYTES)
        return image_of(value, "thumb") or f"<code>{one_line(value)}</code>"
    except Unavailable as exc:
        return f'<span class="muted">{h(exc)}</span>'


def full(blobs: Any, row: ArtifactRow) -> str:
    """The body of an artifact's own page."""
    try:
        value = load(blobs, row, PAGE_BYTES)
    except Unavailable as exc:
        return f'<p class="notice">This value is not shown: {h(exc)}.</p>'
    picture = image_of(value, "picture")
    if picture:
        return picture
    to_html = getattr(value, "to_html", None)
    if type(value).__module__.startswith("pandas") and callable(to_html):
        try:
            rows = getattr(value, "shape", (0,))[0]
            head = value.head(50) if hasattr(value, "head") else value
            table = head.to_html(border=0, classes="grid frame", max_cols=30, escape=True)
            note = f"<p class=\"muted\">First {min(rows, 50):,} of {rows:,} rows.</p>" if rows > 50 else ""
            return f'<div class="scroll">{table}</div>{note}'
        except Exception:  # noqa: BLE001 - fall back to text
            pass
    if type(value).__module__ == "numpy":
        try:
            import numpy

            text = numpy.array2string(value, threshold=2000, edgeitems=20, max_line_width=120)
        except Exception:  # noqa: BLE001
            text = repr(value)
    elif isinstance(value, str):
        text = value
    elif isinstance(value, bytes | bytearray):
        text = repr(bytes(value[:4096])) + (" …" if len(value) > 4096 else "")
    else:
        try:
            text = (pprint.pformat(value, width=110, compact=True) if row.size <= PRETTY_BYTES
                    else _long.repr(value))
        except Exception as exc:  # noqa: BLE001
            text = f"<unprintable {type(value).__name__}: {exc}>"
    cut = ""
    if len(text) > PAGE_CHARS:
        text, cut = text[:PAGE_CHARS], f'<p class="muted">Cut at {PAGE_CHARS:,} characters.</p>'
    return f'<pre class="value">{h(text)}</pre>{cut}'
