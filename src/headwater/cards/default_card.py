"""The ``default`` card: everything about a task on one page.

Its pathspec, status and timings; the exception if it failed; the components the step
appended; the run's parameters; every artifact with a type-aware preview; and the flow's
graph with this step highlighted. While the task runs (``current.card.refresh()``) the card
shows the components and leaves artifacts for the final version.

Options: ``include`` / ``exclude`` (lists of artifact names), ``graph`` (False hides the
graph), ``max_chars`` (preview length, default 500).
"""

from __future__ import annotations

from . import preview as pv
from .base import CardBase
from .graph_svg import graph_svg
from .html import badge, escape, facts, page, pre

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class DefaultCard(CardBase):
    type = "default"
    ALLOW_USER_COMPONENTS = True
    RUNTIME_UPDATABLE = True

    def render(self, task: Any) -> str:
        parts = [self._header(task)]
        exc = task.exception
        if exc is not None:
            parts.append("<h2>Exception</h2>" + f'<div class="error"><div class="headline">'
                         f"{escape(exc.type)}: {escape(exc.message)}</div>{pre(exc.traceback)}</div>")
        components = self.render_components()
        if components:
            parts.append(f'<section class="components">{components}</section>')
        parts.append(self._parameters(task))
        parts.append(self._artifacts(task))
        graph = self.graph if self.graph is not None else task.graph
        if graph and self.options.get("graph", True):
            parts.append('<h2>Graph</h2><div class="scroll">' + graph_svg(graph, task.step_name) + "</div>")
        parts.append(f"<footer>Card rendered by Headwater for {escape(task.pathspec)}"
                     f"{'' if task.finished else ' while the task was running'}.</footer>")
        return page(f"{task.pathspec} ({task.status})", "\n".join(parts), final=task.finished,
                    kind=self.type or "default")

    def _header(self, task: Any) -> str:
        rows = [
            ("flow", escape(task.flow_name)),
            ("run", escape(task.run_id)),
            ("step", escape(task.step_name)),
            ("task", escape(task.id)),
            ("status", badge(task.status)),
            ("attempt", escape(task.current_attempt + 1)
             + (f" of {escape(task.max_retries + 1)}" if task.max_retries else "")),
            ("started", escape(task.started_at.isoformat(sep=" ", timespec="seconds"))),
        ]
        if task.finished_at is not None:
            rows.append(("finished", escape(task.finished_at.isoformat(sep=" ", timespec="seconds"))))
            rows.append(("duration", escape(_duration(task.duration))))
        if task.index is not None:
            rows.append(("foreach index", escape(task.index)))
        return (f"<h1>{escape(task.pathspec)} {badge(task.status)}</h1>"
                f'<p class="subtitle">Task {escape(task.id)} of step {escape(task.step_name)}, '
                f"run {escape(task.run_id)} of {escape(task.flow_name)}</p>" + facts(rows))

    def _parameters(self, task: Any) -> str:
        try:
            params = task.parameters
        except Exception as exc:  # noqa: BLE001
            return f'<h2>Parameters</h2><p class="muted">not available: {escape(exc)}</p>'
        if not params:
            return ""
        rows = "".join(f'<tr><td class="name">{escape(k)}</td><td>{pv.preview(v, name=k)}</td></tr>'
                       for k, v in params.items())
        return f"<h2>Parameters</h2><table><tbody>{rows}</tbody></table>"

    def _artifacts(self, task: Any) -> str:
        if not task.finished:
            return '<h2>Artifacts</h2><p class="muted">Artifacts are shown when the task finishes.</p>'
        include = self.options.get("include")
        exclude = set(self.options.get("exclude") or ())
        limit = int(self.options.get("max_chars", pv.MAX_CHARS))
        params = set(task.parameters)
        shown = [a for a in task.artifacts if a.name not in params and a.name not in exclude
                 and (include is None or a.name in include)]
        note = ""
        if not task.successful:
            note = '<p class="note">The task failed: these values were not stored as artifacts.</p>'
        if not shown:
            return f'<h2>Artifacts</h2>{note}<p class="muted">This task has no artifacts.</p>'
        rows = []
        for art in shown:
            if art.too_large:
                cell = f'<span class="muted">{art.size:,} bytes stored; too large to preview here</span>'
            else:
                try:
                    cell = pv.preview(art.data, max_chars=limit, name=art.name)
                except Exception as exc:  # noqa: BLE001 - e.g. a value that cannot be loaded
                    cell = f'<span class="muted">cannot load: {escape(type(exc).__name__)}: {escape(exc)}</span>'
            rows.append(f'<tr><td class="name">{escape(art.name)}</td><td class="type">{escape(art.type)}</td>'
                        f"<td>{cell}</td></tr>")
        head = "<thead><tr><th>name</th><th>type</th><th>value</th></tr></thead>"
        return (f'<h2>Artifacts</h2>{note}<div class="scroll"><table class="artifacts">{head}<tbody>'
                + "".join(rows) + "</tbody></table></div>")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
