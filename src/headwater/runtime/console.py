"""What a run prints: task output prefixed with ``[run/step/task]``, status lines, a summary.

Output from many tasks arrives on the executor's I/O thread while the scheduler prints
status lines; one lock keeps lines whole.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, TextIO

_COLORS = ["36", "35", "33", "32", "34", "96", "95", "93", "92", "94"]


class Console:
    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.lock = threading.Lock()
        self.color = self.stream.isatty() and os.environ.get("NO_COLOR") is None
        self._step_colors: dict[str, str] = {}
        self.last_output: str | None = None  # RUN/STEP/TASK of the latest task line, for hints

    def _paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def _write(self, line: str) -> None:
        with self.lock:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                pass

    def task_line(self, spec: Any, stream: str, text: str) -> None:
        self.last_output = f"{spec.run}/{spec.step}/{spec.task_id}"
        if self.quiet:
            return
        color = self._step_colors.setdefault(spec.step, _COLORS[len(self._step_colors) % len(_COLORS)])
        prefix = self._paint(color, f"[{spec.run}/{spec.step}/{spec.task_id}]")
        if stream == "stderr":
            text = self._paint("31", text)
        self._write(f"{prefix} {text}")

    def info(self, text: str) -> None:
        if not self.quiet:
            self._write(self._paint("2", text))

    def event(self, text: str) -> None:
        self._write(text)

    def error(self, text: str) -> None:
        self._write(self._paint("1;31", text))

    def summary(self, *, flow: str, run: int, ok: bool, started: float, steps: Counter,
                failed: list[str], hints: list[str]) -> None:
        took = time.time() - started
        total = sum(steps.values())
        counts = ", ".join(f"{s} {n}" for s, n in steps.items())
        if ok:
            head = self._paint("1;32", f"Run {flow}/{run} succeeded")
        else:
            head = self._paint("1;31", f"Run {flow}/{run} failed")
        self._write(f"{head} in {took:.2f} s: {total} task{'s' if total != 1 else ''} ({counts}).")
        for line in failed:
            self._write(self._paint("31", f"  {line}"))
        for line in hints:
            self._write(f"  {line}")
