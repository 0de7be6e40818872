"""Runs recorded by the metadata service: read from anywhere, refused cleanly when the service
cannot be used, and finished when the service or its database restarts mid-run."""

from __future__ import annotations

import re
import time

from .conftest import ServiceProcess, get, records

FOREACH = """
class TeamFlow(FlowSpec):
    n = Parameter("n", default=4)
    pause = Parameter("pause", default=0.0)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        import time
        time.sleep(self.pause)
        print("squaring", self.input)
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
    TeamFlow()
"""

READ_ANYWHERE = """
from headwater import Flow
run = Flow("TeamFlow").latest_run
print(run.pathspec, run.successful, run.data.total)
print(sorted(t.stdout for t in run["square"]))
"""


def test_a_run_is_recorded_by_the_service_and_read_from_anywhere(project, database, tmp_path):
    project.write(FOREACH)
    done = project.run("flow.py", "run", "--n", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Run TeamFlow/1 succeeded" in done.stdout
    local = project.path / ".headwater"
    assert not (local / "metadata.db").exists(), "the records are in the service, not here"
    ((datastore,),) = records(database, "SELECT datastore FROM runs WHERE flow = 'TeamFlow'")
    assert datastore == str(local), "the run says where its bytes are"
    assert records(database, "SELECT count(*) FROM tasks WHERE flow = 'TeamFlow' AND status = 'succeeded'") == [(8,)]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    read = project.run("-c", READ_ANYWHERE, cwd=elsewhere)
    assert read.returncode == 0, read.stderr
    assert read.stdout.splitlines() == [
        "TeamFlow/1 True 14", str(sorted(f"squaring {i}\n" for i in range(4)))]
    listing = project.run("-m", "headwater", "runs", "TeamFlow", cwd=elsewhere)
    assert listing.returncode == 0 and "TeamFlow/1" in listing.stdout and "succeeded" in listing.stdout
    shown = project.run("-m", "headwater", "show", "TeamFlow/1", cwd=elsewhere)
    assert shown.returncode == 0 and "square" in shown.stdout, shown.stderr

    logs = project.run("flow.py", "logs", "1/square")
    assert logs.returncode == 0 and "squaring 3" in logs.stdout, logs.stderr
    dump = project.run("flow.py", "dump", "1/end")
    assert dump.returncode == 0 and "total = 14" in dump.stdout, dump.stderr
    tagged = project.run("flow.py", "tag", "add", "--run-id", "1", "reviewed")
    assert tagged.returncode == 0, tagged.stderr
    assert records(database, "SELECT tag FROM tags WHERE run_number = 1 AND system = 0") == [("reviewed",)]

    ui = project.popen("-m", "headwater", "ui", "--port", "0", cwd=elsewhere)
    try:
        line = ui.stdout.readline() + ui.stdout.readline()
        assert "the metadata service at " + project.service.url in line, line
        address = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        status, page = get(f"{address}/TeamFlow/1")
        assert status == 200 and "square" in page, "`headwater ui` reads the service too"
    finally:
        ui.terminate()
        ui.wait(timeout=30)

    status, page = get(f"{project.service.url}/TeamFlow/1")
    assert status == 200 and "square" in page and "reviewed" in page, "the service serves the UI"
    ((end_task,),) = records(database, "SELECT task_id FROM tasks WHERE step = 'end'")
    status, page = get(f"{project.service.url}/TeamFlow/1/end/{end_task}")
    assert status == 200 and "total" in page and "14" in page


def test_a_wrong_token_stops_the_run_before_any_task(tmp_path, database):
    guarded = ServiceProcess(database, token="the-right-token").start()
    try:
        from .conftest import Project

        project = Project(tmp_path, guarded)
        project.write(FOREACH)
        done = project.run("flow.py", "run", HEADWATER_SERVICE_AUTH_KEY="a-wrong-token")
        assert done.returncode != 0
        assert guarded.url in done.stderr and "HEADWATER_SERVICE_AUTH_KEY" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and "squaring" not in done.stdout
        assert records(database, "SELECT count(*) FROM runs") == [(0,)]
    finally:
        guarded.stop()


def test_an_unreachable_service_stops_the_run_before_any_task(project):
    project.write(FOREACH)
    started = time.monotonic()
    done = project.run("flow.py", "run", HEADWATER_SERVICE_URL="http://127.0.0.1:9")
    assert done.returncode != 0
    assert "http://127.0.0.1:9" in done.stderr and "headwater service" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "squaring" not in done.stdout
    assert time.monotonic() - started < 30, "it fails fast instead of retrying for a minute"


def _tasks_recorded_once(database: str, run: int, expected: int) -> None:
    rows = records(database, "SELECT t.task_id, t.status, count(a.attempt) FROM tasks t JOIN attempts a"
                             " USING (flow, run_number, task_id) WHERE t.run_number = %s"
                             " GROUP BY t.task_id, t.status", (run,))
    assert len(rows) == expected, f"{len(rows)} tasks recorded, {expected} ran"
    assert {status for _, status, _ in rows} == {"succeeded"}
    assert {attempts for _, _, attempts in rows} == {1}, "no attempt recorded twice"


def test_two_wide_runs_at_once_get_their_own_numbers_and_every_task_once(project, database):
    project.write(FOREACH)
    procs = [project.popen("flow.py", "run", "--n", "300", "--max-num-splits", "300", "--quiet")
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, out + err
    assert records(database, "SELECT run_number, status FROM runs ORDER BY 1") == [(1, "succeeded"), (2, "succeeded")]
    for run in (1, 2):
        _tasks_recorded_once(database, run, 1 + 1 + 300 + 1 + 1)  # parameters, start, 300, join, end


def _run_through(project, database, disruption) -> None:
    """Start a run that takes a few seconds, disrupt it once tasks are being recorded, and
    check it still finishes with every task recorded exactly once."""
    project.write(FOREACH)
    proc = project.popen("flow.py", "run", "--n", "40", "--pause", "0.1", "--max-workers", "2")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = records(database, "SELECT count(*) FROM tasks WHERE step = 'square' AND status = 'succeeded'")
        if done[0][0] >= 4:
            break
        time.sleep(0.05)
    disruption()
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, out + err
    assert "Run TeamFlow/1 succeeded" in out
    assert records(database, "SELECT status FROM runs") == [("succeeded",)]
    _tasks_recorded_once(database, 1, 1 + 1 + 40 + 1 + 1)


def test_a_run_finishes_when_the_service_is_killed_and_restarted_mid_run(project, database):
    def kill_and_restart() -> None:
        project.service.kill()
        time.sleep(1.0)
        project.service.start()

    _run_through(project, database, kill_and_restart)


def test_a_run_finishes_when_postgresql_restarts_mid_run(project, database, pg_server):
    _run_through(project, database, pg_server.restart)
