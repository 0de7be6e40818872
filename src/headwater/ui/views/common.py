"""What every view shares: the request context, lookups that 404 cleanly, live regions.

A view gets a ``Ctx`` (the datastore, the query string) and returns a ``Page``. Lookups raise
``NotFound`` with a sentence naming what was missing and a link to the nearest parent that
exists, which the app turns into a 404 page.

Parts of a page that change while a run is going are *live regions*: the page embeds them in
``<div data-live="URL">`` and the script fetches ``URL`` (the same page with ``part=NAME``)
every second, swapping the region when it changed, until the answer carries ``done``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...client.stores import Stores
from ...datastore.datastore import Datastore
from ...metadata.provider import MetadataReader
from ...metadata.records import RunRow, TaskRow
from ..html import h, href

RUNS_PER_PAGE = 50
TASKS_PER_PAGE = 100


@dataclass
class Ctx:
    stores: Stores
    query: Mapping[str, str] = field(default_factory=dict)
    now: float = field(default_factory=time.time)

    @property
    def root(self) -> Path:
        return self.stores.root

    def datastore_for(self, flow: str, run: int) -> Datastore:
        """The bytes of a run: logs, cards, artifacts (the run may keep them on S3)."""
        return self.stores.datastore_for(flow, run)

    @property
    def reader(self) -> MetadataReader:
        return self.stores.reader

    def arg(self, key: str, allowed: tuple[str, ...] | None = None) -> str | None:
        value = (self.query.get(key) or "").strip()
        if not value or len(value) > 300:
            return None
        if allowed is not None and value not in allowed:
            return None
        return value

    def page(self) -> int:
        value = self.query.get("page", "1")
        return int(value) if value.isdigit() and 0 < int(value) < 10**9 else 1


class NotFound(Exception):
    """Something named in the URL does not exist; ``parent`` is where to go instead."""

    def __init__(self, message: str, parent: tuple[str, str]) -> None:
        super().__init__(message)
        self.message = message
        self.parent = parent  # (label, escaped href)


@dataclass
class Live:
    """A live region's markup and whether it will change again."""

    html: str
    done: bool


def signature(html: str) -> str:
    """A short fingerprint of a region's markup: the script swaps a region only when it changed."""
    return hashlib.sha1(html.encode("utf-8")).hexdigest()[:16]


def live_region(url: str, inner: str, *, done: bool, every_ms: int = 1000, name: str = "") -> str:
    """Wrap ``inner`` so the page script keeps it fresh while ``done`` is false."""
    if done:
        return f'<div class="live" data-part="{h(name)}">{inner}</div>'
    return (f'<div class="live" data-part="{h(name)}" data-live="{url}" data-every="{every_ms}" '
            f'data-sig="{signature(inner)}">{inner}</div>')


def load_flow(ctx: Ctx, flow: str) -> None:
    if ctx.reader.flow_created_at(flow) is None:
        raise NotFound(f"There is no flow named {flow} in this datastore.", ("all flows", "/"))


def load_run(ctx: Ctx, flow: str, run: int) -> RunRow:
    row = ctx.reader.run(flow, run)
    if row is None:
        load_flow(ctx, flow)
        raise NotFound(f"{flow} has no run {run}.", (f"runs of {flow}", href(flow)))
    return row


def load_step(ctx: Ctx, flow: str, run: int, step: str) -> None:
    load_run(ctx, flow, run)
    if not ctx.reader.has_step(flow, run, step):
        raise NotFound(f"Run {flow}/{run} has no step {step} (or no task of it has started yet).",
                       (f"run {flow}/{run}", href(flow, run)))


def load_task(ctx: Ctx, flow: str, run: int, step: str, task_id: int) -> TaskRow:
    row = ctx.reader.task(flow, run, task_id)
    if row is None or row.step != step:
        load_step(ctx, flow, run, step)
        where = f" (it belongs to step {row.step})" if row is not None else ""
        raise NotFound(f"Step {flow}/{run}/{step} has no task {task_id}{where}.",
                       (f"step {flow}/{run}/{step}", href(flow, run, step)))
    return row


def graph_of(row: RunRow) -> dict[str, Any] | None:
    try:
        graph = json.loads(row.graph) if row.graph else None
    except ValueError:
        return None
    return graph if isinstance(graph, dict) else None


def task_status(row: TaskRow, run_status: str) -> str:
    return "abandoned" if row.status == "running" and run_status == "abandoned" else row.status


@dataclass
class Foreach:
    """Where a task sits in its innermost foreach."""

    index: int | None = None
    splits: int | None = None
    var: str | None = None
    value: str | None = None  # a short repr of the item, when recorded


def foreach_of(row: TaskRow) -> Foreach:
    try:
        frames = [f for f in row.frames if f.get("var") is not None]
    except ValueError:
        return Foreach()
    if not frames:
        return Foreach()
    frame = frames[-1]
    text = None
    if "value" in frame:
        text = repr(frame["value"])
        text = text if len(text) <= 60 else text[:59] + "…"
    return Foreach(frame.get("index"), frame.get("num_splits"), frame.get("var"), text)


def user_of(tags: list[tuple[str, bool]], fallback: str) -> str:
    return next((t[5:] for t, system in tags if system and t.startswith("user:")), fallback)
