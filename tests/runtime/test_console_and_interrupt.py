"""The run's closing lines, and Ctrl-C: a prompt exit, no task left running, a failed run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

SUMMARY = """
class SummaryFlow(FlowSpec):
    fail = Parameter("fail", default=False)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if self.fail and self.input == 2:
            raise ValueError("item two is bad")
        self.next(self.join)

    @step
    def join(self, inputs):
        print("joined", len(inputs))
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    SummaryFlow()
"""

SLEEPY = """
import subprocess
import time

class SleepyFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.nap, foreach="items")

    @step
    def nap(self):
        SLEEPER
        print("napping", flush=True)
        time.sleep(120)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        print("end ran")

if __name__ == "__main__":
    SleepyFlow()
"""


@pytest.fixture(scope="module")
def summaries(module_fd):
    module_fd.write(SUMMARY)
    return {"ok": module_fd.run(), "failed": module_fd.run("--fail", "true")}


def test_success_summary_line(summaries):
    done = summaries["ok"]
    assert done.returncode == 0, done
    assert re.search(r"Run SummaryFlow/1 succeeded in [\d.]+ s: 6 tasks "
                     r"\(start 1, body 3, join 1, end 1\)", done.stdout), done


def test_success_ends_with_the_commands_the_readme_promises(module_fd, summaries):
    done = summaries["ok"]
    closing = done.stdout.splitlines()[-3:]
    with module_fd.client() as hw:
        join = hw.Run("SummaryFlow/1")["join"].task.id
    assert closing == [
        "  Artifacts:  python flow.py dump 1/end",
        f"  Logs:       python flow.py logs 1/join/{join}",  # the last task that printed
        "  In Python:  Run('SummaryFlow/1').data   |   In a browser:  headwater ui",
    ], done
    logs = module_fd.cli(*closing[1].split("python flow.py ", 1)[1].split())
    assert logs.returncode == 0 and "joined 3" in logs.stdout, logs


def test_failure_summary_names_the_task_and_hints_logs_and_resume(module_fd, summaries):
    done = summaries["failed"]
    assert done.returncode != 0
    assert re.search(r"Run SummaryFlow/2 failed", done.stdout), done
    with module_fd.client() as hw:
        (bad,) = [t.id for t in hw.Run("SummaryFlow/2")["body"].tasks() if t.exception]
    assert f"step 'body' (task 2/body/{bad}) failed" in done.stdout
    assert "ValueError: item two is bad" in done.stdout
    assert f"python flow.py logs 2/body/{bad}" in done.stdout
    assert "python flow.py resume" in done.stdout and "2" in done.stdout.split("resume")[-1]
    assert module_fd.runs("SummaryFlow") == [(1, "succeeded"), (2, "failed")]
    assert module_fd.tasks("SummaryFlow", 2, "join") == []


def test_failed_task_keeps_its_traceback(module_fd, summaries):
    exc = module_fd.exception("SummaryFlow", 2, "body")
    assert exc["type"] == "ValueError"
    assert "item two is bad" in exc["message"]
    assert 'raise ValueError("item two is bad")' in exc["traceback"]


KILLED = """
import os
import signal

class KilledFlow(FlowSpec):
    @step
    def start(self):
        print("about to die", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    KilledFlow()
"""


def test_a_task_killed_by_a_signal_fails_the_run_with_the_reason(fd):
    fd.write(KILLED)
    done = fd.run()
    assert done.returncode != 0
    assert "killed by SIGKILL" in done.stdout and "SIGKILL (" not in done.stdout
    assert "Run KilledFlow/1 failed" in done.stdout
    assert fd.runs("KilledFlow") == [(1, "failed")]
    with fd.client() as hw:
        task = hw.Run("KilledFlow/1")["start"].task
        assert not task.successful
        assert "SIGKILL" in task.exit_reason
        assert task.stdout == "about to die\n"


SEGFAULT = """
import ctypes

class CrashFlow(FlowSpec):
    @step
    def start(self):
        print("before the crash", flush=True)
        ctypes.string_at(0)  # reads address 0: a segmentation fault
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    CrashFlow()
"""


def test_a_segmentation_fault_is_named_in_the_tasks_stderr(fd):
    fd.write(SEGFAULT)
    done = fd.run()
    assert done.returncode != 0
    assert "failed: the task process was killed by SIGSEGV (segmentation fault)" in done.stdout, done
    logs = fd.cli("logs", "1/start/1")
    assert "before the crash" in logs.stdout
    err = fd.cli("logs", "--stderr", "1/start/1")
    assert err.stdout == "[headwater] the task process was killed by SIGSEGV (segmentation fault)\n", err
    shown = _headwater(fd, "show", "CrashFlow/1/start/1")
    assert "why it failed: the task process was killed by SIGSEGV (segmentation fault)" in shown.stdout, shown


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _as_foreground() -> None:
    # A shell starts background jobs with SIGINT ignored, and Python keeps it ignored; a
    # user's Ctrl-C reaches a foreground process, so give the run the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_run(fd, sleeper="pass", *, whole_group=False, sig=signal.SIGINT):
    """Start the sleepy flow, wait for both tasks to nap, send SIGINT, and collect.

    By default only the scheduler process gets the signal (``kill -INT PID``); with
    ``whole_group`` every process of the run's process group does, as a terminal's Ctrl-C.
    """
    fd.write(SLEEPY.replace("SLEEPER", sleeper))
    log = fd.path / "console.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "flow.py", "run"], cwd=fd.path, env=fd.env(), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=whole_group, preexec_fn=_as_foreground)
    try:
        wait_for(lambda: log.read_text().count("napping") == 2, 60, "both tasks to start")
        me = psutil.Process(proc.pid)
        descendants = me.children(recursive=True)
        names = [child.name() for child in descendants]
        template = 1 if fd.executor == "fork" else 0  # subprocess tasks have none
        assert len(descendants) >= 2 + template, "two tasks (and the fork template)"
        if whole_group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        proc.wait(timeout=10)  # a generous bound, not a speed check
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, descendants, names, log.read_text()


def alive(processes):
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_ctrl_c_stops_the_run_and_every_task(fd):
    proc, descendants, _, output = interrupt_run(fd)
    assert proc.returncode != 0
    wait_for(lambda: not alive(descendants), 5, "task processes to go away")
    assert fd.runs("SleepyFlow") == [(1, "failed")]
    naps = fd.tasks("SleepyFlow", 1, "nap")
    assert len(naps) == 2 and all(t["status"] == "failed" for t in naps)
    assert "Run SleepyFlow/1 failed" in output
    assert "resume" in output
    assert "end ran" not in output


def _headwater(fd, *args):
    return subprocess.run([sys.executable, "-c", "from headwater.cli.main import main; main()", *args],
                          cwd=fd.path, env={**fd.env(), "COLUMNS": "200"}, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("sig, by", [(signal.SIGINT, "Ctrl-C (SIGINT)"), (signal.SIGTERM, "SIGTERM")])
def test_a_stopped_task_records_that_it_was_interrupted(fd, sig, by):
    proc, _, _, output = interrupt_run(fd, sig=sig)
    assert proc.returncode != 0
    why = f"interrupted: the run was stopped by {by} while this task ran"
    assert f"interrupted by {by}" in output
    naps = fd.tasks("SleepyFlow", 1, "nap")
    with fd.client() as hw:
        for row in naps:
            task = hw.Task(f"SleepyFlow/1/nap/{row['id']}")
            assert task.exception is not None and task.exception.type == "KeyboardInterrupt"
            assert task.exception.message == why
            assert task.exit_reason == why
    pathspec = f"SleepyFlow/1/nap/{naps[0]['id']}"
    logs = fd.cli("logs", pathspec.split("/", 1)[1])
    assert "napping" in logs.stdout and f"[headwater] {why}" in logs.stdout, logs
    shown = _headwater(fd, "show", pathspec)
    assert shown.returncode == 0, shown.stderr
    assert f"exception: KeyboardInterrupt: {why}" in " ".join(shown.stdout.split()), shown.stdout
    import urllib.request

    from headwater.ui.server import start_in_thread

    server = start_in_thread(fd.home)
    try:
        page = urllib.request.urlopen(f"{server.url}/{pathspec}", timeout=30).read().decode()
    finally:
        server.stop()
    assert "KeyboardInterrupt" in page and why in page


@pytest.mark.fork_only
def test_an_in_process_step_stopped_by_sigterm_stops_the_run_and_records_it(fd):
    fd.write(SLEEPY.replace("SLEEPER", "pass"))
    log = fd.path / "console.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "flow.py", "run", "--executor", "inprocess"],
                                cwd=fd.path, env=fd.env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "napping" in log.read_text(), 60, "the first task to start")
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert proc.returncode != 0 and "interrupted by SIGTERM" in output, output
    assert output.count("napping") == 1, "no other task ran after the stop"
    assert fd.runs("SleepyFlow") == [(1, "failed")]
    (nap,) = [t for t in fd.tasks("SleepyFlow", 1, "nap")]
    with fd.client() as hw:
        exc = hw.Task(f"SleepyFlow/1/nap/{nap['id']}").exception
    assert exc.type == "KeyboardInterrupt"
    assert exc.message == "interrupted: the run was stopped by SIGTERM while this task ran"
    assert "time.sleep(120)" in exc.traceback, "where the step was when it was stopped"


def test_ctrl_c_in_a_terminal_stops_the_run_and_every_process(fd):
    sleeper = 'subprocess.Popen(["sleep", "300"])'
    proc, descendants, names, output = interrupt_run(fd, sleeper, whole_group=True)
    assert names.count("sleep") == 2
    assert proc.returncode != 0
    try:
        wait_for(lambda: not alive(descendants), 5, "every process of the run to go away")
    finally:
        for p in alive(descendants):
            p.kill()
    assert fd.runs("SleepyFlow") == [(1, "failed")]
    assert "Run SleepyFlow/1 failed" in output


def test_ctrl_c_also_stops_processes_a_task_started(fd):
    sleeper = 'subprocess.Popen(["sleep", "300"])'
    proc, descendants, names, output = interrupt_run(fd, sleeper)
    assert names.count("sleep") == 2
    try:
        wait_for(lambda: not alive(descendants), 3, "the task's own subprocesses to go away")
    finally:
        for p in alive(descendants):
            p.kill()
    assert fd.runs("SleepyFlow") == [(1, "failed")]
