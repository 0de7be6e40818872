"""Reading a task attempt's log from a byte offset, so a page can follow a running task.

Logs hold ``<unix time> <text>`` lines (``datastore/logs.py``), read through the datastore,
and only grow while the attempt runs. A page first shows the end of the file (at most ``TAIL`` bytes, cut at a line
start) and remembers the byte offset where it stopped; the page's script then asks for what
came after that offset, once a second, until the attempt has ended. Only whole lines are
returned, so a line being written is never shown half.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..client.records import TaskRow
from ..datastore.logs import parse_lines

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from ..datastore.datastore import Datastore

LogRef = tuple  # (flow, run, step, task_id, attempt, stream)
TAIL = 256 * 1024
CHUNK = 512 * 1024
STREAMS = ("stdout", "stderr")


@dataclass
class Chunk:
    lines: list[tuple[float, str]]
    offset: int          # where the next read starts
    skipped: int = 0     # bytes before the first line shown (the start of a long log)


def locate(ds: Datastore, row: TaskRow, attempt: int, stream: str) -> LogRef:
    """The attempt's log; a cloned task that printed nothing here shows its original's."""
    ref: LogRef = (row.flow, row.run, row.step, row.task_id, attempt, stream)
    origin_run = row.origin_run_id
    if not ds.has_log(*ref) and origin_run is not None and origin_run.isdigit() \
            and row.origin_task_id is not None:
        origin: LogRef = (row.flow, int(origin_run), row.step, row.origin_task_id, attempt, stream)
        if ds.has_log(*origin):
            return origin
    return ref


def text_of(ds: Datastore, ref: LogRef) -> str:
    """The whole log as the attempt printed it."""
    return "".join(text + "\n" for _, text in ds.read_log(*ref))


def size_of(ds: Datastore, ref: LogRef) -> int:
    return ds.read_log_bytes(*ref, 0, 0)[1]


def read_chunk(ds: Datastore, ref: LogRef, offset: int | None) -> Chunk:
    """Whole lines from ``offset`` (None: the last ``TAIL`` bytes) up to ``CHUNK`` bytes."""
    skipped = 0
    if offset is None:
        data, end = ds.read_log_bytes(*ref, -TAIL - 1, TAIL + 1)
        start = end - len(data)
        if start > 0:
            # Begin at a line start: drop what precedes the first newline (the byte before
            # the tail was read too, so a tail that starts on a line start keeps it).
            cut = data.find(b"\n") + 1 or len(data)
            data, start = data[cut:], start + cut
            skipped = start
        offset = start
    else:
        data, end = ds.read_log_bytes(*ref, offset, CHUNK)
        if offset > end:  # the log was replaced: start again
            offset = 0
            data, end = ds.read_log_bytes(*ref, 0, CHUNK)
    data = data[:CHUNK]
    cut = data.rfind(b"\n") + 1
    if cut == 0 and len(data) == CHUNK:  # one enormous line: show it in pieces
        cut = len(data)
    return Chunk(_parse(data[:cut]), offset + cut, skipped)


def _parse(data: bytes) -> list[tuple[float, str]]:
    return parse_lines(data.decode("utf-8", errors="replace"))
