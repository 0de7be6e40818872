"""Per-attempt logs: one file per stream, one timestamped line per printed line.

Each line is stored as ``<unix time with microseconds> <text>\n``. The runtime appends while
the task runs, so a reader sees what a running task has printed so far. Where a log lives is
the datastore's business (``Datastore.log_writer``, ``Datastore.read_log``).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import IO


class LogWriter:
    """Appends timestamped lines; creates the file only when there is something to write."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._file: IO[str] | None = None
        self._pending: list[str] = []
        self._warned = False

    def write(self, timestamp: float, text: str) -> None:
        self._pending.append(f"{timestamp:.6f} {text}\n")

    def flush(self) -> None:
        if not self._pending:
            return
        try:
            if self._file is None:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
            self._file.write("".join(self._pending))
            self._file.flush()
        except OSError as exc:
            self._lost(exc)
        self._pending.clear()

    def _lost(self, exc: OSError) -> None:
        """A full disk (or a vanished folder): the lines were shown on the console already, so
        the run goes on without them; said once, and the file is reopened for later lines."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass  # the unwritten buffer goes with it
            self._file = None
        if not self._warned:
            self._warned = True
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            print(f"headwater: lines are missing from the log {self.path}: {reason}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self._file = None
                self._lost(exc)
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

