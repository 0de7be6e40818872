"""``--executor subprocess``: each attempt runs in a fresh interpreter.

The attempt is ``python -m headwater.task`` (the one entry point every remote executor uses)
with the :class:`~headwater.task.TaskSpec` as JSON on its standard input, and a result pipe
on which it writes the outcome, since a scheduler is listening. It costs an interpreter start
per attempt (a fork costs milliseconds), and gives what a fork cannot: a clean interpreter for
libraries that break after fork, and the path ``@pypi`` environments and remote engines take.

Each process leads its own process group (stopping a task stops what its step started) and
dies with the scheduler: it asks Linux for a signal when its parent goes away.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import threading

from .pipes import Attempt, PipeExecutor, kill_group

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

SMALL_SPEC = 32 * 1024  # a spec this small fits in the pipe buffer: written without a thread


class SubprocessExecutor(PipeExecutor):
    name = "subprocess"
    needs_code_package = True  # the code package exists before the first task starts

    def _spawn(self, att: Attempt, out_w: int, err_w: int, res_w: int) -> None:
        spec = att.spec
        command = [sys.executable, "-m", "headwater.task", "--spec", "-", "--result-fd", str(res_w),
                   "--supervisor", str(os.getpid())]
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=out_w, stderr=err_w, pass_fds=(res_w,),
            start_new_session=True, close_fds=True,
        )
        att.pid = proc.pid
        att.handle = proc
        data = spec.to_json().encode("utf-8")
        if len(data) <= SMALL_SPEC:
            _write_all(proc.stdin, data)
        else:  # the child reads it as it starts; do not hold the I/O thread meanwhile
            threading.Thread(target=_write_all, args=(proc.stdin, data), daemon=True).start()
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # no pidfd (old kernel, not Linux): a waiting thread
            threading.Thread(target=self._wait, args=(att,), daemon=True).start()
        else:
            att.handle = (proc, pidfd)
            self.selector.register(pidfd, selectors.EVENT_READ, ("exit", att))

    def _on_ready(self, tag: Any) -> bool:
        _, att = tag
        proc, pidfd = att.handle
        self.selector.unregister(pidfd)
        os.close(pidfd)
        self._exited(att, proc.wait())
        return True

    def _wait(self, att: Attempt) -> None:
        code = att.handle.wait()
        # Hand the exit to the I/O thread, which owns the attempt's state.
        self._requests.put(("exited", att, code))
        os.write(self._wake_w, b"x")

    def _handle_requests(self) -> bool:
        keep = []
        while True:
            try:
                req = self._requests.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty
                break
            if req[0] == "exited":
                self._exited(req[1], req[2])
            else:
                keep.append(req)
        for req in keep:
            self._requests.put(req)
        return super()._handle_requests()

    def _kill(self, att: Attempt, sig: int) -> None:
        if att.pid is not None:
            kill_group(att.pid, sig)

    def _on_stop(self) -> None:
        for att in list(self._attempts.values()):
            self._kill(att, 9)


def _write_all(stream: Any, data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except OSError:  # the child died before reading: its exit tells the rest
        pass
