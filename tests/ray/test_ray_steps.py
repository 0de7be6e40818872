"""`@ray` steps: where they run, what they print, what they ask for, and the errors that stop a
run before anything is submitted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil

MIXED = """
import os

class MixedFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3, 4]
        self.driver_pid = os.getppid()
        self.next(self.square, foreach="items")

    @ray(cpu=1, memory=64)
    @step
    def square(self):
        print("squaring", self.input, "on", os.uname().nodename)
        self.sq = self.input ** 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.sq for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)

if __name__ == "__main__":
    MixedFlow()
"""


def test_ray_steps_run_on_the_cluster_and_print_to_the_console(rd):
    rd.write(MIXED)
    done = rd.run()
    assert done.returncode == 0, done
    for i in (1, 2, 3, 4):
        assert f"] squaring {i} on" in done.stdout, "each line comes back with its task's prefix"
    assert "total 30" in done.stdout
    with rd.client() as hw:
        run = hw.Run("MixedFlow/1")
        assert run.data.total == 30
        for task in run["square"]:
            meta = task.metadata_dict
            assert meta["executor"] == "ray" and meta["node"] == "127.0.0.1", meta
            assert meta["resources"] == {"cpu": 1.0, "memory": 64.0}
        assert sorted(t.stdout.split(" on ")[0] for t in run["square"]) == [f"squaring {i}" for i in (1, 2, 3, 4)]
        start = next(iter(run["start"]))
        assert "executor" not in start.metadata_dict, "a step without @ray runs here, as always"
        square = next(iter(run["square"]))
    logs = rd.cli("logs", f"1/square/{square.id}")
    assert logs.returncode == 0 and "squaring" in logs.stdout

    from headwater.ui.server import start_in_thread

    ui = start_in_thread(rd.home)
    try:
        with urllib.request.urlopen(f"{ui.url}/MixedFlow/1/square/{square.id}", timeout=30) as page:  # noqa: S310
            html = page.read().decode()
        assert "ran on" in html and "ray" in html and "127.0.0.1" in html
        assert "cpu 1, memory 64 MB" in html
    finally:
        ui.stop()


TOO_BIG = """
class BigFlow(FlowSpec):
    @step
    def start(self):
        print("start ran")
        self.next(self.train)

    @ray(cpu=64)
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    BigFlow()
"""


def test_a_request_no_node_can_hold_fails_before_anything_runs(rd):
    rd.write(TOO_BIG)
    done = rd.run()
    assert done.returncode != 0
    assert "step 'train' asks for 64 CPU" in done.stderr, done
    assert "its nodes: 4 CPU" in done.stderr and "Traceback" not in done.stderr
    assert "start ran" not in done.stdout and rd.runs() == [], "nothing ran, nothing was recorded"


def test_resources_too_much_memory_is_refused_the_same_way(rd):
    rd.write(TOO_BIG.replace("@ray(cpu=64)", "@resources(memory=10_000_000)\n    @ray"))
    done = rd.run()
    assert done.returncode != 0
    assert "10,000,000 MB of memory" in done.stderr, done


def test_an_unreachable_cluster_fails_in_one_line_before_any_task(rd):
    rd.write(MIXED)
    started = time.monotonic()
    done = rd.run(HEADWATER_RAY_ADDRESS="127.0.0.1:1")
    assert done.returncode != 0
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in done.stderr, done
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "squaring" not in done.stdout and rd.runs() == []
    assert time.monotonic() - started < 30


NAPS = """
import subprocess, time

class NapFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.nap, foreach="items")

    @ray
    @step
    def nap(self):
        subprocess.Popen(["sleep", "301"])
        print("napping", self.input, flush=True)
        time.sleep(120)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    NapFlow()
"""


def _sleeps() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline", "status"])
            if p.info["cmdline"] == ["sleep", "301"] and p.info["status"] != psutil.STATUS_ZOMBIE]


def test_ctrl_c_stops_the_ray_tasks_and_what_they_started(rd):
    rd.write(NAPS)
    proc = subprocess.Popen(rd.command([sys.executable, "flow.py", "run"]), cwd=rd.path, env=rd.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = ""
    while seen.count("napping") < 2:
        line = proc.stdout.readline()
        assert line, seen
        seen += line
    assert len(_sleeps()) == 2
    os.kill(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "interrupted" in (seen + out).lower()
    deadline = time.monotonic() + 20
    while _sleeps() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _sleeps() == [], "nothing the steps started is left on the cluster"
    assert rd.runs("NapFlow") == [(1, "failed")]
