"""Card components: the building blocks a step appends to ``current.card``.

    current.card.append(Markdown("# Training"))
    current.card.append(Table([[1, "a"], [2, "b"]], headers=["n", "letter"]))
    bar = ProgressBar(max=100, label="epochs")
    current.card.append(bar)
    bar.update(40); current.card.refresh()          # a live card shows 40 / 100

Each component turns itself into an HTML fragment in ``render()``. Heavy conversions (a
figure to PNG) happen when the component is built, so the card shows the value of that
moment and rendering stays cheap. Subclass :class:`Component` for your own.
"""

from __future__ import annotations

import inspect
import json
import textwrap
import traceback
from collections.abc import Callable, Sequence

from . import markdown as md
from . import preview as pv
from .html import error_box, escape, pre

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

MAX_TABLE_ROWS = 1000


class Component:
    """Base of card components: override ``render()`` to return an HTML fragment."""

    REALTIME_UPDATABLE = False
    component_id: str | None = None

    def render(self) -> str:
        raise NotImplementedError(f"{type(self).__name__}.render() must return an HTML string.")

    def update(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"{type(self).__name__} cannot be updated; append a new component instead.")


def render_component(component: Any) -> str:
    """The component's HTML; a failing component shows its traceback instead of failing the card."""
    if not isinstance(component, Component):
        component = Artifact(component)
    try:
        out = component.render()
        if not isinstance(out, str):
            raise TypeError(f"render() returned a {type(out).__name__}, not an HTML string")
    except Exception as exc:  # noqa: BLE001
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        out = error_box(f"{type(component).__name__} failed to render: {type(exc).__name__}: {exc}", detail)
    return f'<div class="component">{out}</div>'


def render_components(components: Sequence[Any]) -> str:
    return "\n".join(render_component(c) for c in list(components))


class Markdown(Component):
    """Text written in Markdown (a safe subset; HTML in the text is shown, not run)."""

    REALTIME_UPDATABLE = True

    def __init__(self, text: str = "") -> None:
        self.text = text

    def update(self, text: str) -> None:
        self.text = text

    def render(self) -> str:
        return f'<div class="markdown">{md.to_html(self.text)}</div>'


class Table(Component):
    """Rows of cells (values or components), with optional column headers."""

    REALTIME_UPDATABLE = True

    def __init__(self, data: Sequence[Sequence[Any]] | None = None, headers: Sequence[Any] | None = None,
                 *, note: str = "") -> None:
        self.data = [list(row) for row in (data or [])]
        self.headers = [str(h) for h in headers] if headers is not None else None
        self.note = note

    @classmethod
    def from_dataframe(cls, dataframe: Any, truncate: bool = True, max_rows: int = 100) -> Table:
        """A table of a pandas DataFrame: its index and columns, the first ``max_rows`` rows."""
        if not hasattr(dataframe, "itertuples") or not hasattr(dataframe, "columns"):
            raise TypeError(f"Table.from_dataframe needs a pandas DataFrame, got {pv.qualname(dataframe)}.")
        total = len(dataframe)
        shown = dataframe.head(max_rows) if truncate else dataframe
        rows = [[idx, *row] for idx, row in zip(shown.index, shown.itertuples(index=False), strict=False)]
        note = f"First {len(shown):,} of {total:,} rows." if len(shown) < total else ""
        return cls(rows, headers=["", *[str(c) for c in dataframe.columns]], note=note)

    def update(self, data: Sequence[Sequence[Any]]) -> None:
        self.data = [list(row) for row in data]

    def render(self) -> str:
        rows = self.data[:MAX_TABLE_ROWS]
        body = []
        for row in rows:
            cells = "".join(f"<td>{_cell(c)}</td>" for c in row)
            body.append(f"<tr>{cells}</tr>")
        head = ""
        if self.headers is not None:
            head = "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in self.headers) + "</tr></thead>"
        note = self.note
        if len(self.data) > MAX_TABLE_ROWS:
            note = f"First {MAX_TABLE_ROWS:,} of {len(self.data):,} rows."
        foot = f'<div class="note">{escape(note)}</div>' if note else ""
        return f'<div class="scroll"><table>{head}<tbody>{"".join(body)}</tbody></table></div>{foot}'


def _cell(value: Any) -> str:
    if isinstance(value, Component):
        return value.render()
    if value is None:
        return ""
    if isinstance(value, float):
        return escape(f"{value:.6g}")
    return escape(pv.short_repr(value, 300) if not isinstance(value, str) else pv.truncate(value, 300))


class Image(Component):
    """A PNG or JPEG image (bytes), shown inline as a ``data:`` URI.

    ``Image.from_matplotlib(fig)`` and ``Image.from_pil_image(img)`` convert figures and
    PIL images to PNG; ``Image(fig)`` and ``Image(img)`` do the same.
    """

    REALTIME_UPDATABLE = True

    def __init__(self, src: Any = None, label: str | None = None) -> None:
        self.label = label
        self._set(src)

    def _set(self, src: Any) -> None:
        self._error: str | None = None
        self._data: bytes | None = None
        self._mime = ""
        try:
            data = _image_bytes(src)
            mime = pv.image_mime(data)
            if mime is None:
                raise ValueError("the bytes are not a PNG, JPEG, GIF or WebP image")
            self._data, self._mime = data, mime
        except Exception as exc:  # noqa: BLE001 - shown in the card, never raised in the step
            self._error = f"{type(exc).__name__}: {exc}"

    @classmethod
    def from_matplotlib(cls, figure: Any, label: str | None = None) -> Image:
        """A matplotlib Figure, an Axes (its figure) or ``pyplot`` itself (its current figure)."""
        fig = figure
        if hasattr(fig, "gcf") and not hasattr(fig, "get_axes"):
            fig = fig.gcf()
        elif not hasattr(fig, "savefig") and hasattr(fig, "figure"):
            fig = fig.figure
        return cls(fig, label=label)

    @classmethod
    def from_pil_image(cls, image: Any, label: str | None = None) -> Image:
        return cls(image, label=label)

    def update(self, src: Any) -> None:
        self._set(src)

    def render(self) -> str:
        if self._error is not None:
            return error_box(f"Image: {self._error}")
        assert self._data is not None
        caption = f"<figcaption>{escape(self.label)}</figcaption>" if self.label else ""
        return f"<figure>{pv.img_tag(self._data, self._mime, self.label or '')}{caption}</figure>"


def _image_bytes(src: Any) -> bytes:
    if src is None:
        raise ValueError("no image given")
    if isinstance(src, bytes | bytearray | memoryview):
        return bytes(src)
    if pv.is_pil_image(src):
        return pv.pil_to_png(src)
    if pv.is_matplotlib_figure(src):
        return pv.figure_to_png(src)
    raise TypeError(f"cannot show a {pv.qualname(src)} as an image; give PNG/JPEG bytes, a PIL "
                    "image or a matplotlib figure")


class Artifact(Component):
    """Any value, with a type-aware preview (tables for DataFrames, images for image bytes)."""

    REALTIME_UPDATABLE = True

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True) -> None:
        self.artifact = artifact
        self.name = name
        self.compressed = compressed

    def update(self, artifact: Any) -> None:
        self.artifact = artifact

    def render(self) -> str:
        limit = pv.MAX_CHARS if self.compressed else 100_000
        title = f"<h3><code>{escape(self.name)}</code></h3>" if self.name else ""
        kind = f'<div class="note">{escape(pv.qualname(self.artifact))}</div>'
        return title + kind + pv.preview(self.artifact, max_chars=limit, name=self.name or "")


class ProgressBar(Component):
    """A bar from 0 to ``max``; ``update(value)`` then ``current.card.refresh()`` to show progress."""

    REALTIME_UPDATABLE = True

    def __init__(self, max: float = 100, label: str | None = None, value: float = 0,
                 unit: str | None = None, metadata: str | None = None) -> None:
        self.max = max
        self.label = label
        self.value = value
        self.unit = unit
        self.metadata = metadata

    def update(self, value: float, metadata: str | None = None) -> None:
        self.value = value
        if metadata is not None:
            self.metadata = metadata

    def render(self) -> str:
        top = float(self.max) if self.max else 0.0
        share = 0.0 if top <= 0 else min(max(float(self.value) / top, 0.0), 1.0)
        unit = f" {self.unit}" if self.unit else ""
        text = f"{_num(self.value)} / {_num(self.max)}{unit} ({share:.0%})"
        label = f"<strong>{escape(self.label)}</strong> " if self.label else ""
        meta = f'<div class="note">{escape(self.metadata)}</div>' if self.metadata else ""
        return (f'<div class="progress">{label}<span class="value">{escape(text)}</span>'
                f'<div class="bar" role="progressbar" aria-valuenow="{escape(self.value)}" '
                f'aria-valuemax="{escape(self.max)}"><div class="fill" style="width:{share * 100:.1f}%">'
                f"</div></div>{meta}</div>")


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class ValueBox(Component):
    """One headline number or word, with a title: ``ValueBox("accuracy", 0.93)``."""

    REALTIME_UPDATABLE = True

    def __init__(self, title: str, value: Any, subtitle: str | None = None) -> None:
        self.title = title
        self.value = value
        self.subtitle = subtitle

    def update(self, value: Any) -> None:
        self.value = value

    def render(self) -> str:
        value = _num(self.value) if isinstance(self.value, int | float) else str(self.value)
        sub = f'<div class="note">{escape(self.subtitle)}</div>' if self.subtitle else ""
        return (f'<div class="valuebox"><div class="title">{escape(self.title)}</div>'
                f'<div class="value">{escape(value)}</div>{sub}</div>')


class PythonCode(Component):
    """Source code, shown escaped in a monospace block: a string, or a function's source."""

    def __init__(self, code: str | Callable[..., Any] | None = None, *, code_string: str | None = None,
                 code_func: Callable[..., Any] | None = None) -> None:
        source = code if code is not None else (code_string if code_string is not None else code_func)
        if callable(source):
            try:
                source = textwrap.dedent(inspect.getsource(source))
            except (OSError, TypeError):
                source = f"# source of {getattr(source, '__qualname__', source)!s} is not available"
        self.code = "" if source is None else str(source)

    def render(self) -> str:
        return pre(self.code, "code")


class Error(Component):
    """An exception (with its traceback) or an error message, shown as an error box."""

    def __init__(self, exception: BaseException | str, headline: str | None = None) -> None:
        self.exception = exception
        self.headline = headline

    def render(self) -> str:
        exc = self.exception
        if isinstance(exc, BaseException):
            title = self.headline or f"{type(exc).__name__}: {exc}"
            detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            return error_box(title, detail)
        return error_box(self.headline, str(exc)) if self.headline else error_box(str(exc))


class VegaChart(Component):
    """A Vega-Lite chart from a spec dict or an Altair chart.

    Cards load no JavaScript, so the chart is drawn to SVG when ``vl-convert-python`` is
    installed (it renders offline). Otherwise the card shows the chart's data as a table and
    its spec as JSON.
    """

    REALTIME_UPDATABLE = True

    def __init__(self, spec: Any, show_controls: bool = False) -> None:
        self.spec = _vega_spec(spec)  # show_controls: accepted for Metaflow's signature; no JS here

    @classmethod
    def from_altair_chart(cls, chart: Any) -> VegaChart:
        return cls(chart)

    def update(self, spec: Any) -> None:
        self.spec = _vega_spec(spec)

    def render(self) -> str:
        from .vega import render_chart

        return render_chart(self.spec)


def _vega_spec(spec: Any) -> dict[str, Any]:
    if hasattr(spec, "to_dict") and not isinstance(spec, dict):
        spec = spec.to_dict()
    if isinstance(spec, str):
        spec = json.loads(spec)
    if not isinstance(spec, dict):
        raise TypeError(f"VegaChart needs a Vega-Lite spec dict or an Altair chart, got {pv.qualname(spec)}.")
    return spec
