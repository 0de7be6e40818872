"""Run attempts one at a time in the scheduler's own process, so ``pdb`` and breakpoints work.

No isolation: use it to debug a step, not to run a flow for real. Output goes straight to
the terminal (and is also stored in the attempt's log files).
"""

from __future__ import annotations

import contextlib
import io
import queue
import sys
import time

from ..datastore.logs import LogWriter
from ..exceptions import Interrupted
from ..task import TaskSpec, run_attempt
from .base import AttemptDone

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class _Tee(io.TextIOBase):
    def __init__(self, spec: TaskSpec, stream: str, writer: LogWriter, console: Any) -> None:
        self.spec, self.stream, self.writer, self.console = spec, stream, writer, console
        self.partial = ""

    def write(self, text: str) -> int:
        *lines, self.partial = (self.partial + text).split("\n")
        now = time.time()
        for line in lines:
            self.writer.write(now, line)
            self.console.task_line(self.spec, self.stream, line)
        self.writer.flush()
        return len(text)

    def close_out(self) -> None:
        if self.partial:
            self.write("\n")
        self.writer.close()


class InProcessExecutor:
    name = "inprocess"

    def __init__(self, flow_cls: type, graph: Any, datastore: Any) -> None:
        self.flow_cls, self.graph, self.datastore = flow_cls, graph, datastore

    def start(self, events: queue.Queue, console: Any) -> None:
        self.events, self.console = events, console

    def submit(self, spec: TaskSpec) -> None:
        tees = {
            s: _Tee(spec, s, self.datastore.log_writer(spec.flow, spec.run, spec.step,
                                                       spec.task_id, spec.attempt, s), self.console)
            for s in ("stdout", "stderr")
        }
        with contextlib.redirect_stdout(tees["stdout"]), contextlib.redirect_stderr(tees["stderr"]):
            result = run_attempt(spec, self.flow_cls, self.graph)
        for tee in tees.values():
            tee.close_out()
        self.events.put(AttemptDone(spec, result, exit_code=0 if result.get("ok") else 1))
        if result.get("interrupted_by"):
            # The signal landed in the step, which runs here: stop the run as a process
            # executor's scheduler would (it records the attempt, queued above, as interrupted).
            raise Interrupted(result["interrupted_by"])

    def cancel(self, spec: TaskSpec, reason: str) -> None:
        pass

    def cancel_all(self, reason: str) -> None:
        pass

    def close(self) -> None:
        sys.stdout.flush()
