"""Artifacts never come back wrong: damaged bytes are detected, named, and healed; a full disk
fails one task cleanly.

Real files, a real S3 server (SeaweedFS, tests/conftest.py) and real runs: a blob is damaged
by flipping a byte of the stored file or object (or cutting it short), then what a user sees
is checked: every load refuses it; a step reading it fails with one line naming the artifact,
the task, the path and the command that recovers; that command works and heals the copy. A
full disk is a small filesystem mounted for the test (tmpfs, and a loop-mounted ext4 image).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest
import xxhash
from harness import FlowDir, Mode, unavailable

from headwater.datastore import BlobStore, LocalStorage, s3client
from headwater.datastore.codepackage import read_package, save_package
from headwater.datastore.datastore import open_datastore
from headwater.exceptions import DamagedBlobError


def small_value() -> dict:
    return {"labels": list(range(1000)), "name": "small"}


def large_value() -> np.ndarray:
    return np.random.default_rng(3).random(300_000)  # 2.4 MB, incompressible: the streamed path


def flip(data: bytes, at: int = -3) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


def damage_file(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(flip(data) if how == "flip" else data[: len(data) - 7])


def equal(a, b) -> bool:
    return np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b


# -- the blob store, local ------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(LocalStorage(tmp_path / "ds"))


@pytest.mark.parametrize("make", [small_value, large_value], ids=["small", "large"])
@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_damaged_bytes_are_never_returned(store: BlobStore, make, how: str) -> None:
    ref = store.save(make())
    path = store.storage.path(ref.key)
    damage_file(path, how)
    for size in (None, ref.size):  # streamed, and read whole (a small one) with its size
        with pytest.raises(DamagedBlobError) as info:
            store.load(ref.key, size=size)
        assert ref.key in str(info.value) and str(path) in str(info.value)
        assert "Re-run the step that produced it" in str(info.value)


def test_a_flip_in_compressed_data_is_detected(store: BlobStore) -> None:
    value = np.tile(np.arange(1000.0), 2000)  # 16 MB that zstd shrinks a lot
    ref = store.save(value)
    assert ref.size < value.nbytes / 4, "stored compressed"
    path = store.storage.path(ref.key)
    data = path.read_bytes()
    path.write_bytes(flip(data, len(data) // 2))
    with pytest.raises(DamagedBlobError):
        store.load(ref.key)


@pytest.mark.parametrize("make", [small_value, large_value], ids=["small", "large"])
def test_storing_the_same_value_again_replaces_a_damaged_copy(store: BlobStore, make) -> None:
    ref = store.save(make())
    path = store.storage.path(ref.key)
    damage_file(path, "flip")
    with pytest.raises(DamagedBlobError):
        store.load(ref.key)
    again = store.save(make())  # a later run computes the same value
    assert again.key == ref.key
    assert xxhash.xxh3_128_hexdigest(path.read_bytes()) == ref.key
    assert equal(store.load(ref.key), make())
    assert not any((store.storage.root / "tmp").iterdir())


def test_a_cut_small_copy_is_replaced_and_a_whole_one_kept(store: BlobStore) -> None:
    ref = store.save(small_value())
    path = store.storage.path(ref.key)
    whole = path.stat().st_ino
    store.save(small_value())
    assert path.stat().st_ino == whole, "an intact copy is not rewritten"
    damage_file(path, "truncate")
    store.save(small_value())
    assert store.load(ref.key, size=ref.size) == small_value()


def test_a_damaged_byte_string_is_refused_and_healed_by_saving_it_again(store: BlobStore) -> None:
    for data in (b"a code package" * 100, os.urandom(3 << 20)):  # whole in memory, and streamed
        key = store.save_bytes(data)
        path = store.storage.path(key)
        damage_file(path, "flip")
        with pytest.raises(DamagedBlobError, match=re.escape(str(path))):
            store.load_bytes(key)
        assert store.save_bytes(data) == key
        assert store.load_bytes(key) == data


def test_a_damaged_code_package_is_built_and_stored_again(tmp_path: Path, store: BlobStore) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text("print('hello')\n")
    cache = str(tmp_path / "cache")
    key = save_package(flow, store, cache)
    damage_file(store.storage.path(key), "flip")
    assert save_package(flow, store, cache) == key  # the files did not change: same package
    assert read_package(store.load_bytes(key)) == {"flow.py": b"print('hello')\n"}


# -- the blob store on S3 --------------------------------------------------------------------------


@pytest.fixture
def s3ds(s3_server):
    return open_datastore(f"s3://{s3_server.bucket}/{uuid.uuid4().hex[:12]}")


def _get(ds, key: str) -> bytes:
    name = ds.blobs.storage.object_key(key)
    return s3client.client().get_object(Bucket=ds.bucket, Key=name)["Body"].read()


def _put(ds, key: str, data: bytes) -> None:
    name = ds.blobs.storage.object_key(key)
    s3client.client().put_object(Bucket=ds.bucket, Key=name, Body=data)


S3_VALUES = {
    "tiny": lambda: {"a": 1},  # up to 64 KiB: always PUT
    "small": lambda: list(range(30_000)),  # 64 KiB - 1 MiB: read back and compared
    "large": large_value,  # above 1 MiB: one PUT, kept when its size matches
    "multipart": lambda: np.random.default_rng(4).random(2_500_000),  # 20 MB: parts, parallel GETs
}


@pytest.mark.parametrize("kind", list(S3_VALUES))
@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_s3_damaged_objects_are_detected_and_healed(s3ds, kind: str, how: str) -> None:
    make = S3_VALUES[kind]
    ref = s3ds.blobs.save(make())
    whole = _get(s3ds, ref.key)
    _put(s3ds, ref.key, flip(whole, len(whole) - 5) if how == "flip" else whole[:-7])
    for size in (None, ref.size):
        with pytest.raises(DamagedBlobError) as info:
            s3ds.blobs.load(ref.key, size=size)
        assert s3ds.blobs.storage.location(ref.key) in str(info.value)
    assert s3ds.blobs.save(make()).key == ref.key  # the next run stores the same value
    assert _get(s3ds, ref.key) == whole
    assert equal(s3ds.blobs.load(ref.key), make())


def test_s3_prefetched_blobs_are_checked_too(s3ds) -> None:
    refs = [s3ds.blobs.save({"n": i}) for i in range(3)]
    _put(s3ds, refs[1].key, flip(_get(s3ds, refs[1].key)))
    s3ds.blobs.prefetch((r.key, r.size) for r in refs)
    assert refs[1].key in s3ds.blobs._prefetched, "read ahead, as a step's first access does"
    assert s3ds.blobs.load(refs[0].key, size=refs[0].size) == {"n": 0}
    with pytest.raises(DamagedBlobError):
        s3ds.blobs.load(refs[1].key, size=refs[1].size)


def test_s3_an_intact_large_object_is_not_sent_again(s3ds, monkeypatch) -> None:
    from headwater.datastore import s3

    ref = s3ds.blobs.save(large_value())
    sent = []
    real = s3.put_parts
    monkeypatch.setattr(s3, "put_parts", lambda *a, **k: sent.append(a[1]) or real(*a, **k))
    assert s3ds.blobs.save(large_value()).key == ref.key
    assert sent == []


# -- runs: what a user sees -------------------------------------------------------------------------

DAMAGE = """
import numpy as np

class DamageFlow(FlowSpec):
    @step
    def start(self):
        self.small = {"labels": list(range(1000))}
        self.big = np.random.default_rng(3).random(300_000)
        self.next(self.middle)

    @step
    def middle(self):
        self.note = "passed through"
        self.next(self.end)

    @step
    def end(self):
        print("sums", sum(self.small["labels"]), round(float(self.big.sum()), 3))

if __name__ == "__main__":
    DamageFlow()
"""

JOIN = """
class JoinDamageFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.val = "from a " * 100
        self.next(self.join)

    @step
    def b(self):
        self.val = "from b " * 100
        self.next(self.join)

    @step
    def join(self, inputs):
        self.vals = sorted(i.val[:6] for i in inputs)
        print("joined", self.vals)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    JoinDamageFlow()
"""

EXPECTED_SUMS = f"sums 499500 {round(float(large_value().sum()), 3)}"


def _blob(fd: FlowDir, flow: str, run: int, step: str, name: str) -> tuple[str, str]:
    """The key of an artifact and where its bytes are (a path or an s3:// URL)."""
    with fd.client() as hw:
        task = hw.Run(f"{flow}/{run}")[step].task
        key = task[name].sha
        url = hw.Run(f"{flow}/{run}")._stores.datastore_for(flow, run).url
    return key, open_datastore(url).blobs.storage.location(key)


def _damage(location: str, how: str = "flip") -> None:
    if location.startswith("s3://"):
        bucket, _, name = location[5:].partition("/")
        c = s3client.client()
        data = c.get_object(Bucket=bucket, Key=name)["Body"].read()
        c.put_object(Bucket=bucket, Key=name, Body=flip(data) if how == "flip" else data[:-7])
    else:
        damage_file(Path(location), how)


def _intact(location: str, key: str) -> bool:
    if location.startswith("s3://"):
        bucket, _, name = location[5:].partition("/")
        data = s3client.client().get_object(Bucket=bucket, Key=name)["Body"].read()
    else:
        data = Path(location).read_bytes()
    return xxhash.xxh3_128_hexdigest(data) == key


def _suggested(output: str) -> list[str]:
    found = re.findall(r"`python flow\.py (resume [^`]+)`", output)
    assert found, output
    return found[0].split()


@pytest.fixture(params=["local", "s3"])
def run_mode(request):
    if request.param == "s3":
        return Mode("s3", request.getfixturevalue("s3_server"))
    return None


@pytest.mark.parametrize(("name", "how"), [("small", "flip"), ("big", "flip"), ("small", "truncate")])
def test_a_step_reading_a_damaged_artifact_fails_naming_it_and_the_fix_heals_it(
        tmp_path: Path, run_mode, name: str, how: str) -> None:
    fd = FlowDir(tmp_path, run_mode)
    fd.write(DAMAGE)
    assert fd.run().returncode == 0
    key, location = _blob(fd, "DamageFlow", 1, "start", name)
    _damage(location, how)

    failed = fd.resume("end")  # a step after the one that made it reads it
    assert failed.returncode == 1, failed
    lines = [line for line in failed.output.splitlines() if "cannot be read" in line and "[2/end/" in line]
    assert len(lines) == 1, failed
    line = lines[0]
    assert f"the artifact self.{name} of task DamageFlow/2/middle/" in line  # the task it came from
    assert location in line and "damaged" in line
    assert "Re-run the step that produced it, start" in line
    assert "Traceback" not in failed.output and "sums" not in failed.output

    with fd.client() as hw:  # the client refuses the damaged value too, with the same advice
        with pytest.raises(DamagedBlobError) as info:
            hw.Run("DamageFlow/1")["start"].task[name].data
        message = str(info.value)
        assert f"'{name}' of task DamageFlow/1/start/" in message and location in message
        assert "`python flow.py resume --origin-run-id 1 start`" in message

    command = _suggested(failed.output)
    assert command == ["resume", "--origin-run-id", "2", "start"]
    healed = fd.cli(*command)  # what the message says to run
    assert healed.returncode == 0, healed
    assert EXPECTED_SUMS in healed.stdout
    assert _intact(location, key), "storing the same value replaced the damaged copy"
    again = fd.resume("--origin-run-id", "2", "end")  # the run that failed reads them now
    assert again.returncode == 0 and EXPECTED_SUMS in again.stdout, again


def test_a_join_reading_a_damaged_input_names_the_branch_and_the_fix_heals_it(tmp_path: Path) -> None:
    fd = FlowDir(tmp_path)
    fd.write(JOIN)
    assert fd.run().returncode == 0
    key, location = _blob(fd, "JoinDamageFlow", 1, "b", "val")
    _damage(location)
    failed = fd.resume("join")
    assert failed.returncode == 1, failed
    assert re.search(r"the artifact self\.val of task JoinDamageFlow/2/b/\d+ cannot be read", failed.output), failed
    assert location in failed.output
    command = _suggested(failed.output)
    assert command == ["resume", "--origin-run-id", "2", "b"]
    healed = fd.cli(*command)
    assert healed.returncode == 0, healed
    assert "joined ['from a', 'from b']" in healed.stdout
    assert _intact(location, key)


PARAM = """
class ParamDamageFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        print("alpha is", self.alpha)

if __name__ == "__main__":
    ParamDamageFlow()
"""


def test_a_damaged_parameter_says_to_start_a_new_run_which_heals_it(tmp_path: Path) -> None:
    fd = FlowDir(tmp_path)
    fd.write(PARAM)
    assert fd.run().returncode == 0
    ((key,),) = fd.query("SELECT key FROM artifacts WHERE task_id = 0 AND name = 'alpha'")
    location = str(fd.home / "blobs" / key[:2] / key[2:])
    _damage(location)
    failed = fd.resume("end")
    assert failed.returncode == 1, failed
    assert "the artifact self.alpha of task ParamDamageFlow/2/_parameters/0 cannot be read" in failed.output
    assert location in failed.output and "start a new run" in failed.output
    fresh = fd.run()
    assert fresh.returncode == 0 and "alpha is 0.5" in fresh.stdout, fresh
    assert _intact(location, key)
    assert "alpha is 0.5" in fd.resume("--origin-run-id", "2", "end").stdout


# -- a full disk ----------------------------------------------------------------------------------

FILL = """
import os
import numpy as np

class FullDiskFlow(FlowSpec):
    @step
    def start(self):
        self.tag = "kept"
        self.payload = np.random.default_rng(5).random(int(os.environ["N"]))
        self.next(self.end)

    @step
    def end(self):
        print("payload", self.payload.shape[0], round(float(self.payload.sum()), 3))

if __name__ == "__main__":
    FullDiskFlow()
"""


@contextlib.contextmanager
def small_disk(where: Path, mib: int, kind: str):
    """A filesystem of ``mib`` MiB mounted at ``where`` for the test: ``tmpfs``, or ``ext4`` (a
    loop-mounted image); skipped, saying why, where it cannot be mounted (not root, a
    container that forbids mount)."""
    where.mkdir(parents=True, exist_ok=True)
    image = Path(tempfile.mkdtemp()) / "disk.img"
    try:
        if kind == "tmpfs":
            command = ["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(where)]
        else:
            with open(image, "wb") as f:
                f.truncate(mib << 20)
            subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True, capture_output=True)
            command = ["mount", "-o", "loop", str(image), str(where)]
        done = subprocess.run(command, capture_output=True, text=True)
        problem = done.stderr.strip() if done.returncode else None
    except (OSError, subprocess.CalledProcessError) as exc:  # no mount command, no mkfs.ext4
        problem = str(exc)
    if problem is not None:
        shutil.rmtree(image.parent, ignore_errors=True)
        unavailable(f"a full disk needs a small {kind} filesystem, which could not be mounted here "
                    f"({problem})", "run the tests as root on Linux, where mount is allowed")
    try:
        yield where
    finally:
        # The client of this process may still hold the records open: detach lazily then.
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)
        shutil.rmtree(image.parent, ignore_errors=True)


def _fill(disk: Path, leave: int) -> Path:
    """Take the disk's free space but ``leave`` bytes, as other files would."""
    st = os.statvfs(disk)
    filler = disk / "filler"
    with open(filler, "wb") as f:
        f.truncate(0)
        chunk = b"\0" * (1 << 20)
        todo = st.f_bavail * st.f_frsize - leave
        while todo > 0:
            f.write(chunk[: min(todo, len(chunk))])
            todo -= len(chunk)
    return filler


@pytest.mark.parametrize("kind", ["tmpfs", "ext4"])
@pytest.mark.parametrize("n", [2_000_000, 100_000], ids=["streamed-16MB", "in-memory-800KB"])
def test_a_full_disk_fails_the_task_in_one_line_and_the_next_run_succeeds(
        tmp_path: Path, n: int, kind: str) -> None:
    fd = FlowDir(tmp_path)
    fd.write(FILL)
    with small_disk(fd.home, 48, kind) as disk:
        filler = _fill(disk, leave=n * 8 // 2)  # room for the records and half the array
        failed = fd.run(N=str(n))
        assert failed.returncode == 1, failed
        lines = [line for line in failed.output.splitlines() if "No space left on device" in line]
        assert lines, failed
        line = next(line for line in lines if line.startswith("[1/start/"))
        assert "self.payload (a numpy.ndarray) could not be written to " + str(disk) in line, line
        assert "Nothing half-written was kept" in line
        assert len([ln for ln in failed.output.splitlines() if ln.startswith("[1/start/")]) == 1, failed
        assert "Traceback" not in failed.output and "headwater/" not in failed.output.replace(str(disk), "")
        with fd.client() as hw:  # what the run recorded: the same sentence, none of our frames
            recorded = hw.Task(f"FullDiskFlow/1/start/{line.split('/')[2].split(']')[0]}").exception
            assert "self.payload" in str(recorded) and str(disk) in str(recorded)
            assert 'File "' not in recorded.traceback, recorded.traceback
        # nothing half-written: no temporary left, every stored blob whole
        assert not list((disk / "tmp").iterdir())
        for blob in (disk / "blobs").rglob("*"):
            if blob.is_file():
                key = blob.parent.name + blob.name
                assert xxhash.xxh3_128_hexdigest(blob.read_bytes()) == key, blob
        filler.unlink()  # space freed
        resumed = fd.resume(N=str(n))
        assert resumed.returncode == 0, resumed
        total = round(float(np.random.default_rng(5).random(n).sum()), 3)
        assert f"payload {n} {total}" in resumed.stdout
        again = fd.run(N=str(n))  # and a fresh run on the same disk
        assert again.returncode == 0, again


PRINTS = """
import os

class LogFullFlow(FlowSpec):
    @step
    def start(self):
        filler = os.path.join(os.environ["HEADWATER_HOME"], "filler")
        with open(filler, "wb") as f:  # something else fills the disk while the step prints
            try:
                while True:
                    f.write(bytes(1 << 20))
                    f.flush()
            except OSError:
                pass
        for i in range(2000):
            print("line", i, "x" * 100)
        os.unlink(filler)
        self.next(self.end)

    @step
    def end(self):
        print("end ran")

if __name__ == "__main__":
    LogFullFlow()
"""


def test_a_disk_full_while_a_step_prints_loses_log_lines_not_the_run(tmp_path: Path) -> None:
    fd = FlowDir(tmp_path)
    fd.write(PRINTS)
    with small_disk(fd.home, 16, "tmpfs"):
        done = fd.run(timeout=60)
        assert done.returncode == 0, done
        assert "end ran" in done.stdout and "[1/start/1] line 1999" in done.stdout
        warned = [line for line in done.stderr.splitlines() if "lines are missing from the log" in line]
        assert len(warned) == 1 and "No space left on device" in warned[0], done.stderr
