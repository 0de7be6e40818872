"""The S3 datastore against a real S3 server (SeaweedFS on 127.0.0.1, see tests/conftest.py).

What a user relies on: values come back as they went in, whatever their size; identical
values are stored once; nothing half-written is ever visible; a damaged object is detected;
and a wrong bucket, endpoint or set of credentials is one clear line before any task runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid

import numpy as np
import pytest

from headwater.datastore import s3, s3client
from headwater.datastore.datastore import open_datastore
from headwater.exceptions import DatastoreError


@pytest.fixture
def ds(s3_server):
    return open_datastore(f"s3://{s3_server.bucket}/{uuid.uuid4().hex[:12]}")


def _objects(ds, under: str) -> list[str]:
    c = s3client.client()
    prefix = f"{ds.prefix}/{under}"
    found = c.list_objects_v2(Bucket=ds.bucket, Prefix=prefix).get("Contents", [])
    return [o["Key"] for o in found]


def test_small_and_large_values_come_back_equal(ds):
    small = {"a": [1, 2, 3], "b": "text"}
    big = np.random.default_rng(0).random(6_000_000)  # 48 MB: a multipart upload
    ref_small, ref_big = ds.blobs.save(small), ds.blobs.save(big)
    assert ds.blobs.load(ref_small.key, size=ref_small.size) == small
    back = ds.blobs.load(ref_big.key)
    assert back.dtype == big.dtype and np.array_equal(back, big)
    assert ds.blobs.size(ref_big.key) == ref_big.size > s3.SINGLE_PUT


def test_an_identical_value_is_stored_once(ds, monkeypatch):
    value = np.arange(3_000_000)
    first = ds.blobs.save(value)
    sent = []
    real = s3.put_parts
    monkeypatch.setattr(s3, "put_parts", lambda *a, **k: sent.append(a[1]) or real(*a, **k))
    second = ds.blobs.save(value.copy())
    assert second.key == first.key
    assert sent == [], "the bytes already stored were not sent again"
    assert len(_objects(ds, "blobs/")) == 1


def test_an_aborted_write_leaves_nothing_visible(ds):
    with pytest.raises(RuntimeError):
        with ds.blobs.bytes_writer() as w:
            w.write(b"x" * (3 << 20))
            raise RuntimeError("the step died mid-write")
    assert _objects(ds, "blobs/") == []


def test_a_failed_multipart_upload_leaves_no_object_and_no_pending_upload(ds, monkeypatch):
    c = s3client.client()
    real = c.upload_part
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs["PartNumber"])
        if kwargs["PartNumber"] == 2:
            raise OSError("the network went away")
        return real(**kwargs)

    monkeypatch.setattr(c, "upload_part", flaky)
    with pytest.raises(DatastoreError, match="S3 write of s3://"):
        ds.blobs.save(np.random.default_rng(1).random(5_000_000))  # 40 MB, incompressible
    assert 2 in calls
    assert _objects(ds, "blobs/") == []
    uploads = c.list_multipart_uploads(Bucket=ds.bucket, Prefix=ds.prefix).get("Uploads", [])
    assert uploads == [], "the unfinished upload was aborted"


def test_a_truncated_object_is_detected_on_load(ds):
    ref = ds.blobs.save(np.arange(1000))
    name = ds.blobs.storage.object_key(ref.key)
    c = s3client.client()
    whole = c.get_object(Bucket=ds.bucket, Key=name)["Body"].read()
    c.put_object(Bucket=ds.bucket, Key=name, Body=whole[: len(whole) // 2])
    with pytest.raises(DatastoreError, match="corrupted: it is truncated"):
        ds.blobs.load(ref.key)


def test_a_missing_object_names_its_url(ds):
    key = "ab" * 16
    with pytest.raises(DatastoreError, match=f"s3://{ds.bucket}/{ds.prefix}/blobs/ab/"):
        ds.blobs.load(key)


def test_logs_are_readable_while_they_grow_and_whole_after_close(ds):
    writer = ds.log_writer("F", 1, "s", 2, 0, "stdout")
    writer.write(1.0, "first")
    writer.flush()
    writer.upload()
    assert ds.read_log("F", 1, "s", 2, 0, "stdout") == [(1.0, "first")]
    writer.write(2.0, "second")
    writer.close()
    assert ds.read_log("F", 1, "s", 2, 0, "stdout") == [(1.0, "first"), (2.0, "second")]
    data, size = ds.read_log_bytes("F", 1, "s", 2, 0, "stdout", -7, 100)
    assert data == b"second\n" and size == len("1.000000 first\n2.000000 second\n")
    assert not ds.has_log("F", 1, "s", 2, 0, "stderr")


def test_cards_are_listed_and_read(ds):
    folder = ds.cards("F", 1, "s", 2, 0)
    folder.write(1, "blank", "b", "<p>one</p>", final=False)
    folder.write(0, "default", None, "<p>zero</p>", final=True)
    assert [(c.index, c.final) for c in folder.list()] == [(0, True), (1, False)]
    assert folder.read(folder.list()[1]) == "<p>one</p>"
    assert folder.has("0.html") and not folder.has("7.html")


# -- bad configuration: one line, before anything runs -----------------------------------------


@pytest.fixture
def fresh_clients():
    s3client._clients.clear()
    yield
    s3client._clients.clear()


def test_a_missing_bucket_is_named(s3_server, fresh_clients):
    with pytest.raises(DatastoreError) as err:
        open_datastore("s3://no-such-bucket-here/x").check()
    message = str(err.value)
    assert "'no-such-bucket-here' does not exist" in message and s3_server.endpoint in message


def test_wrong_credentials_are_named(s3_server, fresh_clients, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(DatastoreError) as err:
        open_datastore(f"s3://{s3_server.bucket}/wrong-creds").check()
    message = str(err.value)
    assert "access denied" in message and s3_server.endpoint in message and s3_server.bucket in message


def test_an_unreachable_endpoint_is_named(fresh_clients, monkeypatch):
    monkeypatch.setenv("HEADWATER_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(DatastoreError, match=r"at http://127.0.0.1:9 failed: the endpoint cannot be reached"):
        open_datastore("s3://any-bucket/x").check()


FLOW = """
from headwater import FlowSpec, step

class TinyFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        print("x is", self.x)

if __name__ == "__main__":
    TinyFlow()
"""


def _run(tmp_path, root: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "flow.py").write_text(textwrap.dedent(FLOW))
    full = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    full.update(HEADWATER_HOME=str(tmp_path / "records"), HEADWATER_USER="tester",
                HEADWATER_S3_ENDPOINT_URL=os.environ["HEADWATER_S3_ENDPOINT_URL"], **env)
    return subprocess.run([sys.executable, "flow.py", "--datastore-root", root, "run"], cwd=tmp_path,
                          env=full, capture_output=True, text=True, timeout=120)


def test_a_run_on_a_missing_bucket_stops_before_recording_anything(s3_server, tmp_path):
    done = _run(tmp_path, "s3://no-such-bucket-here/runs")
    assert done.returncode != 0
    assert "'no-such-bucket-here' does not exist" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "records" / "metadata.db").exists(), "no run was recorded"


def test_a_run_with_wrong_credentials_says_so_in_one_line(s3_server, tmp_path):
    done = _run(tmp_path, f"s3://{s3_server.bucket}/runs", AWS_SECRET_ACCESS_KEY="wrong")
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "access denied" in lines[0], done.stderr


def test_an_s3_run_keeps_only_records_locally(s3_server, tmp_path):
    root = f"s3://{s3_server.bucket}/{uuid.uuid4().hex[:12]}"
    done = _run(tmp_path, root)
    assert done.returncode == 0, done.stderr
    local = sorted(p.name for p in (tmp_path / "records").iterdir())
    assert [name for name in local if not name.startswith("metadata.db")] == [], local
    ds = open_datastore(root)
    assert _objects(ds, "blobs/") and _objects(ds, "logs/TinyFlow/1/end/")


# -- the server goes away mid-run ----------------------------------------------------------------

WAITING = """
import os, time
from headwater import FlowSpec, step

class OutageFlow(FlowSpec):
    @step
    def start(self):
        open("waiting", "w").close()
        while not os.path.exists("go"):
            time.sleep(0.05)
        self.payload = os.urandom(1000)
        self.next(self.end)

    @step
    def end(self):
        print("payload of", len(self.payload), "bytes")

if __name__ == "__main__":
    OutageFlow()
"""


def test_an_outage_mid_run_fails_the_attempt_with_the_reason_and_resume_finishes(tmp_path):
    import s3server

    data = tmp_path / "s3data"
    server = s3server.start(str(data))
    try:
        (tmp_path / "flow.py").write_text(textwrap.dedent(WAITING))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        env.update(server.env, HEADWATER_HOME=str(tmp_path / "records"), HEADWATER_USER="tester")
        command = [sys.executable, "flow.py", "--datastore-root", f"s3://{server.bucket}/runs"]
        proc = subprocess.Popen([*command, "run"], cwd=tmp_path, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (tmp_path / "waiting").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop()  # the network goes away while the step runs
        (tmp_path / "go").touch()
        out, _ = proc.communicate(timeout=180)  # bounded retries, then the attempt fails
        assert proc.returncode == 1, out
        assert f"S3 write of s3://{server.bucket}/runs/blobs/" in out and server.endpoint in out, out
        assert "the endpoint cannot be reached" in out, out
        server = s3server.start(str(data), ports=server.ports)  # it comes back
        resumed = subprocess.run([*command, "resume"], cwd=tmp_path, env=env, text=True,
                                 capture_output=True, timeout=180)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "payload of 1000 bytes" in resumed.stdout
    finally:
        server.stop()


def test_an_empty_blob_is_stored_and_the_connection_stays_usable(ds):
    key = ds.blobs.save_bytes(b"")
    assert ds.blobs.load_bytes(key) == b""
    ref = ds.blobs.save([1, 2, 3])  # the next request on the same client answers at once
    assert ds.blobs.load(ref.key, size=ref.size) == [1, 2, 3]
