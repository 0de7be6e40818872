"""Reading a task attempt's log from a byte offset, so a page can follow a running task.

Log files hold ``<unix time> <text>`` lines (``datastore/logs.py``) and only grow while the
attempt runs. A page first shows the end of the file (at most ``TAIL`` bytes, cut at a line
start) and remembers the byte offset where it stopped; the page's script then asks for what
came after that offset, once a second, until the attempt has ended. Only whole lines are
returned, so a line being written is never shown half.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..client.records import TaskRow
from ..datastore.logs import log_path

TAIL = 256 * 1024
CHUNK = 512 * 1024
STREAMS = ("stdout", "stderr")


@dataclass
class Chunk:
    lines: list[tuple[float, str]]
    offset: int          # where the next read starts
    skipped: int = 0     # bytes before the first line shown (the start of a long log)


def path_of(root: Path, row: TaskRow, attempt: int, stream: str) -> Path:
    """The attempt's log file; a cloned task that printed nothing here shows its original's."""
    path = log_path(root, row.flow, row.run, row.step, row.task_id, attempt, stream)
    origin_run = row.origin_run_id
    if not path.exists() and origin_run is not None and origin_run.isdigit() and row.origin_task_id is not None:
        origin = log_path(root, row.flow, int(origin_run), row.step, row.origin_task_id, attempt, stream)
        if origin.exists():
            return origin
    return path


def _parse(data: bytes) -> list[tuple[float, str]]:
    out = []
    for raw in data.decode("utf-8", errors="replace").split("\n"):
        if not raw:
            continue
        ts, _, text = raw.partition(" ")
        try:
            out.append((float(ts), text))
        except ValueError:  # not written by LogWriter: keep it whole
            out.append((0.0, raw))
    return out


def read(path: Path, offset: int | None) -> Chunk:
    """Whole lines from ``offset`` (None: the last ``TAIL`` bytes) up to ``CHUNK`` bytes."""
    try:
        f = open(path, "rb")  # noqa: SIM115
    except (FileNotFoundError, NotADirectoryError):
        return Chunk([], offset or 0)
    with f:
        end = os.fstat(f.fileno()).st_size
        skipped = 0
        if offset is None:
            offset = max(0, end - TAIL)
            if offset:
                f.seek(offset - 1)
                if f.read(1) != b"\n":  # mid-line: start at the next line
                    rest = f.readline()
                    offset += len(rest)
                skipped = offset
        if offset > end:  # the file was replaced: start again
            offset = 0
        f.seek(offset)
        data = f.read(min(CHUNK, end - offset))
    cut = data.rfind(b"\n") + 1
    if cut == 0 and len(data) == CHUNK:  # one enormous line: show it in pieces
        cut = len(data)
    return Chunk(_parse(data[:cut]), offset + cut, skipped)
