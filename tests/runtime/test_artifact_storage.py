"""Artifacts on disk: identical values stored once, a large array round trip, unpicklable values."""

from __future__ import annotations

import shutil

import pytest

DEDUPE = """
import numpy as np

def payload():
    return np.random.default_rng(7).random(1_000_000)  # 8 MB, identical in both tasks

class DedupeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.big = payload()
        self.small = {"same": "small value", "n": [1, 2, 3]}
        self.next(self.join)

    @step
    def b(self):
        self.big = payload()
        self.small = {"same": "small value", "n": [1, 2, 3]}
        self.next(self.join)

    @step
    def join(self, inputs):
        self.ok = all(np.array_equal(i.big, payload()) for i in inputs)
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    DedupeFlow()
"""

LARGE = """
import numpy as np

N = 300_000_000 // 8  # 300 MB of float64

class LargeFlow(FlowSpec):
    @step
    def start(self):
        self.big = np.random.default_rng(42).random(N)
        self.next(self.end)

    @step
    def end(self):
        self.shape = self.big.shape
        self.dtype = str(self.big.dtype)
        self.equal = bool(np.array_equal(self.big, np.random.default_rng(42).random(N)))
        del self.big  # keep the end task's own artifacts small

if __name__ == "__main__":
    LargeFlow()
"""

UNPICKLABLE = """
import threading

class UnpicklableFlow(FlowSpec):
    @step
    def start(self):
        self.fine = [1, 2, 3]
        self.guard = threading.Lock()
        self.next(self.end)

    @step
    def end(self):
        print("end ran")

if __name__ == "__main__":
    UnpicklableFlow()
"""

MB = 1 << 20


def blob_files(fd):
    return [p for p in (fd.home / "blobs").rglob("*") if p.is_file()]


@pytest.mark.local_only
def test_the_same_large_value_in_two_tasks_is_stored_once(fd):
    fd.write(DEDUPE)
    done = fd.run()
    assert done.returncode == 0, done
    assert fd.value("DedupeFlow", 1, "join", "ok") is True
    keys = fd.query(
        "SELECT DISTINCT a.key FROM artifacts a JOIN tasks t USING (flow, run_number, task_id)"
        " WHERE a.name = 'big' AND t.step IN ('a', 'b')")
    assert len(keys) == 1, "identical values get identical keys"
    big_blobs = [p for p in blob_files(fd) if p.stat().st_size > 4 * MB]
    assert len(big_blobs) == 1, big_blobs
    total = sum(p.stat().st_size for p in blob_files(fd))
    assert total < 12 * MB, f"blobs take {total / MB:.1f} MB for one 8 MB value"
    small_keys = fd.query(
        "SELECT DISTINCT a.key FROM artifacts a WHERE a.flow = 'DedupeFlow' AND a.name = 'small'")
    assert len(small_keys) == 1
    assert fd.value("DedupeFlow", 1, "end", "small") == {"same": "small value", "n": [1, 2, 3]}


def test_a_300_mb_array_is_stored_and_read_back_in_the_next_step(fd):
    fd.write(LARGE)
    try:
        done = fd.run()
        assert done.returncode == 0, done
        assert fd.value("LargeFlow", 1, "end", "equal") is True
        assert fd.value("LargeFlow", 1, "end", "shape") == (300_000_000 // 8,)
        assert fd.value("LargeFlow", 1, "end", "dtype") == "float64"
        (size,) = fd.query("SELECT size FROM artifacts WHERE flow = 'LargeFlow' AND name = 'big'"
                           " AND task_id = (SELECT task_id FROM tasks WHERE step = 'start')")[0]
        assert size >= 300_000_000, "random doubles do not compress: the bytes are all there"
        assert not list((fd.home / "tmp").glob("*")), "no temporary blob is left behind"
    finally:
        shutil.rmtree(fd.home, ignore_errors=True)  # 300 MB: do not keep it around


def test_an_unpicklable_artifact_fails_the_step_naming_the_artifact(fd):
    fd.write(UNPICKLABLE)
    done = fd.run()
    assert done.returncode != 0
    assert "self.guard" in done.output
    assert "self.fine" not in done.output
    assert fd.runs("UnpicklableFlow") == [(1, "failed")]
    exc = fd.exception("UnpicklableFlow", 1, "start")
    assert "guard" in exc["message"]
    assert "end ran" not in done.output
    assert fd.tasks("UnpicklableFlow", 1, "end") == []


@pytest.mark.parametrize("value", ["lambda: 1", "(i for i in range(3))"])
def test_other_unpicklable_values_are_named_too(fd, value):
    fd.write(UNPICKLABLE.replace("threading.Lock()", value))
    done = fd.run()
    assert done.returncode != 0
    assert "self.guard" in done.output
    assert fd.runs("UnpicklableFlow") == [(1, "failed")]


COMPRESSED_FOREACH = """
import sys

class WideFlow(FlowSpec):
    @step
    def start(self):
        # Long, repetitive strings: the list is stored compressed.
        self.items = [f"s3://bucket/a/long/common/prefix/shared/by/every/file/of/the/dataset/part-{i:05d}.parquet"
                      for i in range(1000)]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.preloaded = "zstandard" in sys.modules  # before this task reads anything
        self.fname = self.input.rsplit("/", 1)[1]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.names = [i.fname for i in inputs]
        self.preloaded = [i.preloaded for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    WideFlow()
"""


@pytest.mark.fork_only
def test_tasks_of_a_foreach_over_a_compressed_list_share_one_decompressor_import(fd):
    """The fork template imports zstandard once, before forking the tasks that need it."""
    fd.write(COMPRESSED_FOREACH)
    done = fd.run("--max-num-splits", "1000", "--max-workers", "4")
    assert done.returncode == 0, done
    (items_size,) = fd.query("SELECT size FROM artifacts WHERE flow = 'WideFlow' AND name = 'items'")[0]
    assert items_size < 1000 * 80 / 5, "the list was stored compressed"
    names = fd.value("WideFlow", 1, "join", "names")
    assert names[0] == "part-00000.parquet" and names[-1] == "part-00999.parquet"
    assert all(fd.value("WideFlow", 1, "join", "preloaded"))


READ_AND_REPLACE = """
class ScalarFlow(FlowSpec):
    @step
    def start(self):
        self.n, self.text, self.blob, self.same, self.flag = 41, "abc", b"xyz", "kept", None
        self.next(self.middle)

    @step
    def middle(self):
        # Read every one; replace some, with new objects or equal ones.
        self.seen = (self.n, self.text, self.blob, self.same, self.flag)
        self.n = self.n + 1
        self.text = self.text.upper()
        self.blob = self.blob + b"!"
        self.flag = True
        self.next(self.end)

    @step
    def end(self):
        self.final = (self.n, self.text, self.blob, self.same, self.flag)

if __name__ == "__main__":
    ScalarFlow()
"""


def test_scalars_a_step_reads_and_replaces_are_stored_as_replaced(fd):
    fd.write(READ_AND_REPLACE)
    done = fd.run()
    assert done.returncode == 0, done
    assert fd.value("ScalarFlow", 1, "middle", "seen") == (41, "abc", b"xyz", "kept", None)
    assert fd.value("ScalarFlow", 1, "end", "final") == (42, "ABC", b"xyz!", "kept", True)
    same = fd.query("SELECT DISTINCT key FROM artifacts WHERE flow = 'ScalarFlow' AND name = 'same'")
    assert len(same) == 1, "an unchanged value keeps its blob"
