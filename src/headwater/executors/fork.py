"""The default executor: each attempt is a process forked from a warm template.

At run start the scheduler forks a *template* process (a zygote) that has already imported
Headwater, the flow's module and everything they import. For each attempt the scheduler
sends the template a TaskSpec plus three pipe ends (stdout, stderr, result) over a Unix
socket; the template forks a child that wires the pipes to fds 1 and 2 and runs
``run_attempt``. A task therefore costs a fork (milliseconds) instead of an interpreter
start, and is as isolated as a new process: nothing it does leaks into another task.

The template reaps its children and reports each exit status; the scheduler's I/O thread
reads the pipes, timestamps every line, appends it to the attempt's log file, echoes it to
the console, and emits :class:`AttemptDone` once the child has exited and its pipes closed.

Supervision: when the scheduler dies, even by SIGKILL, Linux sends the template SIGTERM
(PR_SET_PDEATHSIG); the template then kills every task's process group, which holds the
processes the step started too, and exits. Children also die with the template. So a killed
scheduler leaves nothing running unsupervised.
"""

from __future__ import annotations

import _socket  # the C module behind `socket`: same calls, without building its enums (ms at start-up)
import array
import gc
import os
import pickle
import queue
import selectors
import signal
import sys
import threading
import time

from ..datastore.logs import LogWriter, log_file
from ..task import TaskSpec, run_attempt, warm_up, warm_up_for
from .base import AttemptDone

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

MAX_MSG = 1 << 22
PIPE_GRACE = 2.0  # seconds to wait for a dead task's pipes (a grandchild may hold them)


def _set_pdeathsig(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the template's socket EOF still stops it
        pass


class _Attempt:
    """A running attempt as the I/O thread sees it: its pipes, partial lines and exit."""

    __slots__ = ("spec", "logs", "partial", "result_fd", "result", "pid", "status", "exited_at",
                 "reason")

    def __init__(self, spec: TaskSpec, logs: dict[int, tuple[str, LogWriter]], result_fd: int) -> None:
        self.spec = spec
        self.logs = logs  # read fd -> (stream name, log file)
        self.partial: dict[int, bytes] = {}
        self.result_fd = result_fd
        self.result = bytearray()
        self.pid: int | None = None
        self.status: int | None = None
        self.exited_at = 0.0
        self.reason: str | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.spec.task_id, self.spec.attempt)

    def open_fds(self) -> list[int]:
        fds = list(self.logs)
        if self.result_fd >= 0:
            fds.append(self.result_fd)
        return fds


class ForkExecutor:
    name = "fork"

    def __init__(self, flow_cls: type, graph: Any, root: str | os.PathLike[str]) -> None:
        self.flow_cls = flow_cls
        self.graph = graph
        self.root = os.fspath(root)
        self._attempts: dict[tuple[int, int], _Attempt] = {}
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._closing = False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, events: queue.Queue, console: Any) -> None:
        """Fork the template. Call before opening databases or starting threads."""
        self.events = events
        self.console = console
        parent_sock, child_sock = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        scheduler_pid = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the template
            parent_sock.close()
            try:
                _template_main(child_sock, scheduler_pid, self.flow_cls, self.graph)
            finally:
                os._exit(0)
        child_sock.close()
        self.template_pid = pid
        self.sock = parent_sock
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.sock, selectors.EVENT_READ, "template")
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
        try:
            self.sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            os.waitpid(self.template_pid, 0)
        except ChildProcessError:
            pass
        self.thread.join(timeout=5)

    # -- the I/O thread -----------------------------------------------------------------------
    def _io_loop(self) -> None:
        while True:
            timeout = self._grace_timeout()
            for key, _ in self.selector.select(timeout):
                tag = key.data
                if tag == "template":
                    if not self._from_template():
                        return
                elif tag == "wake":
                    self._handle_requests()
                else:
                    self._read_pipe(key.fd, tag)
            self._expire_grace()

    def _handle_requests(self) -> None:
        try:
            os.read(self._wake_r, 65536)
        except BlockingIOError:
            pass
        while True:
            try:
                req = self._requests.get_nowait()
            except queue.Empty:
                return
            if req[0] == "run":
                self._launch(req[1])
            else:
                keys = [req[1]] if req[0] == "kill" else list(self._attempts)
                for k in keys:
                    att = self._attempts.get(k)
                    if att is not None and att.status is None:
                        att.reason = att.reason or req[2]
                        self._send(("kill", k, signal.SIGKILL))

    def _launch(self, spec: TaskSpec) -> None:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        res_r, res_w = os.pipe2(os.O_CLOEXEC)
        logs = {}
        for fd, stream in ((out_r, "stdout"), (err_r, "stderr")):
            logs[fd] = (stream, LogWriter(log_file(self.root, spec.flow, spec.run, spec.step,
                                                   spec.task_id, spec.attempt, stream)))
        att = _Attempt(spec=spec, logs=logs, result_fd=res_r)
        self._attempts[att.key] = att
        _send_fds(self.sock, pickle.dumps(("run", spec), protocol=5), [out_w, err_w, res_w])
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        for fd in att.open_fds():
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, att)

    def _send(self, msg: Any) -> None:
        try:
            self.sock.send(pickle.dumps(msg))
        except OSError:
            pass

    def _from_template(self) -> bool:
        try:
            data = self.sock.recv(MAX_MSG)
        except OSError:
            data = b""
        if not data:
            # The template is gone: every attempt still open has died with it.
            for att in list(self._attempts.values()):
                if att.status is None:
                    att.status = -1
                    att.exited_at = time.monotonic()
                    att.reason = att.reason or "the worker template process exited"
                self._close_attempt(att)
            return False
        kind, key, value = pickle.loads(data)
        att = self._attempts.get(key)
        if att is None:
            return True
        if kind == "started":
            att.pid = value
        elif kind == "exited":
            att.status = value
            att.exited_at = time.monotonic()
            if not att.open_fds():
                self._close_attempt(att)
        return True

    def _read_pipe(self, fd: int, att: _Attempt) -> None:
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
            att.logs.pop(fd)[1].close()
        if att.status is not None and not att.open_fds():
            self._close_attempt(att)

    def _emit_lines(self, att: _Attempt, fd: int, data: bytes) -> None:
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

    def _flush_partial(self, att: _Attempt, fd: int) -> None:
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
        pending = [a.exited_at for a in self._attempts.values() if a.status is not None]
        if not pending:
            return None
        return max(0.0, min(pending) + PIPE_GRACE - time.monotonic())

    def _expire_grace(self) -> None:
        now = time.monotonic()
        for att in list(self._attempts.values()):
            if att.status is not None and now - att.exited_at >= PIPE_GRACE:
                for fd in list(att.logs):
                    self._flush_partial(att, fd)
                    self._unregister(fd)
                    att.logs.pop(fd)[1].close()
                if att.result_fd >= 0:
                    self._unregister(att.result_fd)
                    att.result_fd = -1
                self._close_attempt(att)

    def _close_attempt(self, att: _Attempt) -> None:
        if self._attempts.pop(att.key, None) is None:
            return
        for fd in att.open_fds():
            self._unregister(fd)
        for _, writer in att.logs.values():
            writer.close()
        result = None
        if att.result:
            try:
                result = pickle.loads(bytes(att.result))
            except Exception:  # a truncated result: the process died while writing it
                result = None
        status = att.status if att.status is not None else -1
        code = os.waitstatus_to_exitcode(status) if status >= 0 else None
        sig = -code if code is not None and code < 0 else None
        self.events.put(AttemptDone(att.spec, result, exit_code=code, signal=sig, reason=att.reason))


# -- the template process ------------------------------------------------------------------


def _template_main(sock: _socket.socket, scheduler_pid: int, flow_cls: type, graph: Any) -> None:
    children: dict[int, tuple[int, int]] = {}

    def scheduler_gone(signum: int, frame: Any) -> None:
        for pid in children:
            _kill(pid, signal.SIGKILL)  # the task's whole process group
        os._exit(1)

    signal.signal(signal.SIGTERM, scheduler_gone)
    _set_pdeathsig(signal.SIGTERM)
    if os.getppid() != scheduler_pid:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scheduler's to handle
    warm_up()
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    by_key: dict[tuple[int, int], int] = {}
    probed: set[str] = set()
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    gc.freeze()  # keep the template's objects out of the children's collections: less copy-on-write
    while True:
        for key, _ in sel.select():
            if key.fileobj is sock:
                try:
                    msg, fds = _recv_fds(sock, MAX_MSG, 3)
                except OSError:
                    msg, fds = b"", []
                if not msg:
                    for pid in children:
                        _kill(pid, signal.SIGKILL)
                    return
                op = pickle.loads(msg)
                if op[0] == "run":
                    spec = op[1]
                    try:
                        warm_up_for(spec, probed)
                    except Exception:  # noqa: BLE001 - only a speed-up: never fail a run for it
                        pass
                    pid = os.fork()
                    if pid == 0:
                        sel.close()
                        sock.close()
                        os.close(wake_r)
                        os.close(wake_w)
                        _child_main(spec, fds, flow_cls, graph)  # never returns
                    for fd in fds:
                        os.close(fd)
                    children[pid] = (spec.task_id, spec.attempt)
                    by_key[children[pid]] = pid
                    _reply(sock, ("started", children[pid], pid))
                elif op[0] == "kill":
                    pid = by_key.get(op[1])
                    if pid is not None:
                        _kill(pid, op[2])
            else:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
                while children:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    key = children.pop(pid, None)
                    if key is not None:
                        by_key.pop(key, None)
                        _reply(sock, ("exited", key, status))


def _send_fds(sock: _socket.socket, data: bytes, fds: list[int]) -> None:
    """Send ``data`` and duplicates of ``fds`` in one message (``SCM_RIGHTS``)."""
    sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", fds))])


def _recv_fds(sock: _socket.socket, bufsize: int, maxfds: int) -> tuple[bytes, list[int]]:
    """One message and the file descriptors that came with it (as ``socket.recv_fds``)."""
    fds = array.array("i")
    msg, ancdata, _, _ = sock.recvmsg(bufsize, _socket.CMSG_LEN(maxfds * fds.itemsize))
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return msg, list(fds)


def _reply(sock: _socket.socket, msg: Any) -> None:
    try:
        sock.send(pickle.dumps(msg))
    except OSError:
        pass


def _kill(pid: int, sig: int) -> None:
    """Signal the task and every process it started (each task leads its own process group)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _child_main(spec: TaskSpec, fds: list[int], flow_cls: type, graph: Any) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the template's handler is not the task's
        os.setpgid(0, 0)  # so stopping the task also stops the processes its step starts
        _set_pdeathsig()
        gc.unfreeze()
        out, err, res = fds
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(out)
        os.close(err)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        _reseed()
        result = run_attempt(spec, flow_cls, graph)
        code = 0 if result.get("ok") else 1
        sys.stdout.flush()
        sys.stderr.flush()
        with os.fdopen(res, "wb") as f:
            f.write(pickle.dumps(result, protocol=5))
    except BaseException:  # noqa: BLE001 - the exit code tells the runtime
        try:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def _reseed() -> None:
    """Forked children share the template's random state; a fresh interpreter would not."""
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.random.seed()
        except Exception:  # noqa: BLE001 - an exotic numpy; leave it
            pass
