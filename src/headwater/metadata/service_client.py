"""The metadata service's client: the two metadata interfaces, answered over HTTP.

``headwater service`` (``headwater/service``) keeps every run's records in PostgreSQL; runs and
readers reach it with ``HEADWATER_DEFAULT_METADATA=service`` (or ``--metadata service``),
``HEADWATER_SERVICE_URL`` and ``HEADWATER_SERVICE_AUTH_KEY``. Only the standard library is used
here, so any Headwater install can talk to a service.

- :class:`ServiceReader` sends each reader call as one request and rebuilds its rows
  (``wire.py``).
- :class:`ServiceWriter` sends writes from a background thread, in order, many per request:
  the scheduler never waits for a round trip per task. ``new_run`` (which returns the run's
  number) and :meth:`~ServiceWriter.flush` wait; ``close`` flushes. Each request carries an id
  and the service applies an id once, so a request retried after a lost answer changes nothing
  twice. Each write carries the time it was made.
- A refused connection, a timeout or a 502/503/504 is retried with backoff for up to
  :data:`RETRY_FOR` seconds for writes (a service or database restart; a run waits it out)
  and :data:`READ_RETRY_FOR` for reads, then reported in one line naming the URL; a wrong
  token is reported at once.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit

from ..exceptions import MetadataError
from . import wire
from .provider import MetadataReader, MetadataWriter

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

URL_ENV = "HEADWATER_SERVICE_URL"
TOKEN_ENV = "HEADWATER_SERVICE_AUTH_KEY"
RETRY_FOR = float(os.environ.get("HEADWATER_SERVICE_RETRY_SECONDS", "60"))
READ_RETRY_FOR = min(RETRY_FOR, 15.0)  # a reader (a page, a notebook) waits less than a run
API = "/api/v1"
BATCH = 1000  # writes per request at most


class ServiceUnavailable(MetadataError):
    """The service did not answer within the retry budget."""


class Connection:
    """Requests to one service: a kept-alive HTTP connection per thread, the token, retries."""

    def __init__(self, url: str, token: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MetadataError(f"{URL_ENV}={url!r} is not a service URL; it should look like "
                                "http://HOST:8080 (the address `headwater service` printed).")
        self.url = url.rstrip("/")
        self.token = token
        self._parts = parts
        self._prefix = parts.path.rstrip("/")
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            conn = self._local.conn = cls(self._parts.hostname, self._parts.port, timeout=30)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def post(self, path: str, payload: dict[str, Any], *, retry_for: float = RETRY_FOR) -> Any:
        """POST ``payload`` as JSON; the decoded JSON answer. Retries what a restart explains."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        deadline = time.monotonic() + retry_for
        delay = 0.05
        while True:
            try:
                conn = self._conn()
                conn.request("POST", self._prefix + API + path, body, headers)
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                problem = f"no answer ({exc.__class__.__name__}: {exc})" if str(exc) else "no answer"
            else:
                if status == 200:
                    return json.loads(data)
                message = _message(data)
                if status in (401, 403):
                    raise MetadataError(
                        f"the metadata service at {self.url} refused the request: {message}. Set "
                        f"{TOKEN_ENV} to the token the service was started with (--token).")
                if status not in (502, 503, 504):
                    raise MetadataError(f"the metadata service at {self.url} answered {status}: {message}")
                problem = f"{status}: {message}"
            if time.monotonic() + delay > deadline:
                raise ServiceUnavailable(
                    f"the metadata service at {self.url} did not answer ({problem}), tried for "
                    f"{retry_for:.0f} s. Check that `headwater service` is running there and that "
                    f"{URL_ENV} is right; a run stopped by this can be finished with `resume`.")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def health(self, retry_for: float = 3.0) -> dict[str, Any]:
        """The service's health answer (also checks the token)."""
        return self.post("/health", {}, retry_for=retry_for)


def _message(data: bytes) -> str:
    try:
        return str(json.loads(data)["error"])
    except (ValueError, KeyError, TypeError):
        return data.decode("utf-8", "replace").strip()[:300] or "no message"


def connect(url: str | None = None, token: str | None = None) -> Connection:
    """A connection to the service at ``url`` (default ``HEADWATER_SERVICE_URL``)."""
    url = url or os.environ.get(URL_ENV)
    if not url:
        raise MetadataError(f"the metadata service is selected but {URL_ENV} is not set: export "
                            f"{URL_ENV}=http://HOST:PORT (the address `headwater service` printed).")
    return Connection(url, token if token is not None else os.environ.get(TOKEN_ENV) or None)


# -- reading -------------------------------------------------------------------------------------


class ServiceReader(MetadataReader):
    """Every :class:`MetadataReader` call as one request to the service."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.conn = connect(url, token)
        self.url = self.conn.url

    def __repr__(self) -> str:
        return f"ServiceReader({self.url!r})"

    def _call(self, method: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        answer = self.conn.post("/read", {"method": method, "args": wire.encode(list(args)),
                                          "kwargs": wire.encode(kwargs)}, retry_for=READ_RETRY_FOR)
        return wire.decode(answer["result"])

    def close(self) -> None:
        self.conn._drop()


def _remote(name: str) -> Any:
    def method(self: ServiceReader, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, args, kwargs)

    method.__name__ = name
    method.__doc__ = getattr(MetadataReader, name).__doc__
    return method


READ_METHODS = sorted(MetadataReader.__abstractmethods__ - {"close"})
for _name in READ_METHODS:
    setattr(ServiceReader, _name, _remote(_name))
ServiceReader.__abstractmethods__ = frozenset()


# -- writing -------------------------------------------------------------------------------------

WRITE_METHODS = sorted(MetadataWriter.__abstractmethods__ - {"close", "transaction", "new_run"})


class ServiceWriter(MetadataWriter):
    """Writes sent in order from a background thread (see the module's docstring)."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.conn = connect(url, token)
        self.url = self.conn.url
        self._groups: list[list[dict[str, Any]]] = []  # queued, each applied atomically
        self._sending = 0  # groups taken by the sender, not yet acknowledged
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._sender: threading.Thread | None = None
        self._sender_pid = 0
        self._local = threading.local()  # the open transaction's group, per thread
        self._closed = False

    def __repr__(self) -> str:
        return f"ServiceWriter({self.url!r})"

    def check(self) -> None:
        """Fail now, in one line, if the service is unreachable or refuses the token."""
        self.conn.health()

    # -- the queue -----------------------------------------------------------------------
    def _record(self, method: str, kwargs: dict[str, Any]) -> None:
        call = {"m": method, "k": wire.encode(kwargs), "at": time.time()}
        group = getattr(self._local, "group", None)
        if group is not None:
            group.append(call)
        else:
            self._enqueue([call])

    def _enqueue(self, group: list[dict[str, Any]]) -> None:
        with self._cond:
            if self._error is not None:
                raise self._failed()
            self._groups.append(group)
            if self._sender is None or self._sender_pid != os.getpid():
                self._sender_pid = os.getpid()
                self._sender = threading.Thread(target=self._send_loop, daemon=True,
                                                name="headwater-metadata-writer")
                self._sender.start()
            self._cond.notify_all()

    def _failed(self) -> MetadataError:
        err = self._error
        if isinstance(err, MetadataError):
            return type(err)(str(err))
        return MetadataError(f"recording to the metadata service at {self.url} failed: {err}")

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                while not self._groups:
                    self._cond.wait()
                taken: list[list[dict[str, Any]]] = []
                size = 0
                while self._groups and (not taken or size + len(self._groups[0]) <= BATCH):
                    group = self._groups.pop(0)
                    taken.append(group)
                    size += len(group)
                self._sending = len(taken)
            try:
                self.conn.post("/write", {"id": uuid.uuid4().hex, "groups": taken})
            except BaseException as exc:  # noqa: BLE001 - surfaced by the next write or flush
                with self._cond:
                    self._error = exc
                    self._groups.clear()
                    self._sending = 0
                    self._cond.notify_all()
                return
            with self._cond:
                self._sending = 0
                self._cond.notify_all()

    def flush(self) -> None:
        """Wait until every write made so far is recorded by the service."""
        with self._cond:
            while (self._groups or self._sending) and self._error is None:
                self._cond.wait(1.0)
            if self._error is not None:
                raise self._failed()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "group", None) is not None:
            yield  # nested: part of the enclosing group
            return
        self._local.group = []
        try:
            yield
            group = self._local.group
        finally:
            self._local.group = None
        if group:
            self._enqueue(group)

    # -- calls that answer ---------------------------------------------------------------
    def new_run(self, flow: str, *, user: str, tags: Any, system_tags: Any,
                origin_run_id: str | None = None, graph: dict | None = None,
                datastore: str | None = None) -> int:
        from ..user import hostname

        self.flush()
        call = {"m": "new_run", "at": time.time(), "k": wire.encode({
            "flow": flow, "user": user, "tags": list(tags), "system_tags": list(system_tags),
            "origin_run_id": origin_run_id, "graph": graph, "datastore": datastore,
            "host": hostname(), "pid": os.getpid()})}
        answer = self.conn.post("/write", {"id": uuid.uuid4().hex, "groups": [[call]]})
        return int(answer["results"][0])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            self.conn._drop()


def _queued(name: str) -> Any:
    import inspect

    signature = inspect.signature(getattr(MetadataWriter, name))

    def method(self: ServiceWriter, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        values = dict(bound.arguments)
        values.pop("self")
        self._record(name, values)

    method.__name__ = name
    method.__doc__ = getattr(MetadataWriter, name).__doc__
    return method


for _name in WRITE_METHODS:
    setattr(ServiceWriter, _name, _queued(_name))
ServiceWriter.__abstractmethods__ = frozenset()
