"""The blob format: roundtrips, codec choices, determinism, and corruption detection."""

from __future__ import annotations

import datetime
import decimal
import fractions
import io
import os
import struct
import threading
from dataclasses import dataclass, field

import numpy as np
import pytest
from harness import need_module

from headwater.datastore import serialize as ser
from headwater.datastore.serialize import SerializationError, loads, serialize
from headwater.exceptions import DatastoreError


@dataclass
class Point:
    x: float
    y: float
    tags: list[str] = field(default_factory=list)


def roundtrip(obj: object) -> object:
    return loads(serialize(obj).to_bytes())


def sections(blob: bytes) -> list[tuple[int, int]]:
    """(codec, raw_len) per section, read from the header."""
    count = struct.unpack_from("<I", blob, 12)[0]
    return [struct.unpack_from("<BQ", blob, 16 + 9 * i) for i in range(count)]


PLAIN_VALUES = [
    None,
    True,
    0,
    -(2**100),
    3.25,
    complex(1, -2),
    "",
    "héllo wörld ✓ 日本語 🎉",
    "x" * 5000,
    b"\x00\xff" * 10,
    bytearray(b"abc"),
    (1, "two", 3.0),
    [1, [2, [3, [4]]]],
    {"a": {"b": {"c": [1, 2, {"d": None}]}}, 1: "int key", (1, 2): "tuple key"},
    {1, 2, 3},
    frozenset({"a", "b"}),
    decimal.Decimal("1.10"),
    fractions.Fraction(1, 3),
    datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    Point(1.0, 2.0, ["p"]),
    [Point(float(i), 0.0) for i in range(500)],  # below MIN_COMPRESS: one raw section
    list(range(100_000)),
]


@pytest.mark.parametrize("value", PLAIN_VALUES, ids=lambda v: type(v).__name__)
def test_roundtrip_plain_values(value: object) -> None:
    out = roundtrip(value)
    assert out == value
    assert type(out) is type(value)


def test_roundtrip_keeps_shared_and_recursive_references() -> None:
    shared = [1, 2]
    loop: list[object] = [shared, shared]
    loop.append(loop)
    out = roundtrip(loop)
    assert out[0] is out[1] and out[2] is out


ARRAYS = {
    "float64": np.linspace(0, 1, 1000),
    "float32-big": np.random.default_rng(0).random(300_000, dtype=np.float32),
    "int8": np.arange(-100, 100, dtype=np.int8),
    "uint64-big": np.arange(200_000, dtype=np.uint64),
    "bool": np.array([True, False, True]),
    "complex128": np.array([1 + 2j, 3 - 4j]),
    "datetime64": np.array(["2025-01-01", "2026-06-30"], dtype="datetime64[D]"),
    "unicode": np.array(["a", "βγ", "日本"]),
    "structured": np.array([(1, 2.0), (3, 4.0)], dtype=[("a", "i4"), ("b", "f8")]),
    "object": np.array([1, "two", None], dtype=object),
    "0-d": np.array(42.5),
    "empty": np.zeros((0, 3)),
    "2-d-big": np.random.default_rng(1).random((600, 500)),
    "fortran-big": np.asfortranarray(np.random.default_rng(2).random((500, 400))),
    "strided-big": np.arange(400_000, dtype=np.float64)[::3],
    "transposed-slice": np.random.default_rng(3).random((300, 400))[:, 10:200].T,
}


@pytest.mark.parametrize("name", list(ARRAYS))
def test_roundtrip_numpy_arrays(name: str) -> None:
    array = ARRAYS[name]
    out = roundtrip(array)
    assert isinstance(out, np.ndarray)
    assert out.dtype == array.dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)
    if out.size:
        assert out.flags.writeable  # users may mutate loaded artifacts, as with the originals


def test_roundtrip_numpy_scalars_and_containers_of_arrays() -> None:
    value = {"w": np.random.default_rng(4).random((100_000,)), "b": np.float32(1.5), "n": 3}
    out = roundtrip(value)
    np.testing.assert_array_equal(out["w"], value["w"])
    assert out["b"] == value["b"] and type(out["b"]) is np.float32


def test_roundtrip_pandas() -> None:
    pd = need_module("pandas")
    df = pd.DataFrame(
        {
            "x": np.arange(200_000),
            "y": np.random.default_rng(5).random(200_000),
            "s": ["a", "b"] * 100_000,
            "c": pd.Categorical(["u", "v"] * 100_000),
        },
        index=pd.date_range("2025-01-01", periods=200_000, freq="s"),
    )
    pd.testing.assert_frame_equal(roundtrip(df), df)
    series = pd.Series([1.5, None, 3.0], name="s")
    pd.testing.assert_series_equal(roundtrip(series), series)


def test_large_buffers_are_out_of_band_and_small_ones_in_band() -> None:
    big = np.random.default_rng(6).random(100_000)  # 800 KB: own section
    small = np.arange(10)  # 80 bytes: stays in the pickle stream
    blob = serialize([big, small]).to_bytes()
    assert [raw for _, raw in sections(blob)][1:] == [big.nbytes]


def test_same_value_gives_same_bytes_and_streaming_matches_in_memory() -> None:
    value = {"a": np.tile(np.arange(1000.0), 3000), "b": list(range(1000))}
    first = serialize(value).to_bytes()
    out = io.BytesIO()
    written = serialize(value).write_to(out)
    assert out.getvalue() == first and written == len(first)


def test_compressible_data_is_compressed() -> None:
    value = np.tile(np.arange(1000, dtype=np.int64), 2000)  # 16 MB, several chunks
    blob = serialize(value).to_bytes()
    assert sections(blob)[1] == (ser.ZSTD, value.nbytes)
    assert len(blob) < value.nbytes / 10
    np.testing.assert_array_equal(loads(blob), value)


def test_incompressible_data_is_stored_raw() -> None:
    noise = os.urandom(3 * ser.CHUNK)  # in-band bytes: pickle section larger than a chunk
    blob = serialize(noise).to_bytes()
    assert sections(blob)[0][0] == ser.RAW
    assert len(noise) < len(blob) < len(noise) * 1.001
    array = np.random.default_rng(7).random(1_000_000)
    blob = serialize(array).to_bytes()
    assert sections(blob)[1] == (ser.RAW, array.nbytes)
    assert len(blob) < array.nbytes * 1.001


def test_mixed_buffer_keeps_incompressible_chunks_raw() -> None:
    chunk_items = ser.CHUNK // 8
    value = np.concatenate(
        [np.zeros(2 * chunk_items), np.random.default_rng(8).random(2 * chunk_items)]
    )
    blob = serialize(value).to_bytes()
    assert sections(blob)[1][0] == ser.ZSTD
    assert value.nbytes / 2 < len(blob) < value.nbytes / 2 * 1.01  # random half stored raw
    np.testing.assert_array_equal(loads(blob), value)


def test_small_pickles_are_not_compressed() -> None:
    blob = serialize({"a": 1}).to_bytes()
    assert sections(blob) == [(ser.RAW, len(blob) - 16 - 9)]


def test_compression_starts_at_min_compress() -> None:
    # Very compressible either way: only the size decides (reading zstd costs an import).
    below = serialize("ab" * (ser.MIN_COMPRESS // 4)).to_bytes()
    above = serialize("ab" * ser.MIN_COMPRESS).to_bytes()
    assert sections(below)[0][0] == ser.RAW
    assert sections(above)[0][0] == ser.ZSTD
    assert not ser.is_compressed(io.BytesIO(below))
    assert ser.is_compressed(io.BytesIO(above))
    assert loads(above) == "ab" * ser.MIN_COMPRESS


def test_is_compressed_of_buffers_and_of_garbage() -> None:
    array = np.tile(np.arange(100, dtype=np.int64), 10_000)  # out-of-band, compressible
    assert ser.is_compressed(io.BytesIO(serialize(array).to_bytes()))
    noise = np.random.default_rng(3).random(100_000)  # out-of-band, incompressible
    assert not ser.is_compressed(io.BytesIO(serialize(noise).to_bytes()))
    assert not ser.is_compressed(io.BytesIO(b"not a blob at all, just some bytes"))
    assert not ser.is_compressed(io.BytesIO(b""))


@pytest.mark.parametrize("value", [lambda x: x, threading.Lock(), [1, {"k": threading.Lock()}]])
def test_unpicklable_raises_serialization_error(value: object) -> None:
    with pytest.raises(SerializationError) as info:
        serialize(value)
    assert info.value.original is info.value.__cause__
    assert str(info.value) == str(info.value.original)


def test_serialization_error_from_reduce_keeps_original() -> None:
    class Broken:
        def __reduce__(self) -> tuple:
            raise ValueError("no way")

    with pytest.raises(SerializationError) as info:
        serialize(Broken())
    assert isinstance(info.value.original, ValueError)


# -- corruption --------------------------------------------------------------------------------

BLOB_SMALL = serialize({"k": list(range(50))}).to_bytes()
BLOB_BIG = serialize([np.tile(np.arange(1000.0), 1200), np.random.default_rng(9).random(20000)])


def load_bytes(data: bytes) -> object:
    return loads(data, name="Blob abc (/x/abc)")


def test_every_truncation_of_a_small_blob_is_reported() -> None:
    for cut in range(len(BLOB_SMALL)):
        with pytest.raises(DatastoreError, match=r"Blob abc \(/x/abc\) is corrupted"):
            load_bytes(BLOB_SMALL[:cut])


def test_truncations_of_a_chunked_blob_are_reported() -> None:
    blob = BLOB_BIG.to_bytes()
    for cut in [0, 10, 40, 60, len(blob) // 3, len(blob) // 2, len(blob) - 1]:
        with pytest.raises(DatastoreError, match="corrupted"):
            load_bytes(blob[:cut])


def test_bad_magic_trailing_bytes_and_bad_codec_are_reported() -> None:
    with pytest.raises(DatastoreError, match="magic"):
        load_bytes(b"PK\x03\x04" + BLOB_SMALL[4:])
    with pytest.raises(DatastoreError, match="after its last section"):
        load_bytes(BLOB_SMALL + b"\x00")
    bad_codec = BLOB_SMALL[:16] + b"\x07" + BLOB_SMALL[17:]
    with pytest.raises(DatastoreError, match="unknown codec"):
        load_bytes(bad_codec)


@pytest.mark.parametrize("codec", [ser.RAW, ser.ZSTD])
def test_huge_section_claim_is_rejected_before_allocating(codec: int) -> None:
    lying = BLOB_SMALL[:16] + struct.pack("<BQ", codec, 1 << 50) + BLOB_SMALL[25:]
    with pytest.raises(DatastoreError, match="truncated"):
        load_bytes(lying)


def test_damaged_compressed_chunk_is_reported() -> None:
    blob = bytearray(BLOB_BIG.to_bytes())
    assert sections(bytes(blob))[1][0] == ser.ZSTD
    start = 16 + 9 * 3 + sections(bytes(blob))[0][1] + 4  # first chunk of the first buffer
    blob[start : start + 8] = b"\xff" * 8  # the zstd frame header
    with pytest.raises(DatastoreError, match="corrupted"):
        load_bytes(bytes(blob))


def test_newer_format_version_asks_for_upgrade() -> None:
    newer = BLOB_SMALL[:4] + bytes([ser.VERSION + 1]) + BLOB_SMALL[5:]
    with pytest.raises(DatastoreError, match="Upgrade Headwater"):
        load_bytes(newer)
