"""BlobStore on LocalStorage: content addressing, dedupe, atomic writes, errors, concurrency."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from headwater.datastore import BlobRef, BlobStore, LocalStorage, SerializationError
from headwater.datastore import serialize as ser
from headwater.exceptions import DatastoreError


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(LocalStorage(tmp_path / "ds"))


def blob_files(store: BlobStore) -> list[Path]:
    root = store.storage.root  # type: ignore[attr-defined]
    return sorted(p for p in (root / "blobs").rglob("*") if p.is_file())


def temp_files(store: BlobStore) -> list[Path]:
    tmp = store.storage.root / "tmp"  # type: ignore[attr-defined]
    return sorted(tmp.iterdir()) if tmp.exists() else []


def big_value() -> dict:
    """Large enough for the streaming path, with compressible and incompressible parts."""
    return {
        "smooth": np.tile(np.arange(1000.0), 1500),  # 12 MB, compresses well
        "noise": np.random.default_rng(0).random(600_000),  # 4.8 MB, stored raw
    }


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (None, "builtins.NoneType"),
        (7, "builtins.int"),
        ("ünïcode", "builtins.str"),
        ({"a": [1, {2, 3}]}, "builtins.dict"),
        (np.arange(5), "numpy.ndarray"),
    ],
)
def test_save_returns_ref_and_load_roundtrips(
    store: BlobStore, value: object, type_name: str
) -> None:
    ref = store.save(value)
    assert isinstance(ref, BlobRef) and ref.type == type_name
    assert ref.size == store.size(ref.key) == store.storage.path(ref.key).stat().st_size
    for out in (store.load(ref.key), store.load(ref.key, verify=True)):
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(out, value)
        else:
            assert out == value


def test_layout_is_prefix_directory_and_key_is_xxh3_128(store: BlobStore) -> None:
    key = store.save_bytes(b"hello")
    assert len(key) == 32
    assert store.storage.path(key) == store.storage.root / "blobs" / key[:2] / key[2:]


def test_same_value_is_stored_once(store: BlobStore) -> None:
    a = store.save({"x": [1, 2, 3]})
    b = store.save({"x": [1, 2, 3]})
    assert a == b
    big1, big2 = store.save(big_value()), store.save(big_value())
    assert big1 == big2
    assert len(blob_files(store)) == 2
    assert temp_files(store) == []


def test_different_values_get_different_keys(store: BlobStore) -> None:
    keys = {store.save(v).key for v in [1, 2, "1", 1.0, [1], (1,), {1}]}
    assert len(keys) == 7


def test_large_array_roundtrip(store: BlobStore) -> None:
    array = np.random.default_rng(1).random(25_000_000)  # 200 MB
    ref = store.save(array)
    assert ref.type == "numpy.ndarray"
    assert array.nbytes < ref.size < array.nbytes * 1.001  # random floats: stored raw
    out = store.load(ref.key)
    assert out.flags.writeable
    np.testing.assert_array_equal(out, array)


def test_compressible_and_incompressible_sizes_on_disk(store: BlobStore) -> None:
    zeros = np.zeros(5_000_000)
    assert store.save(zeros).size < zeros.nbytes / 100
    noise = os.urandom(8 << 20)
    assert len(noise) < store.save(noise).size < len(noise) * 1.001
    key = store.save_bytes(noise)
    assert store.size(key) == len(noise)  # save_bytes stores bytes as is


def test_save_bytes_and_streamed_bytes(store: BlobStore) -> None:
    key = store.save_bytes(b"log line\n" * 100)
    assert store.exists(key) and store.load_bytes(key) == b"log line\n" * 100
    with store.bytes_writer() as w:
        for _ in range(100):
            w.write(b"log line\n")
        streamed = w.commit()
    assert streamed == key and len(blob_files(store)) == 1
    assert not store.exists("0" * 32)


def test_unpicklable_raises_and_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(SerializationError):
        store.save({"fn": lambda: 1})
    with pytest.raises(SerializationError):
        store.save([np.zeros(1_000_000), threading.Lock()])
    assert blob_files(store) == [] and temp_files(store) == []


def test_failure_while_streaming_leaves_no_temporary(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(chunk: memoryview) -> tuple:
        raise OSError("disk full")

    monkeypatch.setattr(ser, "_compress_chunk", fail)
    with pytest.raises(OSError, match="disk full"):
        store.save(np.zeros(3_000_000))
    with pytest.raises(RuntimeError):
        with store.storage.new_blob() as w:
            w.write(b"partial")
            raise RuntimeError("boom")
    with store.storage.new_blob() as w:
        w.write(b"never committed")
    assert blob_files(store) == [] and temp_files(store) == []


def test_missing_blob_names_key_and_path(store: BlobStore) -> None:
    key = "ab" * 16
    for call in (store.load, store.load_bytes, store.size):
        with pytest.raises(DatastoreError) as info:
            call(key)
        assert key in str(info.value) and str(store.storage.path(key)) in str(info.value)
        assert "not found" in str(info.value)


def test_invalid_key_is_rejected(store: BlobStore) -> None:
    with pytest.raises(DatastoreError, match="Invalid blob key"):
        store.load("../../etc/passwd")


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("with_size", [False, True], ids=["streamed", "read-whole"])
def test_truncated_blob_names_key_and_path(store: BlobStore, big: bool, with_size: bool) -> None:
    ref = store.save(big_value() if big else {"a": list(range(100))})
    path = store.storage.path(ref.key)
    with open(path, "r+b") as f:
        f.truncate(ref.size // 2)
    with pytest.raises(DatastoreError) as info:
        store.load(ref.key, size=ref.size if with_size else None)
    message = str(info.value)
    assert ref.key in message and str(path) in message and "corrupted" in message


def test_loading_with_the_size_gives_the_same_values(store: BlobStore) -> None:
    values = [0, "text", {"a": [1, 2]}]
    for value in values:
        ref = store.save(value)
        assert store.load(ref.key, size=ref.size) == value
    big = big_value()
    ref = store.save(big)
    loaded = store.load(ref.key, size=ref.size)  # above SMALL: streamed as without a size
    for name, array in big.items():
        np.testing.assert_array_equal(loaded[name], array)
    with pytest.raises(DatastoreError, match="not found|does not exist|missing|no blob"):
        store.load("ab" * 16, size=10)


def test_garbage_blob_is_corrupted(store: BlobStore) -> None:
    ref = store.save([1, 2, 3])
    store.storage.path(ref.key).write_bytes(b"not a blob at all")
    with pytest.raises(DatastoreError, match=f"{ref.key}.*corrupted"):
        store.load(ref.key)


def test_a_bit_flip_in_raw_data_is_detected_on_every_load(store: BlobStore) -> None:
    array = np.random.default_rng(2).random(500_000)
    ref = store.save(array)
    path = store.storage.path(ref.key)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # inside the raw buffer: the format alone cannot notice
    path.write_bytes(bytes(data))
    assert not np.array_equal(store.load(ref.key, verify=False), array)  # what it used to return
    for size in (None, ref.size):  # streamed, and read whole
        with pytest.raises(DatastoreError, match="does not match its key"):
            store.load(ref.key, size=size)


def test_remove_stale_temporaries(store: BlobStore) -> None:
    storage = store.storage
    assert storage.remove_stale_temporaries() == 0  # no tmp directory yet
    (storage.root / "tmp").mkdir(parents=True)
    stale = storage.root / "tmp" / "123-dead-0.tmp"
    stale.write_bytes(b"left by a crash")
    os.utime(stale, (0, 0))
    fresh = storage.root / "tmp" / "456-live-0.tmp"
    fresh.write_bytes(b"being written")
    assert storage.remove_stale_temporaries(older_than=3600) == 1
    assert temp_files(store) == [fresh]


def _save_many(root: str, barrier: object, queue: object) -> None:
    store = BlobStore(LocalStorage(root))
    barrier.wait()  # type: ignore[attr-defined]  # start together to maximize the race on the same keys
    keys = set()
    for i in range(20):
        keys.add(store.save({"small": i % 3}).key)
    keys.add(store.save(big_value()).key)
    keys.add(store.save_bytes(b"same bytes"))
    queue.put(sorted(keys))  # type: ignore[attr-defined]


def test_concurrent_writers_of_the_same_values(tmp_path: Path) -> None:
    root = str(tmp_path / "ds")
    store = BlobStore(LocalStorage(root))
    store.save(np.tile(np.arange(10.0), 1_000_000))  # start the compression pool before forking
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_save_many, args=(root, barrier, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert all(r == results[0] for r in results)
    assert len(results[0]) == 5  # 3 small values, the big one, the bytes
    assert len(blob_files(store)) == 6  # plus the parent's array
    assert temp_files(store) == []
    loaded = store.load(store.save(big_value()).key, verify=True)
    np.testing.assert_array_equal(loaded["noise"], big_value()["noise"])
    assert store.load(store.save({"small": 2}).key) == {"small": 2}
