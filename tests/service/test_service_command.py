"""`headwater service` itself: its schema, who it answers, and the requests it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid

from .conftest import ServiceProcess, get, records


def post(url: str, payload: object, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "headwater", "service", *args],
                          capture_output=True, text=True, timeout=60)


def test_it_creates_its_schema_once_and_starts_again_on_it(database):
    first = ServiceProcess(database).start()
    try:
        assert "(schema created)" in first.output
        assert "HEADWATER_SERVICE_URL=" + first.url in first.output, "it says how to point runs at it"
        status, health = post(first.url + "/api/v1/health", {})
        assert status == 200 and health["status"] == "ok" and health["schema"] >= 1
    finally:
        first.stop()
    again = ServiceProcess(database).start()
    again.stop()
    assert "(schema created)" not in again.output
    assert records(database, "SELECT version FROM schema_version") == [(health["schema"],)]


def test_two_services_starting_at_once_on_one_new_database_both_serve(database):
    one, two = ServiceProcess(database), ServiceProcess(database)
    procs = [subprocess.Popen(s.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for s in (one, two)]
    try:
        for proc in procs:
            line = ""
            while "API and UI at" not in line:
                line = proc.stdout.readline()
                assert line, "a service stopped before serving: " + (proc.stdout.read() or "")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    assert records(database, "SELECT count(*) FROM schema_version") == [(1,)]


def test_another_interface_without_a_token_is_refused():
    done = command("--database", "postgresql://u@127.0.0.1:1/db", "--host", "0.0.0.0")
    assert done.returncode != 0
    assert "needs a token" in done.stderr and "--token" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_wrong_or_unreachable_database_is_one_line_without_its_password(pg_server):
    done = command("--database", "mysql://u@h/db")
    assert done.returncode != 0 and "is not a PostgreSQL URL" in done.stderr
    done = command("--database", f"postgresql://postgres:hunter2@127.0.0.1:{pg_server.port}/no_such_db")
    assert done.returncode != 0
    assert "cannot connect to the database" in done.stderr and "no_such_db" in done.stderr
    assert "hunter2" not in done.stderr, "the password is never shown"
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_api_needs_the_token_when_started_with_one(database):
    service = ServiceProcess(database, token="s3cret-token").start()
    try:
        status, answer = post(service.url + "/api/v1/read", {"method": "flow_names"})
        assert status == 401 and "no token" in answer["error"]
        status, answer = post(service.url + "/api/v1/read", {"method": "flow_names"}, token="wrong-token")
        assert status == 401 and "wrong token" in answer["error"]
        status, answer = post(service.url + "/api/v1/read", {"method": "flow_names"}, token="s3cret-token")
        assert (status, answer) == (200, {"result": []})
        status, page = get(service.url + "/")
        assert status == 401, "the UI asks for the token too"
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(service.url + "/?token=s3cret-token", timeout=30) as response:  # noqa: S310
            assert response.status == 200 and "Headwater" in response.read().decode()
    finally:
        service.stop()


def test_bad_requests_are_refused_with_what_was_wrong(service):
    url = service.url + "/api/v1"
    assert post(url + "/read", b"not json")[0] == 400
    status, answer = post(url + "/read", {"method": "drop_everything"})
    assert status == 400 and "no read called 'drop_everything'" in answer["error"]
    status, answer = post(url + "/write", {"id": "x", "groups": []})
    assert status == 400 and "needs an id" in answer["error"]
    status, answer = post(url + "/write", {"id": uuid.uuid4().hex, "groups": [[{"m": "close", "k": {}}]]})
    assert status == 400 and "no write called 'close'" in answer["error"]
    status, answer = post(url + "/write", {"id": uuid.uuid4().hex, "groups": [[
        {"m": "finish_run", "k": {"flow": "F", "run": 1, "status": "exploded"}}]]})
    assert status == 400 and "exploded" in answer["error"]


def test_a_write_request_sent_twice_is_applied_once(service, database):
    url = service.url + "/api/v1/write"
    new_run = {"m": "new_run", "at": 1.0e9, "k": {"flow": "F", "user": "ana", "tags": ["t"],
                                                   "system_tags": [], "host": "laptop", "pid": 7}}
    request = {"id": uuid.uuid4().hex, "groups": [[new_run]]}
    assert post(url, request) == (200, {"results": [1]})
    assert post(url, request) == (200, {"results": [1]}), "the retry gets the first answer"
    assert records(database, "SELECT run_number, host, pid, created_at FROM runs") == [(1, "laptop", 7, 1.0e9)], \
        "one run, recorded with the client's host, pid and time"
    assert post(url, {"id": uuid.uuid4().hex, "groups": [[new_run]]}) == (200, {"results": [2]})
