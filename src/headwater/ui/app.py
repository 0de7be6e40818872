"""The web application: URLs that mirror pathspecs, plus a few ``/_hw/`` endpoints.

    /                                   flows, each with its latest run
    /<Flow>                             runs (?status= ?user= ?tag= ?page=)
    /<Flow>/<run>                       graph, timeline, counts, parameters, tags
    /<Flow>/<run>/<step>                tasks (?status= ?page=)
    /<Flow>/<run>/<step>/<task>         one attempt (?attempt=N): logs, artifacts, cards
    /<Flow>/<run>/<step>/<task>/<name>  one artifact's value
    /_hw/log/<F>/<r>/<s>/<t>/<attempt>/<stream>?offset=N   new log lines as JSON (?raw=1: text)
    /_hw/card/<F>/<r>/<s>/<t>/<attempt>/<index>            a card's HTML, for a sandboxed frame
    /_hw/static/<file>                  the stylesheet, script and icon shipped in the package

A page URL with ``?part=NAME`` answers with that page's live region only (see
``views/common.py``). Every answer carries ``Server-Timing: app;dur=<ms>``. Segments are
validated by ``security`` before any lookup; unknown objects give a 404 page that links to
their parent.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..client.stores import stores_for
from ..exceptions import HeadwaterException
from . import cards, logs, security
from .html import Page, h, layout
from .security import BadSegment, name, number
from .views import artifact as artifact_view
from .views import flows as flows_view
from .views import run as run_view
from .views import step as step_view
from .views import task as task_view
from .views.common import Ctx, Live, NotFound, load_task, signature

log = logging.getLogger("headwater.ui")

STATIC_TYPES = {"ui.css": "text/css; charset=utf-8", "ui.js": "text/javascript; charset=utf-8",
                "icon.svg": "image/svg+xml"}
PAGE_HEADERS = {"content-security-policy": security.PAGE_CSP, "x-frame-options": "DENY",
                "cache-control": "no-store"}


def _load_static() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("headwater.ui") / "static"
    out = {}
    for file, kind in STATIC_TYPES.items():
        data = (folder / file).read_bytes()
        out[file] = (data, kind)
    return out


class ServerTiming:
    """ASGI middleware adding ``Server-Timing: app;dur=<ms>`` (time until the response starts)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                message["headers"] = [*message.get("headers", []),
                                      (b"server-timing", f"app;dur={ms:.1f}".encode())]
            await send(message)

        await self.app(scope, receive, timed)


class UI:
    """Handlers bound to one datastore."""

    def __init__(self, root: Path, stores: Any = None) -> None:
        self.root = Path(root)
        self.stores = stores if stores is not None else stores_for(self.root)
        self.files = _load_static()
        self.static = {f: f"/_hw/static/{f}?v={hashlib.sha1(data).hexdigest()[:10]}"
                       for f, (data, _) in self.files.items()}

    # -- plumbing ----------------------------------------------------------------------------
    def ctx(self, request: Request) -> Ctx:
        return Ctx(self.stores, dict(request.query_params))

    def render(self, page: Page) -> HTMLResponse:
        headers = {**PAGE_HEADERS, **page.headers}
        return HTMLResponse(layout(page, static=self.static, root=str(self.root)), page.status, headers)

    def error_page(self, status: int, title: str, message: str, parent: tuple[str, str] = ("all flows", "/")) -> HTMLResponse:
        body = (f'<div class="errorpage"><p class="code">{status}</p><h1>{h(title)}</h1>'
                f'<p class="message">{h(message)}</p>'
                f'<p><a href="{parent[1]}">&larr; {h(parent[0])}</a></p></div>')
        return self.render(Page(title, [("Flows", "/"), (title, None)], body, status=status))

    def guarded(self, request: Request, build: Callable[[Ctx], Page], live: dict[str, Callable[[Ctx], Live]]) -> Response:
        """Run a view, answering a live region when ``?part=`` names one, and map errors to pages."""
        try:
            ctx = self.ctx(request)
            part = request.query_params.get("part")
            if part is not None:
                fn = live.get(part)
                if fn is None:
                    return self.error_page(400, "Bad request", f"This page has no live part {part[:40]!r}.")
                region = fn(ctx)
                headers = {"cache-control": "no-store", "x-headwater-done": "1" if region.done else "0",
                           "x-headwater-sig": signature(region.html),
                           "content-security-policy": security.PAGE_CSP}
                return HTMLResponse(region.html, headers=headers)
            return self.render(build(ctx))
        except BadSegment as exc:
            return self.error_page(400, "Not a valid address",
                                   f"{exc}: flow and step names are Python identifiers, run and task "
                                   "ids are numbers.")
        except NotFound as exc:
            return self.error_page(404, "Not found", exc.message, exc.parent)
        except HeadwaterException as exc:
            return self.error_page(500, "Cannot read the datastore", str(exc))
        except Exception as exc:  # noqa: BLE001 - show a page, log the traceback
            log.error("error serving %s\n%s", request.url.path, traceback.format_exc())
            return self.error_page(500, "Something went wrong", f"{type(exc).__name__}: {exc}")

    # -- pages -------------------------------------------------------------------------------
    def index(self, request: Request) -> Response:
        return self.guarded(request, flows_view.index, {"live": flows_view.index_live})

    def flow(self, request: Request) -> Response:
        p = request.path_params

        def build(ctx: Ctx) -> Page:
            return flows_view.flow_page(ctx, name("flow", p["flow"]))

        return self.guarded(request, build, {"live": lambda ctx: flows_view.flow_live(ctx, name("flow", p["flow"]))})

    def run(self, request: Request) -> Response:
        p = request.path_params

        def args() -> tuple[str, int]:
            return name("flow", p["flow"]), number("run id", p["run"])

        return self.guarded(request, lambda ctx: run_view.run_page(ctx, *args()),
                            {"live": lambda ctx: run_view.run_live(ctx, *args())})

    def step(self, request: Request) -> Response:
        p = request.path_params

        def args() -> tuple[str, int, str]:
            return name("flow", p["flow"]), number("run id", p["run"]), name("step", p["step"])

        return self.guarded(request, lambda ctx: step_view.step_page(ctx, *args()),
                            {"live": lambda ctx: step_view.step_live(ctx, *args())})

    def task(self, request: Request) -> Response:
        p = request.path_params

        def args() -> tuple[str, int, str, int]:
            return (name("flow", p["flow"]), number("run id", p["run"]), name("step", p["step"]),
                    number("task id", p["task"]))

        return self.guarded(request, lambda ctx: task_view.task_page(ctx, *args()),
                            {"live": lambda ctx: task_view.task_live(ctx, *args()),
                             "cards": lambda ctx: task_view.cards_live(ctx, *args()),
                             "artifacts": lambda ctx: task_view.artifacts_live(ctx, *args())})

    def artifact(self, request: Request) -> Response:
        p = request.path_params

        def build(ctx: Ctx) -> Page:
            return artifact_view.artifact_page(
                ctx, name("flow", p["flow"]), number("run id", p["run"]), name("step", p["step"]),
                number("task id", p["task"]), name("artifact", p["name"]))

        return self.guarded(request, build, {})

    # -- endpoints ---------------------------------------------------------------------------
    def static_file(self, request: Request) -> Response:
        found = self.files.get(request.path_params["file"])
        if found is None:
            return PlainTextResponse("no such file\n", 404)
        data, kind = found
        return Response(data, media_type=kind, headers={"cache-control": "public, max-age=31536000, immutable"})

    def log_lines(self, request: Request) -> Response:
        p = request.path_params
        try:
            flow, run, step = name("flow", p["flow"]), number("run id", p["run"]), name("step", p["step"])
            task_id, attempt = number("task id", p["task"]), number("attempt", p["attempt"])
            stream = p["stream"]
            if stream not in logs.STREAMS:
                raise BadSegment("stream (stdout or stderr)", stream)
            offset_text = request.query_params.get("offset", "")
            offset = number("offset", offset_text) if offset_text else None
            row = load_task(self.ctx(request), flow, run, step, task_id)
        except BadSegment as exc:
            return JSONResponse({"error": str(exc)}, 400)
        except NotFound as exc:
            return JSONResponse({"error": exc.message}, 404)
        ds = self.stores.datastore_for(row.flow, row.run)
        ref = logs.locate(ds, row, attempt, stream)
        if request.query_params.get("raw"):
            return PlainTextResponse(logs.text_of(ds, ref), headers={"cache-control": "no-store"})
        chunk = logs.read_chunk(ds, ref, offset)
        done = self._log_done(row.flow, run, task_id, attempt, ref, chunk.offset)
        lines = [[task_view.stamp(ts), text] for ts, text in chunk.lines]
        return JSONResponse({"lines": lines, "offset": chunk.offset, "done": done},
                            headers={"cache-control": "no-store"})

    def _log_done(self, flow: str, run: int, task_id: int, attempt: int, ref: tuple, offset: int) -> bool:
        """Whether the log will not grow any more: the attempt ended a moment ago and all is read."""
        run_record = self.stores.reader.run(flow, run)
        if run_record is not None and run_record.effective_status() == "abandoned":
            return True
        row = self.stores.reader.attempt(flow, run, task_id, attempt)
        if row is None or row.status == "running" or row.finished_at is None:
            return False
        if time.time() - row.finished_at < task_view.LOG_DONE_AFTER:
            return False
        try:
            return offset >= logs.size_of(self.stores.datastore_for(flow, run), ref)
        except OSError:
            return True

    def card(self, request: Request) -> Response:
        p = request.path_params
        headers = {"content-security-policy": security.CARD_CSP, "cache-control": "no-store",
                   "x-frame-options": "SAMEORIGIN"}
        try:
            flow, run = name("flow", p["flow"]), number("run id", p["run"])
            folder = self.stores.datastore_for(flow, run).cards(
                flow, run, name("step", p["step"]), number("task id", p["task"]),
                number("attempt", p["attempt"]))
            index = number("card index", p["index"])
        except BadSegment as exc:
            return HTMLResponse(cards.message_page(str(exc)), 400, headers)
        html, problem = cards.html_of(folder, index)
        if html is None:
            return HTMLResponse(cards.message_page(problem), 404, headers)
        return HTMLResponse(html, headers=headers)

    def not_found(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if status == 405:
            return PlainTextResponse("Only GET requests are served.\n", 405)
        return self.error_page(404, "Not found", "There is no page at this address.")


def create_app(root: Path | str, *, token: str | None = None, host: str = "127.0.0.1",
               stores: Any = None) -> Any:
    """The ASGI application serving the datastore at ``root`` (through ``stores``, a
    ``client.stores.Stores``, when given: the metadata service passes its own reader)."""
    ui = UI(Path(root), stores)
    routes = [
        Route("/", ui.index),
        Route("/_hw/static/{file}", ui.static_file),
        Route("/_hw/log/{flow}/{run}/{step}/{task}/{attempt}/{stream}", ui.log_lines),
        Route("/_hw/card/{flow}/{run}/{step}/{task}/{attempt}/{index}", ui.card),
        Route("/{flow}", ui.flow),
        Route("/{flow}/{run}", ui.run),
        Route("/{flow}/{run}/{step}", ui.step),
        Route("/{flow}/{run}/{step}/{task}", ui.task),
        Route("/{flow}/{run}/{step}/{task}/{name}", ui.artifact),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: ui.not_found})
    app.state.ui = ui
    return ServerTiming(security.Guard(app, token=token, bound_host=host))

