"""The default executor: each attempt is a process forked from a warm template.

At run start the scheduler forks a *template* process (a zygote) that has already imported
Headwater, the flow's module and everything they import. For each attempt the scheduler
sends the template a TaskSpec plus three pipe ends (stdout, stderr, result) over a Unix
socket; the template forks a child that wires the pipes to fds 1 and 2 and runs
``run_attempt``. A task therefore costs a fork (milliseconds) instead of an interpreter
start, and is as isolated as a new process: nothing it does leaks into another task.

The template reaps its children and reports each exit status; the I/O thread of
:class:`~headwater.executors.pipes.PipeExecutor` reads the pipes into logs and events.

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
import selectors
import signal
import sys

from ..task import TaskSpec, run_attempt, warm_up, warm_up_for
from .pipes import Attempt, PipeExecutor, kill_group

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    import queue
    from typing import Any

MAX_MSG = 1 << 22


def set_pdeathsig(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the template's socket EOF still stops it
        pass


class ForkExecutor(PipeExecutor):
    name = "fork"
    #: When set (a task spec as JSON), the template is not forked from this process but
    #: started as a fresh interpreter that loads the flow the way ``python -m headwater.task``
    #: does: for a process with threads of its own, such as a Ray worker, which must not fork.
    spawn_spec: str | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, events: queue.Queue, console: Any) -> None:
        """Fork the template. Call before opening databases or starting threads."""
        parent_sock, child_sock = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        scheduler_pid = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        if self.spawn_spec is not None:
            pid = _spawn_template(child_sock, self.spawn_spec)
        else:
            pid = os.fork()
            if pid == 0:  # the template
                parent_sock.close()
                try:
                    _template_main(child_sock, scheduler_pid, self.flow_cls, self.graph, self.datastore)
                finally:
                    os._exit(0)
        child_sock.close()
        self.template_pid = pid
        self.sock = parent_sock
        super().start(events, console)
        self.selector.register(self.sock, selectors.EVENT_READ, "template")

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

    # -- PipeExecutor -----------------------------------------------------------------------
    def _spawn(self, att: Attempt, out_w: int, err_w: int, res_w: int) -> None:
        _send_fds(self.sock, pickle.dumps(("run", att.spec), protocol=5), [out_w, err_w, res_w])

    def _kill(self, att: Attempt, sig: int) -> None:
        self._send(("kill", att.key, sig))

    def _on_ready(self, tag: Any) -> bool:
        return self._from_template()

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
            self._lost_all("the worker template process exited")
            return False
        kind, key, value = pickle.loads(data)
        att = self._attempts.get(key)
        if att is None:
            return True
        if kind == "started":
            att.pid = value
        elif kind == "exited":
            self._exited(att, os.waitstatus_to_exitcode(value))
        return True


# -- the template process ------------------------------------------------------------------


def _spawn_template(sock: _socket.socket, spec_json: str) -> int:
    """Start the template as ``python -m headwater.executors.fork FD`` with the spec on its
    standard input; its PID."""
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "headwater.executors.fork", str(sock.fileno())],
                            stdin=subprocess.PIPE, pass_fds=(sock.fileno(),), close_fds=True)
    proc.stdin.write(spec_json.encode("utf-8"))  # type: ignore[union-attr]
    proc.stdin.close()  # type: ignore[union-attr]
    return proc.pid


def _spawned_main(fd: int) -> None:
    """The template of :func:`_spawn_template`: load the spec's flow, then serve as usual."""
    from ..datastore.datastore import open_datastore
    from ..task_entry import load_flow

    sock = _socket.socket(fileno=fd)
    spec = TaskSpec.from_json(sys.stdin.read())
    flow_cls, graph = load_flow(spec)
    try:
        _template_main(sock, os.getppid(), flow_cls, graph, open_datastore(spec.root))
    finally:
        os._exit(0)


def _template_main(sock: _socket.socket, scheduler_pid: int, flow_cls: type, graph: Any,
                   datastore: Any) -> None:
    children: dict[int, tuple[int, int]] = {}

    def scheduler_gone(signum: int, frame: Any) -> None:
        for pid in children:
            kill_group(pid, signal.SIGKILL)  # the task's whole process group
        os._exit(1)

    signal.signal(signal.SIGTERM, scheduler_gone)
    set_pdeathsig(signal.SIGTERM)
    if os.getppid() != scheduler_pid:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scheduler's to handle
    warm_up()
    datastore.warm_up()
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
                        kill_group(pid, signal.SIGKILL)
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
                        kill_group(pid, op[2])
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


def _child_main(spec: TaskSpec, fds: list[int], flow_cls: type, graph: Any) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # SIGTERM (also what Linux sends when the template dies, however it died) ends the
        # task and every process its step started: its process group, which it leads.
        signal.signal(signal.SIGTERM, _end_group)
        os.setpgid(0, 0)  # so stopping the task also stops the processes its step starts
        set_pdeathsig(signal.SIGTERM)
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


def _end_group(signum: int, frame: Any) -> None:
    # The task still ends by SIGTERM (as its exit reason says), and takes its group along.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.killpg(0, signal.SIGTERM)


def _reseed() -> None:
    """Forked children share the template's random state; a fresh interpreter would not."""
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.random.seed()
        except Exception:  # noqa: BLE001 - an exotic numpy; leave it
            pass


if __name__ == "__main__":
    _spawned_main(int(sys.argv[1]))
