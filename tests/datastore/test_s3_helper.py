"""``from headwater import S3``, the helper Metaflow users know, against a real S3 server
(SeaweedFS on 127.0.0.1, see tests/conftest.py).

What a user relies on: what is put comes back equal, small or large, one or many at a time;
keys are where the docs say (under the root, under the run); listings read like ``ls`` with
keys relative to what was asked; a missing key, bad credentials or a bad key are one clear
sentence; and the local files ``.path`` wrote are gone when the ``with`` block ends.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import pytest

from headwater import S3
from headwater.datastore import s3 as s3store
from headwater.datastore import s3client
from headwater.exceptions import DatastoreError
from headwater.s3 import MetaflowS3NotFound, S3AccessDenied, S3InvalidObject, S3NotFound, S3URLError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness import FlowDir, Mode  # noqa: E402

BIG = 20 << 20  # over SINGLE_PUT and FIRST_READ: a multipart upload, parallel ranged reads


@pytest.fixture
def root(s3_server) -> str:
    """A fresh prefix of the test bucket."""
    return f"s3://{s3_server.bucket}/{uuid.uuid4().hex[:12]}"


def _keys_in(root: str) -> list[str]:
    """Every object under ``root``, read with boto3 directly (not through the helper)."""
    bucket, prefix = s3client.parse_url(root)
    found = s3client.client().list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])
    return sorted(o["Key"][len(prefix) + 1:] for o in found)


def _raw(url: str) -> bytes:
    bucket, name = s3client.parse_url(url)
    return s3client.client().get_object(Bucket=bucket, Key=name)["Body"].read()


# -- the happy path -----------------------------------------------------------------------------


def test_put_and_get_one_object(root):
    with S3(s3root=root) as s3:
        url = s3.put("greeting.txt", "héllo")
        assert url == f"{root}/greeting.txt"
        assert _raw(url) == "héllo".encode(), "a str is stored as UTF-8"
        assert s3.put("raw.bin", b"\x00\x01\x02") == f"{root}/raw.bin"
        obj = s3.get("greeting.txt")
        assert (obj.blob, obj.text) == ("héllo".encode(), "héllo")
        assert (obj.url, obj.key, obj.size) == (url, "greeting.txt", len("héllo".encode()))
        assert obj.exists and obj.downloaded
        assert s3.get("raw.bin").blob == b"\x00\x01\x02"
        # A full URL inside the root works too, and its key is still relative to the root.
        assert s3.get(f"{root}/raw.bin").key == "raw.bin"
        started = time.monotonic()
        s3.put("empty", b"")
        s3.put("dir with space/naïve #1.txt", b"odd name")
        assert time.monotonic() - started < 30, "an empty object does not stall the next request"
        empty, odd = s3.get_many(["empty", "dir with space/naïve #1.txt"])
        assert (empty.exists, empty.size, empty.blob) == (True, 0, b"")
        assert odd.blob == b"odd name" and odd.url == f"{root}/dir with space/naïve #1.txt"


def test_overwrite_false_keeps_the_existing_object(root):
    with S3(s3root=root) as s3:
        s3.put("k", b"first")
        assert s3.put("k", b"second", overwrite=False) == f"{root}/k"
        assert s3.get("k").blob == b"first"
        s3.put("k", b"third")
        assert s3.get("k").blob == b"third", "overwrite=True (the default) replaces it"
        stored = s3.put_many([("k", b"fourth"), ("new", b"n")], overwrite=False)
        assert stored == [("new", f"{root}/new")], "only what was stored is reported"
        assert s3.get("k").blob == b"third"


def test_many_objects_in_one_call_come_back_in_order(root):
    pairs = [(f"part/{i:03d}", os.urandom(100 + i)) for i in range(60)]
    with S3(s3root=root) as s3:
        stored = s3.put_many(pairs)
        assert stored == [(k, f"{root}/{k}") for k, _ in pairs]
        keys = [k for k, _ in reversed(pairs)]
        got = s3.get_many(keys)
        assert [o.key for o in got] == keys
        assert [o.blob for o in got] == [v for _, v in reversed(pairs)]
        infos = s3.info_many(keys[:5])
        assert [i.size for i in infos] == [len(v) for _, v in list(reversed(pairs))[:5]]
        assert not any(i.downloaded for i in infos), "info does not download"


def test_a_large_object_and_large_file_come_back_equal(root, tmp_path):
    big = os.urandom(BIG) + b"tail"
    path = tmp_path / "big.bin"
    path.write_bytes(big[::-1])
    small_file = tmp_path / "small.csv"
    small_file.write_text("a,b\n1,2\n")
    (tmp_path / "empty").write_bytes(b"")
    with S3(s3root=root) as s3:
        s3.put("big", big)
        stored = s3.put_files([("file.bin", str(path)), ("small.csv", small_file)])
        assert stored == [("file.bin", f"{root}/file.bin"), ("small.csv", f"{root}/small.csv")]
        obj, from_file, csv = s3.get_many(["big", "file.bin", "small.csv"])
        assert obj.size == len(big) and obj.blob == big
        assert from_file.blob == big[::-1]
        assert csv.text == "a,b\n1,2\n"
        s3.put_files([("empty", str(tmp_path / "empty"))])
        assert s3.get("empty").blob == b""
        with open(obj.path, "rb") as f:
            assert f.read() == big


def test_a_large_put_is_a_multipart_upload_from_the_buffer(root, monkeypatch):
    calls = []
    real = s3store.put_parts
    monkeypatch.setattr(s3store, "put_parts",
                        lambda b, n, chunks: calls.append([c.nbytes for c in chunks]) or real(b, n, chunks))
    data = bytearray(os.urandom(BIG))
    with S3(s3root=root) as s3:
        s3.put("big", data)
        assert s3.get("big").blob == data
    assert calls == [[BIG]], "one buffer handed over whole, not copied into pieces first"


LAYOUT = ["a/0.txt", "a/b/1.txt", "a/c/2.txt", "a/d/e/3.txt", "f/4.txt"]


def test_listing_is_one_level_like_ls_with_keys_relative_to_the_prefix(root):
    with S3(s3root=root) as s3:
        s3.put_many([(k, k.encode()) for k in LAYOUT])
        listed = s3.list_paths(["a", "f"])
        assert [(o.key, o.exists) for o in listed] == [
            ("0.txt", True), ("b", False), ("c", False), ("d", False), ("4.txt", True)]
        assert listed[0].url == f"{root}/a/0.txt" and listed[0].size == len(b"a/0.txt")
        assert listed[1].url == f"{root}/a/b/" and listed[1].size is None
        assert [(o.key, o.exists) for o in s3.list_paths()] == [("a", False), ("f", False)]
        assert [o.key for o in s3.list_paths(["a/d"])] == ["e"]
        assert s3.list_paths(["nothing-here"]) == []


def test_recursive_listing_and_download(root):
    with S3(s3root=root) as s3:
        s3.put_many([(k, k.encode()) for k in LAYOUT])
        assert [o.key for o in s3.list_recursive(["a"])] == ["0.txt", "b/1.txt", "c/2.txt", "d/e/3.txt"]
        assert all(o.exists and not o.downloaded for o in s3.list_recursive())
        got = s3.get_recursive(["a/d", "f"])
        assert [(o.key, o.blob) for o in got] == [("e/3.txt", b"a/d/e/3.txt"), ("4.txt", b"f/4.txt")]
        every = s3.get_all()
        assert sorted((o.key, o.blob) for o in every) == sorted((k, k.encode()) for k in LAYOUT)


def test_info_without_downloading(root):
    before = time.time()
    with S3(s3root=root) as s3:
        s3.put("data.json", b'{"x": 1}')
        info = s3.info("data.json")
        assert info.exists and info.size == 8 and not info.downloaded
        assert info.blob is None and info.path is None
        assert info.content_type  # whatever the server defaults to, it is reported
        assert before - 5 < info.last_modified < time.time() + 5


def test_without_a_root_full_urls_work(root):
    with S3() as s3:
        url = s3.put(f"{root}/anywhere/x", b"1")
        assert url == f"{root}/anywhere/x"
        obj = s3.get(url)
        assert obj.blob == b"1" and obj.key == url, "without a root the key is the URL"
        assert [o.key for o in s3.list_paths([f"{root}/anywhere"])] == ["x"]


# -- failures -----------------------------------------------------------------------------------


def test_a_missing_key_is_a_clear_error_or_a_missing_object(root):
    with S3(s3root=root) as s3:
        s3.put("here", b"yes")
        with pytest.raises(S3NotFound) as caught:
            s3.get("not-here")
        message = str(caught.value)
        assert f"{root}/not-here" in message and "return_missing=True" in message
        assert isinstance(caught.value, MetaflowS3NotFound) and isinstance(caught.value, DatastoreError)
        with pytest.raises(S3NotFound, match="not-here"):
            s3.get_many(["here", "not-here"])
        with pytest.raises(S3NotFound, match="not-here"):
            s3.info("not-here")
        missing = s3.get("not-here", return_missing=True)
        assert not missing.exists and not missing.downloaded
        assert (missing.blob, missing.text, missing.path, missing.size) == (None, None, None, None)
        assert missing.url == f"{root}/not-here"
        here, gone = s3.get_many(["here", "not-here"], return_missing=True)
        assert here.blob == b"yes" and not gone.exists
        assert not s3.info("not-here", return_missing=True).exists


@pytest.fixture
def fresh_clients(monkeypatch):
    """Clients made from this test's environment, and the session's put back afterwards."""
    monkeypatch.setattr(s3client, "_clients", {})
    monkeypatch.setattr(s3client, "_unused", {})


def test_wrong_credentials_are_one_line_naming_the_endpoint(root, s3_server, fresh_clients, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with S3(s3root=root) as s3:
        for attempt in (lambda: s3.put("k", b"v"), lambda: s3.get("k"),
                        lambda: s3.list_paths(), lambda: s3.put_many([("a", b"1"), ("b", b"2")])):
            with pytest.raises(S3AccessDenied) as caught:
                attempt()
            message = str(caught.value)
            assert "\n" not in message and s3_server.endpoint in message
            assert "access denied" in message and "AWS_SECRET_ACCESS_KEY" in message


def test_an_unreachable_endpoint_is_one_line(root, fresh_clients, monkeypatch):
    monkeypatch.setenv("HEADWATER_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setattr(s3client, "ATTEMPTS", 2)  # the same failure, sooner
    with S3(s3root=root) as s3, pytest.raises(DatastoreError) as caught:
        s3.get("k")
    message = str(caught.value)
    assert "\n" not in message and "http://127.0.0.1:9" in message
    assert "cannot be reached" in message and f"{root}/k" in message


def test_bad_keys_and_objects_are_named_and_nothing_is_sent(root, s3_server):
    with S3(s3root=root) as s3:
        with pytest.raises(S3URLError, match=r"'\.\./secret'.*'\.\.'"):
            s3.get("../secret")
        with pytest.raises(ValueError, match=r"a/\.\./b"):
            s3.put("a/../b", b"x")
        outside = f"s3://{s3_server.bucket}/elsewhere/k"
        with pytest.raises(S3URLError, match=f"{outside} is outside the root of this S3, {root}"):
            s3.get(outside)
        with pytest.raises(S3URLError, match="outside the root"):
            s3.put(f"{root}-sibling/k", b"x")  # same leading characters, another folder
        with pytest.raises(S3InvalidObject, match=r"'config' is a dict.*serialize it first"):
            s3.put("config", {"a": 1})
        with pytest.raises(TypeError, match="is a int"):
            s3.put_many([("ok", b"fine"), ("number", 42)])
        with pytest.raises(S3NotFound, match="no-such-file.csv"):
            s3.put_files([("ok", __file__), ("f", "/no/such/dir/no-such-file.csv")])
        with pytest.raises(TypeError, match=r"list of keys.*list_paths\(\['a'\]\)"):
            s3.list_paths("a")
        with pytest.raises(S3URLError, match="names a folder"):
            s3.put("dir/", b"x")
        assert _keys_in(root) == [], "a bad item in a batch stops the whole batch before sending"
    with S3() as s3, pytest.raises(S3URLError, match=r"'data\.csv' is not an s3:// URL.*S3\(run=self\)"):
        s3.get("data.csv")
    with pytest.raises(S3URLError, match="s3://bucket/prefix"):
        S3(s3root="/local/folder")
    with pytest.raises(S3URLError, match="go with run="):
        S3(bucket="b")
    with pytest.raises(TypeError, match="does not support role"):
        S3(s3root=root, role="arn:aws:iam::1:role/x")


def test_local_files_are_removed_when_the_block_ends(root, tmp_path):
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        s3.put_many([("a.csv", b"1,2"), ("b", b"bee")])
        a, b = s3.get_many(["a.csv", "b"])
        assert list(tmp_path.iterdir()) == [], "no file is written until .path is asked for"
        path = a.path
        assert path == a.path, "one file per object"
        assert path.endswith(".csv") and Path(path).read_bytes() == b"1,2"
        assert Path(b.path).read_bytes() == b"bee"
        assert Path(path).parent.parent == tmp_path
    assert not Path(path).exists() and list(tmp_path.iterdir()) == []
    assert a.blob == b"1,2", "the bytes stay usable after the block"
    with pytest.raises(DatastoreError, match=r"\.path files exist only until the S3 closes"):
        a.path
    s3 = S3(s3root=root, tmproot=str(tmp_path))
    path = s3.get("b").path
    s3.close()
    assert not Path(path).exists(), "close() does the same as the end of the block"


# -- inside a flow ------------------------------------------------------------------------------

FLOW = """
from headwater import S3


class S3HelperFlow(FlowSpec):
    @step
    def start(self):
        with S3(run=self) as s3:
            self.url = s3.put("x", b"written by start")
            s3.put("models/m1.bin", b"model one")
        with S3(run=self, prefix="elsewhere") as s3:
            self.custom = s3.put("y", "custom prefix")
        self.next(self.end)

    @step
    def end(self):
        with S3(run=self) as s3:
            print("end read", s3.get("x").text)
            print("end listed", [o.key for o in s3.list_paths()])
            self.models = [o.key for o in s3.get_recursive(["models"])]


if __name__ == "__main__":
    S3HelperFlow()
"""


def test_s3_run_self_keeps_data_under_the_run(s3_server, tmp_path):
    fd = FlowDir(tmp_path, Mode("s3", s3_server))
    fd.write(FLOW)
    done = fd.run()
    assert done.returncode == 0, done
    run_id = done.run_id("S3HelperFlow")
    assert "end read written by start" in done.stdout
    assert "end listed ['models', 'x']" in done.stdout
    sysroot = fd.mode_env["HEADWATER_DATASTORE_SYSROOT_S3"]
    with fd.client() as hw:
        run = hw.Run(f"S3HelperFlow/{run_id}")
        assert run.data.url == f"{sysroot}/data/S3HelperFlow/{run_id}/x"
        assert run.data.custom == f"s3://{s3_server.bucket}/elsewhere/S3HelperFlow/{run_id}/y"
        assert run.data.models == ["m1.bin"]
        assert _raw(run.data.url) == b"written by start"
        # From a notebook: the same place through the client's Run.
        with S3(run=run) as s3:
            assert s3.s3root == f"{sysroot}/data/S3HelperFlow/{run_id}"
            assert s3.get("x").blob == b"written by start"


LOCAL_FLOW = """
from headwater import S3


class LocalS3Flow(FlowSpec):
    @step
    def start(self):
        with S3(run=self) as s3:
            s3.put("x", b"1")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LocalS3Flow()
"""


def test_s3_run_self_on_a_local_datastore_says_how_to_fix_it(tmp_path):
    fd = FlowDir(tmp_path)
    fd.write(LOCAL_FLOW)
    done = fd.run()
    assert done.returncode != 0
    assert "not in S3: run the flow with --datastore s3" in done.output
    assert "S3(s3root='s3://bucket/prefix')" in done.output
    assert "Traceback" not in done.output, "one sentence, not a traceback of Headwater's code"
