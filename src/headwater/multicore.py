"""``parallel_map`` and ``parallel_imap_unordered``: a function over many items, in processes.

Metaflow's helpers, with the same signatures and results: each item runs in a process forked
from the caller, so ``func`` may be a lambda or a closure and sees everything the caller has
loaded; the result comes back pickled. At most ``max_parallel`` processes (default: the number
of CPUs) run at once. Where ``fork`` does not exist (Windows), the items run one after the
other in the calling process.

A failed item raises :class:`MulticoreException` in the caller, with the item's position and the
traceback from its process; the processes still running are stopped.
"""

from __future__ import annotations

import os
import pickle
import sys

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any


class MulticoreException(Exception):
    """An item of ``parallel_map`` / ``parallel_imap_unordered`` failed in its process."""


def parallel_imap_unordered(func: Callable[[Any], Any], iterable: Iterable[Any],
                            max_parallel: int | None = None, dir: str | None = None) -> Iterator[Any]:
    """``func(item)`` for every item, each in its own process; results as they finish.

    ``dir`` is accepted for Metaflow compatibility (results come back through pipes, not files).
    """
    for _, result in _run(func, iterable, max_parallel):
        yield result


def parallel_map(func: Callable[[Any], Any], iterable: Iterable[Any],
                 max_parallel: int | None = None, dir: str | None = None) -> list[Any]:
    """``[func(item) for item in iterable]``, each item in its own process, results in order."""
    found = dict(_run(func, iterable, max_parallel))
    return [found[i] for i in range(len(found))]


def _run(func: Callable[[Any], Any], iterable: Iterable[Any],
         max_parallel: int | None) -> Iterator[tuple[int, Any]]:
    if not hasattr(os, "fork"):
        for index, item in enumerate(iterable):
            yield index, func(item)
        return
    if max_parallel is None:
        max_parallel = os.cpu_count() or 1
    limit = max(1, int(max_parallel))
    items = enumerate(iterable)
    running: dict[int, tuple[int, int, list[bytes]]] = {}  # read fd -> (pid, index, chunks)
    try:
        while True:
            while len(running) < limit:
                nxt = next(items, None)
                if nxt is None:
                    break
                fd, pid = _spawn(func, nxt[1])
                running[fd] = (pid, nxt[0], [])
            if not running:
                return
            for fd in _readable(list(running)):
                pid, index, chunks = running[fd]
                data = os.read(fd, 1 << 20)
                if data:
                    chunks.append(data)
                    continue
                os.close(fd)
                del running[fd]
                _, status = os.waitpid(pid, 0)
                yield index, _result(index, b"".join(chunks), status)
    finally:
        for fd, (pid, _, _) in running.items():  # an item failed, or the caller stopped early
            try:
                os.kill(pid, 9)  # SIGKILL
                os.waitpid(pid, 0)
            except OSError:
                pass
            os.close(fd)


def _spawn(func: Callable[[Any], Any], item: Any) -> tuple[int, int]:
    """Fork a process that runs ``func(item)`` and writes ``(ok, value)`` pickled to a pipe."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()  # or the child prints what the parent had buffered once more
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        os.close(write_fd)
        return read_fd, pid
    code = 1
    try:
        os.close(read_fd)
        try:
            payload = pickle.dumps((True, func(item)), protocol=5)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, whatever it is
            import traceback

            tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # from func down
            text = "".join(traceback.format_exception(type(exc), exc, tb))
            payload = pickle.dumps((False, text), protocol=5)
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view):]
        code = 0
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)  # never return into the caller's code in the child


def _readable(fds: list[int]) -> list[int]:
    import select

    if hasattr(select, "poll"):
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN | select.POLLHUP)
        return [fd for fd, _ in poller.poll()]
    return select.select(fds, [], [])[0]


def _result(index: int, data: bytes, status: int) -> Any:
    if data:
        ok, value = pickle.loads(data)
        if ok:
            return value
        raise MulticoreException(f"item {index} failed in its process:\n{value.rstrip()}")
    if os.WIFSIGNALED(status):
        raise MulticoreException(f"the process of item {index} was killed by signal {os.WTERMSIG(status)}.")
    raise MulticoreException(f"the process of item {index} exited with code "
                             f"{os.waitstatus_to_exitcode(status)} without a result.")
