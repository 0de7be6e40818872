"""What the process executors share: an I/O thread that turns pipes into logs and events.

Each attempt runs in its own process with three pipes: stdout, stderr and a result pipe. The
I/O thread reads them, timestamps every output line into the attempt's log (through the
datastore), echoes it to the console with its ``[run/step/task]`` prefix, and emits
:class:`AttemptDone` once the process has exited and its pipes are closed (or a short grace
after the exit, since a grandchild may hold them). Subclasses decide how a process starts,
how its exit is learned, and how it is killed: ``fork.py`` (forked from a warm template) and
``subprocess.py`` (a fresh interpreter running ``python -m headwater.task``).
"""

from __future__ import annotations

import os
import pickle
import queue
import selectors
import signal
import threading
import time

from ..task import TaskSpec
from .base import AttemptDone, describe_signal

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

    from ..datastore.datastore import Datastore
    from ..datastore.logs import LogWriter

PIPE_GRACE = 2.0  # seconds to wait for a dead task's pipes (a grandchild may hold them)


class Attempt:
    """A running attempt as the I/O thread sees it: its pipes, partial lines and exit."""

    __slots__ = ("spec", "logs", "drained", "partial", "result_fd", "result", "pid", "code",
                 "exited_at", "reason", "handle", "lost")

    def __init__(self, spec: TaskSpec, logs: dict[int, tuple[str, LogWriter]], result_fd: int) -> None:
        self.spec = spec
        self.logs = logs  # read fd -> (stream name, log file)
        # Streams whose pipe is closed; their logs stay open until the attempt ends, so that
        # why the process died (a signal, a stop) can be added to its stderr.
        self.drained: list[tuple[str, LogWriter]] = []
        self.partial: dict[int, bytes] = {}
        self.result_fd = result_fd
        self.result = bytearray()
        self.pid: int | None = None
        self.code: int | None = None  # exit code once exited; -N when killed by signal N
        self.exited_at = 0.0
        self.reason: str | None = None
        self.handle: Any = None  # the subclass's own handle on the process
        self.lost = False  # no exit status to report (never started, or lost with its parent)

    @property
    def key(self) -> tuple[int, int]:
        return (self.spec.task_id, self.spec.attempt)

    @property
    def exited(self) -> bool:
        return self.code is not None

    def open_fds(self) -> list[int]:
        fds = list(self.logs)
        if self.result_fd >= 0:
            fds.append(self.result_fd)
        return fds


class PipeExecutor:
    """The shared machinery; subclasses implement ``_spawn``, ``_kill`` and ``_on_ready``."""

    name = "pipes"

    def __init__(self, flow_cls: type, graph: Any, datastore: Datastore) -> None:
        self.flow_cls = flow_cls
        self.graph = graph
        self.datastore = datastore
        self._attempts: dict[tuple[int, int], Attempt] = {}
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._closing = False

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, events: queue.Queue, console: Any) -> None:
        self.events = events
        self.console = console
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self.thread = threading.Thread(target=self._io_loop, name="headwater-io", daemon=True)
        self.thread.start()

    def submit(self, spec: TaskSpec) -> None:
        self._requests.put(("run", spec))
        os.write(self._wake_w, b"x")

    def cancel(self, spec: TaskSpec, reason: str) -> None:
        self._requests.put(("kill", (spec.task_id, spec.attempt), reason))
        os.write(self._wake_w, b"x")

    def cancel_all(self, reason: str) -> None:
        self._requests.put(("killall", None, reason))
        os.write(self._wake_w, b"x")

    def close(self) -> None:
        self._closing = True
        self._requests.put(("stop", None, None))
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self.thread.join(timeout=5)

    # -- for subclasses ---------------------------------------------------------------------------
    def _spawn(self, att: Attempt, out_w: int, err_w: int, res_w: int) -> None:
        """Start the attempt's process with these pipe ends as its stdout, stderr and result."""
        raise NotImplementedError

    def _kill(self, att: Attempt, sig: int) -> None:
        """Signal the attempt's process and every process it started."""
        raise NotImplementedError

    def _on_ready(self, tag: Any) -> bool:
        """A registered object of the subclass is readable; return False to stop the thread."""
        return True

    def _on_stop(self) -> None:
        """The executor closes: release what ``_spawn`` made."""

    def _exited(self, att: Attempt, code: int) -> None:
        """Record the exit of ``att``'s process (exit code, or -N for signal N)."""
        att.code = code
        att.exited_at = time.monotonic()
        if not att.open_fds():
            self._close_attempt(att)

    # -- the I/O thread -----------------------------------------------------------------------
    def _io_loop(self) -> None:
        while True:
            timeout = self._grace_timeout()
            for key, _ in self.selector.select(timeout):
                tag = key.data
                if tag == "wake":
                    if not self._handle_requests():
                        self._on_stop()
                        return
                elif isinstance(tag, Attempt):
                    self._read_pipe(key.fd, tag)
                elif not self._on_ready(tag):
                    return
            self._expire_grace()

    def _handle_requests(self) -> bool:
        try:
            os.read(self._wake_r, 65536)
        except BlockingIOError:
            pass
        while True:
            try:
                req = self._requests.get_nowait()
            except queue.Empty:
                return True
            if req[0] == "stop":
                return False
            if req[0] == "run":
                self._launch(req[1])
            else:
                keys = [req[1]] if req[0] == "kill" else list(self._attempts)
                for k in keys:
                    att = self._attempts.get(k)
                    if att is not None and not att.exited:
                        att.reason = att.reason or req[2]
                        self._kill(att, signal.SIGKILL)

    def _launch(self, spec: TaskSpec) -> None:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        res_r, res_w = os.pipe2(os.O_CLOEXEC)
        logs = {}
        for fd, stream in ((out_r, "stdout"), (err_r, "stderr")):
            logs[fd] = (stream, self.datastore.log_writer(spec.flow, spec.run, spec.step,
                                                          spec.task_id, spec.attempt, stream))
        att = Attempt(spec=spec, logs=logs, result_fd=res_r)
        self._attempts[att.key] = att
        try:
            self._spawn(att, out_w, err_w, res_w)
        except Exception as exc:  # noqa: BLE001 - e.g. out of processes: a failed attempt
            att.reason = f"the task process could not be started: {type(exc).__name__}: {exc}"
            att.code = -1
            att.lost = True
            att.exited_at = time.monotonic()
        finally:
            for fd in (out_w, err_w, res_w):
                os.close(fd)
        for fd in att.open_fds():
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, att)

    def _read_pipe(self, fd: int, att: Attempt) -> None:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if fd == att.result_fd:
            if data:
                att.result += data
                return
            self._unregister(fd)
            att.result_fd = -1
        elif data:
            self._emit_lines(att, fd, data)
            return
        else:
            self._flush_partial(att, fd)
            self._unregister(fd)
            att.drained.append(att.logs.pop(fd))
        if att.exited and not att.open_fds():
            self._close_attempt(att)

    def _emit_lines(self, att: Attempt, fd: int, data: bytes) -> None:
        stream, writer = att.logs[fd]
        buf = att.partial.pop(fd, b"") + data
        *lines, rest = buf.split(b"\n")
        if rest:
            att.partial[fd] = rest
        now = time.time()
        for raw in lines:
            text = raw.decode("utf-8", "replace")
            writer.write(now, text)
            self.console.task_line(att.spec, stream, text)
        writer.flush()

    def _flush_partial(self, att: Attempt, fd: int) -> None:
        rest = att.partial.pop(fd, b"")
        if rest:
            self._emit_lines(att, fd, rest + b"\n")

    def _unregister(self, fd: int) -> None:
        try:
            self.selector.unregister(fd)
        except (KeyError, ValueError):
            pass
        os.close(fd)

    def _grace_timeout(self) -> float | None:
        pending = [a.exited_at for a in self._attempts.values() if a.exited]
        if not pending:
            return None
        return max(0.0, min(pending) + PIPE_GRACE - time.monotonic())

    def _expire_grace(self) -> None:
        now = time.monotonic()
        for att in list(self._attempts.values()):
            if att.exited and now - att.exited_at >= PIPE_GRACE:
                for fd in list(att.logs):
                    self._flush_partial(att, fd)
                    self._unregister(fd)
                    att.drained.append(att.logs.pop(fd))
                if att.result_fd >= 0:
                    self._unregister(att.result_fd)
                    att.result_fd = -1
                self._close_attempt(att)

    def _lost_all(self, reason: str) -> None:
        """The processes are gone all at once (the fork template died)."""
        for att in list(self._attempts.values()):
            if not att.exited:
                att.code = -1
                att.lost = True
                att.exited_at = time.monotonic()
                att.reason = att.reason or reason
            self._close_attempt(att)

    def _close_attempt(self, att: Attempt) -> None:
        if self._attempts.pop(att.key, None) is None:
            return
        for fd in att.open_fds():
            self._unregister(fd)
        writers = [*att.drained, *att.logs.values()]
        note = death_note(att.code if not att.lost else None, att.reason)
        for stream, writer in writers:
            try:
                if note and stream == "stderr":
                    writer.write(time.time(), note)
                writer.close()
            except OSError:
                pass  # a full disk: the run's records still say why
        result = None
        if att.result:
            try:
                result = pickle.loads(bytes(att.result))
            except Exception:  # a truncated result: the process died while writing it
                result = None
        code = None if att.lost else att.code
        sig = -code if code is not None and code < 0 else None
        self.events.put(AttemptDone(att.spec, result, exit_code=code, signal=sig, reason=att.reason))


def death_note(code: int | None, reason: str | None) -> str | None:
    """The line added to an attempt's stderr log when its process did not end by itself: why
    it was stopped, or the signal that killed it (Metaflow's logs say "segmentation fault")."""
    if reason:
        return f"[headwater] {reason}"
    if code is not None and code < 0:
        return f"[headwater] the task process was killed by {describe_signal(-code)}"
    return None


def kill_group(pid: int, sig: int) -> None:
    """Signal a task and every process it started (each task leads its own process group)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
