"""Per-attempt logs: one file per stream, one timestamped line per printed line.

Each line is stored as ``<unix time with microseconds> <text>\n``. The runtime appends while
the task runs, so a reader sees what a running task has printed so far; ``read_text`` gives
the plain output back.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import IO


def log_file(root: str | os.PathLike[str], flow: str, run: int | str, step: str,
             task_id: int | str, attempt: int, stream: str) -> str:
    """The log file of one stream of one attempt (a string: the runtime avoids pathlib)."""
    return os.path.join(root, "logs", flow, str(run), step, str(task_id), f"{attempt}.{stream}")


def log_path(root: str | os.PathLike[str], flow: str, run: int | str, step: str,
             task_id: int | str, attempt: int, stream: str) -> Path:
    """:func:`log_file` as a ``Path``, for the client and the UI."""
    from pathlib import Path

    return Path(log_file(root, flow, run, step, task_id, attempt, stream))


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


def read_text(path: str | os.PathLike[str]) -> str:
    lines = read_lines(path)
    return "".join(text + "\n" for _, text in lines)
