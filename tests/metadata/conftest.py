"""One (writer, reader) pair per metadata implementation; the tests speak only the interfaces.

``backend`` is parametrized by implementation: ``sqlite`` (``open_writer``/``open_reader`` on a
fresh ``.headwater`` directory), ``postgres`` (the PostgreSQL writer and reader the service
uses, on a fresh database of the session's real PostgreSQL) and ``service`` (the metadata
service's HTTP client, ``open_writer``/``open_reader`` on the URL of a real service over a
fresh database). ``backend.earlier(seconds)`` makes the writes inside it happen that long ago
(the writer's clock), the one seam each implementation provides for liveness tests.
"""

from __future__ import annotations

import contextlib
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.metadata import MetadataReader, MetadataWriter, Status, open_reader, open_writer


class Backend:
    def __init__(self, writer: MetadataWriter, reader: MetadataReader,
                 earlier: contextlib.AbstractContextManager) -> None:
        self.w = writer
        self.r = reader
        self._earlier = earlier

    def earlier(self, seconds: float) -> contextlib.AbstractContextManager:
        return self._earlier(seconds)

    # -- recording the way the runtime does ------------------------------------------------
    def run(self, flow: str = "TrainFlow", *, user: str = "ana", tags: tuple[str, ...] = (),
            origin: int | None = None, graph: dict | None = None) -> int:
        number = self.w.new_run(flow, user=user, tags=list(tags), system_tags=[f"user:{user}", "runtime:local"],
                                origin_run_id=str(origin) if origin else None, graph=graph)
        with self.w.transaction():
            self.w.new_task(flow, number, 0, "_parameters", status=Status.SUCCEEDED, finished=True)
            self.w.start_attempt(flow, number, 0, 0)
            self.w.finish_attempt(flow, number, 0, 0, status=Status.SUCCEEDED,
                                  artifacts=[("alpha", "k-alpha", "builtins.float", 8)])
        return number

    def task(self, flow: str, run: int, task_id: int, step: str, *, parents: tuple[int, ...] = (0,),
             outcomes: tuple[bool | None, ...] = (True,), frames: list[dict] | None = None,
             artifacts: tuple[tuple[str, str, str, int], ...] = (),
             transition: dict | None = None) -> None:
        """A task and its attempts: True succeeded, False failed, None still running."""
        with self.w.transaction():
            self.w.new_task(flow, run, task_id, step, parents=list(parents), foreach_stack=frames)
            for attempt, ok in enumerate(outcomes):
                self.w.start_attempt(flow, run, task_id, attempt, host="h", pid=1)
                if ok is None:
                    continue
                last = attempt == len(outcomes) - 1
                self.w.finish_attempt(
                    flow, run, task_id, attempt, status=Status.SUCCEEDED if ok else Status.FAILED,
                    artifacts=[(n, f"{k}-{attempt}", t, s) for n, k, t, s in artifacts] if ok else [],
                    exception=None if ok else {"type": "ValueError", "message": f"try {attempt}"},
                    task_final=last, transition=transition or {"next": ["end"]})


def _clock_of(module: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``earlier(seconds)``: ``module``'s clock that long behind while inside."""

    @contextlib.contextmanager
    def earlier(seconds: float) -> Iterator[None]:
        clock = types.SimpleNamespace(time=lambda: time.time() - seconds, monotonic=time.monotonic,
                                      sleep=time.sleep)
        with monkeypatch.context() as m:
            m.setattr(module, "time", clock)
            yield

    return earlier


def _sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: Any) -> Iterator[Backend]:
    import headwater.metadata.sql_writer as module

    root = tmp_path / ".headwater"
    root.mkdir()
    reader = open_reader(str(root))  # opened first: it must see a database created after it
    writer = open_writer(str(root))
    try:
        yield Backend(writer, reader, _clock_of(module, monkeypatch))
    finally:
        reader.close()
        writer.close()


def _fresh_database(request: Any) -> str:
    return request.getfixturevalue("pg_server").create_database(f"m_{uuid.uuid4().hex[:16]}")


def _postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: Any) -> Iterator[Backend]:
    import headwater.metadata.sql_writer as module
    from headwater.metadata.postgres import Database, PostgresMetadata, PostgresReader

    db = Database(_fresh_database(request))
    db.open()
    db.migrate()
    try:
        yield Backend(PostgresMetadata(db), PostgresReader(db), _clock_of(module, monkeypatch))
    finally:
        db.close()


class _Flushing:
    """A reader that first waits for the writer's queued writes: the service's writer sends
    in the background, and these tests read what they just wrote."""

    def __init__(self, reader: MetadataReader, writer: MetadataWriter) -> None:
        self._reader, self._writer = reader, writer

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._reader, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._writer.flush()
            return method(*args, **kwargs)

        return call


def _service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: Any) -> Iterator[Backend]:
    import headwater.metadata.service_client as module
    from headwater.service.server import start_in_thread

    service = start_in_thread(_fresh_database(request))
    writer = open_writer(service.url)
    reader = open_reader(service.url)
    try:
        yield Backend(writer, _Flushing(reader, writer), _clock_of(module, monkeypatch))
    finally:
        reader.close()
        writer.close()
        service.stop()


IMPLEMENTATIONS = {"sqlite": _sqlite, "postgres": _postgres, "service": _service}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    yield from IMPLEMENTATIONS[request.param](tmp_path, monkeypatch, request)
