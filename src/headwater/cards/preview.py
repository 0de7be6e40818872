"""A short, type-aware HTML preview of any value, for the default card and ``Artifact``.

    DataFrame   shape, then the first rows as a table
    Series      length and dtype, then the first values
    ndarray     shape, dtype, min and max, then the first values
    PNG/JPEG    bytes and PIL images are shown as images; matplotlib figures too
    text        escaped, truncated
    anything    a bounded ``repr`` (``reprlib``), truncated

Libraries are never imported here: a value is recognised by its type's module and name, so
previewing costs nothing for types a flow does not use. A preview that fails says why
instead of failing the card.
"""

from __future__ import annotations

import base64
import io
import itertools
import reprlib

from .html import escape, pre, table, truncate

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

MAX_CHARS = 500
MAX_ROWS = 5
MAX_IMAGE_BYTES = 5 * 1024 * 1024



class _Repr(reprlib.Repr):
    def repr_dict(self, x: dict, level: int) -> str:  # keep insertion order (reprlib sorts keys)
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
                 for k, v in itertools.islice(x.items(), self.maxdict)]
        return "{" + ", ".join(items) + (", ..." if len(x) > self.maxdict else "") + "}"


_repr = _Repr()
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdeque = 20
_repr.maxdict = 20
_repr.maxstring = MAX_CHARS
_repr.maxother = MAX_CHARS
_repr.maxlevel = 4


def qualname(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def image_mime(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG, GIF or WebP bytes, else None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def img_tag(data: bytes, mime: str, alt: str = "") -> str:
    return f'<img alt="{escape(alt)}" src="{data_uri(data, mime)}">'


def is_pil_image(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "size")


def is_matplotlib_figure(value: Any) -> bool:
    return type(value).__module__.startswith("matplotlib.") and hasattr(value, "savefig")


def pil_to_png(image: Any) -> bytes:
    buf = io.BytesIO()
    img = image
    if getattr(img, "mode", "RGB") not in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16"):
        img = img.convert("RGBA")
    img.save(buf, format="PNG")
    return buf.getvalue()


def figure_to_png(figure: Any) -> bytes:
    buf = io.BytesIO()
    figure.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def short_repr(value: Any, limit: int = MAX_CHARS) -> str:
    try:
        text = value if isinstance(value, str) else _repr.repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the card
        text = f"<repr() failed: {type(exc).__name__}: {exc}>"
    return truncate(text, limit)


def preview(value: Any, *, max_chars: int = MAX_CHARS, name: str = "") -> str:
    """HTML showing ``value``: a summary line and, where it helps, a table or an image."""
    try:
        return _preview(value, max_chars, name)
    except Exception as exc:  # noqa: BLE001
        return f'<span class="muted">no preview ({escape(type(exc).__name__)}: {escape(exc)})</span>'


def _preview(value: Any, max_chars: int, name: str) -> str:
    cls = type(value)
    module, kind = cls.__module__.split(".")[0], cls.__name__
    if value is None or isinstance(value, bool | int | float | complex):
        return f"<code>{escape(repr(value))}</code>"
    if isinstance(value, str):
        text = truncate(value, max_chars)
        return pre(text) if "\n" in text or len(text) > 80 else f"<code>{escape(text)}</code>"
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value[:MAX_IMAGE_BYTES + 1])
        mime = image_mime(data)
        if mime and len(data) <= MAX_IMAGE_BYTES:
            return img_tag(data, mime, name)
        head = short_repr(bytes(value[:64]), max_chars)
        return f'<span class="muted">{len(value):,} bytes</span> <code>{escape(head)}</code>'
    if module == "pandas" and kind == "DataFrame":
        return _dataframe(value)
    if module == "pandas" and kind == "Series":
        rows = [(str(i), short_repr(v, 80)) for i, v in value.head(MAX_ROWS).items()]
        return (f'<div class="muted">{len(value):,} values, dtype {escape(value.dtype)}</div>'
                + table(("index", "value"), rows))
    if module == "numpy" and kind == "ndarray":
        return _ndarray(value, max_chars)
    if is_pil_image(value):
        return img_tag(pil_to_png(value), "image/png", name)
    if is_matplotlib_figure(value):
        return img_tag(figure_to_png(value), "image/png", name)
    text = short_repr(value, max_chars)
    size = ""
    if isinstance(value, list | tuple | dict | set | frozenset):
        size = f'<span class="muted">{len(value):,} items</span> '
    return size + (pre(text) if len(text) > 80 or "\n" in text else f"<code>{escape(text)}</code>")


def _dataframe(df: Any) -> str:
    rows_n, cols_n = df.shape
    head = df.head(MAX_ROWS)
    columns = [str(c) for c in head.columns[:20]]
    rows = []
    for index, row in zip(head.index, head.itertuples(index=False), strict=False):
        rows.append([str(index), *(short_repr(v, 60) for v in list(row)[:20])])
    more = f", first {min(rows_n, MAX_ROWS)} rows" if rows_n else ""
    cut = f"; {cols_n - 20} more columns not shown" if cols_n > 20 else ""
    return (f'<div class="muted">DataFrame: {rows_n:,} rows × {cols_n:,} columns{more}{cut}</div>'
            + table(["", *columns], rows))


def _ndarray(arr: Any, max_chars: int) -> str:
    facts = [f"shape {tuple(arr.shape)}", f"dtype {arr.dtype}"]
    if arr.size and arr.dtype.kind in "biuf":
        import numpy as np

        finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
        if finite.size:
            facts += [f"min {finite.min().item()!r}", f"max {finite.max().item()!r}"]
        if finite.size < arr.size:
            facts.append(f"{arr.size - finite.size:,} non-finite")
    flat = arr.reshape(-1)[:10].tolist()
    sample = short_repr(flat, max_chars) + (" …" if arr.size > 10 else "")
    return f'<div class="muted">{escape(", ".join(facts))}</div><code>{escape(sample)}</code>'
