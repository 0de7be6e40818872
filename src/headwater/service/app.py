"""The metadata service's ASGI application: the HTTP API over PostgreSQL, and the UI.

    POST /api/v1/health   {}                                   -> {"status": "ok", "schema": N, ...}
    POST /api/v1/read     {"method", "args", "kwargs"}         -> {"result": ...}
    POST /api/v1/write    {"id", "groups": [[{"m", "k", "at"}]]} -> {"results": [...]}

A read is one :class:`~headwater.metadata.provider.MetadataReader` call; a write request is a
list of groups of :class:`~headwater.metadata.provider.MetadataWriter` calls, applied in order
in one transaction, each call at the time its client made it (``at``). A write request's
``id`` is stored with its answer in the same transaction, so a retried request is answered
from the record and applied once. Values cross as ``headwater.metadata.wire`` encodes them.

With a token, every API request must carry ``Authorization: Bearer TOKEN``; without one the
API answers only requests addressed to a loopback host name. Errors are JSON
``{"error": message}``: 400 for a malformed request or a refused write, 401 for a missing or
wrong token, 503 while the database cannot be reached (clients retry those).
Everything else is the UI (read-only, ``headwater.ui``), reading PostgreSQL directly.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..exceptions import MetadataError
from ..metadata import wire
from ..metadata.postgres import (
    SCHEMA_VERSION,
    Database,
    DatabaseUnavailable,
    PostgresMetadata,
    PostgresReader,
)
from ..metadata.service_client import READ_METHODS, WRITE_METHODS

_WRITES = frozenset([*WRITE_METHODS, "new_run"])
_READS = frozenset(READ_METHODS)
REQUESTS_KEPT_FOR = 7 * 86400.0  # seconds a write request's answer is kept for retries


class BadRequest(Exception):
    """A request the client must not retry as it is."""


class API:
    """The API's handlers over one database."""

    def __init__(self, db: Database, token: str | None, bound_host: str) -> None:
        from ..ui.security import is_loopback

        self.db = db
        self.writer = PostgresMetadata(db)
        self.reader = PostgresReader(db)
        self.token = token
        self.hosts = {"localhost", "127.0.0.1", "::1", bound_host.strip("[]")} if is_loopback(bound_host) else None

    def _refused(self, request: Request) -> JSONResponse | None:
        if self.token is not None:
            sent = request.headers.get("authorization", "")
            scheme, _, given = sent.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
                what = "a wrong token" if sent else "no token"
                return JSONResponse({"error": f"{what} (this service needs its --token)"}, 401)
        elif self.hosts is not None:
            host = request.headers.get("host", "").rsplit(":", 1)[0].strip("[]")
            if host not in self.hosts:
                return JSONResponse({"error": "this service only answers requests for localhost"}, 400)
        return None

    async def _handle(self, request: Request, work: Any) -> JSONResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            payload = json.loads(await request.body() or b"{}")
            if not isinstance(payload, dict):
                raise BadRequest("the body must be a JSON object")
            return JSONResponse(await run_in_threadpool(work, payload))
        except (BadRequest, ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad request: {exc}"}, 400)
        except DatabaseUnavailable as exc:
            return JSONResponse({"error": str(exc)}, 503)
        except MetadataError as exc:
            return JSONResponse({"error": str(exc)}, 400)

    # -- handlers --------------------------------------------------------------------------
    async def health(self, request: Request) -> JSONResponse:
        from .. import __version__

        def work(payload: dict[str, Any]) -> dict[str, Any]:
            self.reader._query("SELECT 1", ())
            return {"status": "ok", "schema": SCHEMA_VERSION, "headwater": __version__}

        return await self._handle(request, work)

    async def read(self, request: Request) -> JSONResponse:
        def work(payload: dict[str, Any]) -> dict[str, Any]:
            method = payload.get("method")
            if method not in _READS:
                raise BadRequest(f"no read called {method!r}")
            args = wire.decode(payload.get("args") or [])
            kwargs = wire.decode(payload.get("kwargs") or {})
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise BadRequest("args must be a list and kwargs an object")
            return {"result": wire.encode(getattr(self.reader, method)(*args, **kwargs))}

        return await self._handle(request, work)

    async def write(self, request: Request) -> JSONResponse:
        return await self._handle(request, self.apply)

    def apply(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Apply a write request once (see the module's docstring)."""
        request_id = payload.get("id")
        groups = payload.get("groups")
        if not isinstance(request_id, str) or not 8 <= len(request_id) <= 100:
            raise BadRequest("a write request needs an id (8 to 100 characters)")
        if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
            raise BadRequest("groups must be a list of lists of calls")
        w = self.writer
        try:
            with w.transaction():
                done = w._exec("SELECT answer FROM requests WHERE id = ?", (request_id,))
                if done:
                    return json.loads(done[0][0])
                results = [self._call(call) for group in groups for call in group]
                answer = {"results": results}
                w._exec("INSERT INTO requests (id, answer, at) VALUES (?, ?, ?)",
                        (request_id, json.dumps(answer), time.time()))
                return answer
        except MetadataError as exc:
            # The same request sent twice at once: the second waits for the first, then
            # fails on the id; answer it from the first one's record.
            if "requests_pkey" in str(exc):
                rows = self.reader._query("SELECT answer FROM requests WHERE id = %s", (request_id,))
                if rows:
                    return json.loads(rows[0][0])
            raise

    def _call(self, call: Any) -> Any:
        if not isinstance(call, dict) or call.get("m") not in _WRITES:
            raise BadRequest(f"no write called {call.get('m') if isinstance(call, dict) else call!r}")
        kwargs = wire.decode(call.get("k") or {})
        if not isinstance(kwargs, dict):
            raise BadRequest("a call's arguments must be an object")
        at = call.get("at")
        with self.writer.at(float(at) if isinstance(at, (int, float)) else None):
            return getattr(self.writer, call["m"])(**kwargs)

    def prune(self) -> None:
        """Forget write answers old enough that no client still retries them."""
        with self.writer.transaction():
            self.writer._exec("DELETE FROM requests WHERE at < ?", (time.time() - REQUESTS_KEPT_FOR,))


def create_app(db: Database, *, token: str | None = None, host: str = "127.0.0.1",
               ui_root: Any = None) -> Any:
    """The service's ASGI app over an open, migrated :class:`Database`: the API under
    ``/api/v1``, and the UI at every other path (when ``ui_root`` is given)."""
    api = API(db, token, host)
    api.prune()
    routes = [Route("/api/v1/health", api.health, methods=["POST", "GET"]),
              Route("/api/v1/read", api.read, methods=["POST"]),
              Route("/api/v1/write", api.write, methods=["POST"])]
    api_app = Starlette(routes=routes)
    api_app.state.api = api
    if ui_root is None:
        return api_app
    from ..client.stores import Stores
    from ..ui.app import create_app as create_ui

    ui = create_ui(ui_root, token=token, host=host, stores=Stores(ui_root, reader=api.reader))
    return _Split(api_app, ui)


class _Split:
    """ASGI: ``/api/`` paths to the API, the rest to the UI."""

    def __init__(self, api: Any, ui: Any) -> None:
        self.api, self.ui = api, ui

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            await self.api(scope, receive, send)
        else:
            await self.ui(scope, receive, send)
