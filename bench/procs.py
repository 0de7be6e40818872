"""Run one command: wall time, exit status, captured output, peak RSS of its process tree."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_INTERVAL = 0.05  # seconds between RSS samples


@dataclass
class CmdResult:
    argv: list[str]
    returncode: int | None  # None when the command timed out
    wall: float  # seconds
    peak_rss: int  # bytes, summed over the process tree, sampled
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe_failure(self, tail_lines: int = 25) -> str:
        status = "timed out" if self.returncode is None else f"exit code {self.returncode}"
        tail = "\n".join((self.stderr or self.stdout).strip().splitlines()[-tail_lines:])
        return f"`{shlex.join(self.argv)}` {status}\n{tail}"


class TreeRssSampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants until stopped.

    Summed RSS counts pages shared between processes (fork copy-on-write, shared libraries)
    once per process, so it is an upper bound on the memory the tree really holds.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self._pid = pid
        self._stop_event = threading.Event()
        self.peak = 0

    def run(self) -> None:
        try:
            root = psutil.Process(self._pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _tree_rss(root))
            self._stop_event.wait(SAMPLE_INTERVAL)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def _tree_rss(root: psutil.Process) -> int:
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run_cmd(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    log_dir: Path,
) -> CmdResult:
    """Run argv in its own session; kill the whole session if it outlives timeout.

    The wait blocks in waitpid: Popen.wait(timeout=...) polls with sleeps of up to 50 ms,
    which would quantize every measured wall time.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        sampler = TreeRssSampler(proc.pid)
        sampler.start()
        timed_out = threading.Event()
        watchdog = threading.Timer(timeout, _time_out, args=(proc.pid, timed_out))
        watchdog.start()
        try:
            returncode = proc.wait()
        except BaseException:  # Ctrl-C: the command's own session would not get it
            _kill_session(proc.pid)
            raise
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - start
        peak = sampler.stop()
    _kill_session(proc.pid)  # leftovers (a runtime's stray workers) must not outlive it
    return CmdResult(
        argv=argv,
        returncode=None if timed_out.is_set() else returncode,
        wall=wall,
        peak_rss=peak,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def _time_out(session_id: int, timed_out: threading.Event) -> None:
    timed_out.set()
    _kill_session(session_id)


def _kill_session(session_id: int) -> None:
    try:
        os.killpg(session_id, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk under path, like `du -s`, counting hard links once."""
    if not path.exists():
        return 0
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                total += st.st_blocks * 512
    return total
