"""The code package each run records: right after every edit, even when its archive is reused.

A run reuses the previous run's archive when none of its files changed (size, mtime, ctime,
inode); these tests change files in the ways that could fool such a check.
"""

from __future__ import annotations

import json
import os

import pytest

FLOW = """
from helper import GREETING


class CodeFlow(FlowSpec):
    @step
    def start(self):
        self.greeting = GREETING
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CodeFlow()
"""


def code_of(fd, run: int):
    with fd.client() as hw:
        code = hw.Run(f"CodeFlow/{run}").code
        return code.key, code.files


def write_project(fd, greeting: str = "hello") -> None:
    fd.write(FLOW)
    fd.write(f"GREETING = {greeting!r}\n", "helper.py", header=False)


def test_unchanged_code_gives_the_same_package(fd):
    write_project(fd)
    assert fd.run().returncode == 0
    assert fd.run().returncode == 0
    (key1, files1), (key2, files2) = code_of(fd, 1), code_of(fd, 2)
    assert key1 == key2 and files1 == files2
    assert sorted(files1) == ["flow.py", "helper.py"]
    assert files1["helper.py"] == b"GREETING = 'hello'\n"


def test_an_edit_that_keeps_size_and_mtime_is_still_packaged(fd):
    write_project(fd)
    assert fd.run().returncode == 0
    helper = fd.path / "helper.py"
    before = helper.stat()
    helper.write_text("GREETING = 'howdy'\n", encoding="utf-8")  # same length
    os.utime(helper, ns=(before.st_atime_ns, before.st_mtime_ns))  # as rsync -t or tar would
    assert helper.stat().st_size == before.st_size
    assert helper.stat().st_mtime_ns == before.st_mtime_ns
    done = fd.run()
    assert done.returncode == 0, done
    assert fd.value("CodeFlow", 2, "start", "greeting") == "howdy"
    key1, _ = code_of(fd, 1)
    key2, files2 = code_of(fd, 2)
    assert key2 != key1
    assert files2["helper.py"] == b"GREETING = 'howdy'\n"


@pytest.mark.local_only
def test_a_broken_cache_or_a_missing_blob_only_costs_a_rebuild(fd):
    write_project(fd)
    assert fd.run().returncode == 0
    key1, _ = code_of(fd, 1)
    cache = fd.home / "cache" / "codepackages.json"
    assert cache.exists()
    cache.write_text("{not json", encoding="utf-8")
    assert fd.run().returncode == 0
    assert code_of(fd, 2)[0] == key1
    entries = json.loads(cache.read_text(encoding="utf-8"))
    for entry in entries.values():  # valid JSON, nonsense key: rebuilt, not an error
        entry["key"] = "../../etc/passwd"
    cache.write_text(json.dumps(entries), encoding="utf-8")
    done = fd.run()
    assert done.returncode == 0, done
    assert code_of(fd, 3)[0] == key1

    blob = next(p for p in (fd.home / "blobs").rglob("*") if p.is_file() and p.name == key1[2:])
    blob.unlink()
    done = fd.run()
    assert done.returncode == 0, done
    key3, files3 = code_of(fd, 4)
    assert key3 == key1 and files3["helper.py"] == b"GREETING = 'hello'\n"
