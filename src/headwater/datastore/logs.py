"""Per-attempt logs: one file per stream, one timestamped line per printed line.

Each line is stored as ``<unix time with microseconds> <text>\n``. The runtime appends while
the task runs, so a reader sees what a running task has printed so far. Where a log lives is
the datastore's business (``Datastore.log_writer``, ``Datastore.read_log``).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import IO


class LogWriter:
    """Appends timestamped lines; creates the file only when there is something to write."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._file: IO[str] | None = None
        self._pending: list[str] = []

    def write(self, timestamp: float, text: str) -> None:
        self._pending.append(f"{timestamp:.6f} {text}\n")

    def flush(self) -> None:
        if not self._pending:
            return
        if self._file is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._file.write("".join(self._pending))
        self._file.flush()
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None


def read_lines(path: str | os.PathLike[str]) -> list[tuple[float, str]]:
    """``(timestamp, text)`` for every line; empty when the task printed nothing."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = f.read()
    except FileNotFoundError:
        return []
    return parse_lines(raw)


def parse_lines(raw: str) -> list[tuple[float, str]]:
    """``(timestamp, text)`` for every line of a log's text."""
    out = []
    for line in raw.split("\n"):
        if not line:
            continue
        ts, _, text = line.partition(" ")
        try:
            out.append((float(ts), text))
        except ValueError:  # a line not written by LogWriter: keep it whole
            out.append((0.0, line))
    return out

