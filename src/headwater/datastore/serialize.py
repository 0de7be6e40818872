"""Artifact serialization: pickle protocol 5, out-of-band buffers, zstd only where it pays.

Blob format, version 1 (little-endian)::

    header   magic b"HWBL" | version u8 | flags u8 (0) | reserved u16 (0)
             | chunk_size u32 | n_sections u32                                 16 bytes
    table    n_sections x (codec u8 | raw_len u64)                             9 bytes each
    data     the sections, back to back, in table order; then end of file

Section 0 is the pickle stream; sections 1..n-1 are the out-of-band buffers in the order the
pickler produced them (large NumPy/pandas/Arrow buffers, written from their own memory).
Codec 0 (raw): ``raw_len`` bytes. Codec 1 (zstd): ceil(raw_len / chunk_size) chunks, each a
u32 word then its bytes; the word's low 31 bits are the stored length, bit 31 set means the
chunk is stored raw, otherwise it is one zstd frame of min(chunk_size, remaining) bytes.
Chunks keep memory bounded and let large buffers compress on several threads.

The same value always gives the same bytes (decisions are deterministic), so content hashes
dedupe. Sets of strings are the exception: their order depends on the hash seed.
"""

from __future__ import annotations

import io
import mmap
import os
import pickle
import struct
import threading
from collections import deque
from types import SimpleNamespace

from headwater.exceptions import DamagedBlobError, DatastoreError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:  # imported lazily: a client reading small raw blobs needs neither
    from concurrent.futures import ThreadPoolExecutor
    from typing import IO, Any

    import zstandard

MAGIC = b"HWBL"
VERSION = 1
RAW, ZSTD = 0, 1
CHUNK = 4 << 20  # compression unit: large enough for a good ratio, small enough to pipeline
INBAND_MAX = 64 << 10  # smaller buffers stay inside the pickle stream (one section, one codec)
# Below this, compressing saves a few KiB at most, while every process that writes or reads a
# compressed blob must first import zstandard (~20 ms): a cost each task of a foreach would pay.
MIN_COMPRESS = 64 << 10
MAX_RATIO = 0.9  # keep compressed bytes only if they save at least 10%
SAMPLE, SAMPLES = 64 << 10, 4  # a large buffer is judged by 4 slices of 64 KiB
LEVEL = 1  # ~1 GB/s; higher levels gain little on numeric data and cost a lot
MMAP_MIN = 1 << 20  # load buffers at least this big into anonymous mmaps (see _alloc)

_HEAD = struct.Struct("<4sBBHII")
_SECTION = struct.Struct("<BQ")
_WORD = struct.Struct("<I")
_RAW_CHUNK = 1 << 31
_local = threading.local()
_pool: tuple[int, ThreadPoolExecutor] | None = None
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # Linux only
_ANON = getattr(mmap, "MAP_ANONYMOUS", 0) | getattr(mmap, "MAP_PRIVATE", 0)  # 0 on Windows
_WORKERS = max(1, min(4, os.cpu_count() or 1))


class SerializationError(Exception):
    """The object could not be pickled; ``original`` is the pickler's exception."""

    def __init__(self, original: BaseException) -> None:
        self.original = original
        super().__init__(str(original) or type(original).__name__)


class Payload:
    """An object pickled and planned (codec per section), ready to be written once."""

    def __init__(self, sections: list[_Section]) -> None:
        self.sections = sections
        self.nbytes = sum(s.raw_len for s in sections)  # uncompressed size

    def write_to(self, out: Any) -> int:
        """Write the blob to ``out``; return the number of bytes written."""
        table = [_SECTION.pack(s.codec, s.raw_len) for s in self.sections]
        header = b"".join([_HEAD.pack(MAGIC, VERSION, 0, 0, CHUNK, len(self.sections)), *table])
        out.write(header)
        return len(header) + sum(s.write_to(out) for s in self.sections)

    def to_bytes(self) -> bytes:
        """The whole blob in memory (for small objects)."""
        parts: list[Any] = []
        self.write_to(SimpleNamespace(write=parts.append))  # pieces are copied once, by join
        return b"".join(parts)


class _Section:
    __slots__ = ("codec", "raw_len", "view", "encoded")

    def __init__(self, codec: int, view: memoryview, encoded: list[bytes] | None = None) -> None:
        self.codec, self.view, self.encoded = codec, view, encoded
        self.raw_len = view.nbytes

    def write_to(self, out: Any) -> int:
        if self.encoded is not None:  # compressed up front (fits one chunk)
            for part in self.encoded:
                out.write(part)
            return sum(map(len, self.encoded))
        if self.codec == RAW:
            for i in range(0, self.raw_len, CHUNK):  # slices: no copy, cache-friendly hashing
                out.write(self.view[i : i + CHUNK])
            return self.raw_len
        written = 0
        for word, data in _compress_chunks(self.view):
            out.write(word)
            out.write(data)
            written += len(word) + len(data)
        return written


def serialize(obj: Any) -> Payload:
    """Pickle ``obj`` (protocol 5) and choose a codec per section; raise SerializationError."""
    buffers: list[memoryview] = []

    def keep_out_of_band(buf: pickle.PickleBuffer) -> bool:
        try:
            view = buf.raw()
        except BufferError:  # non-contiguous: let the pickler copy it in-band
            return True
        if view.nbytes < INBAND_MAX:
            return True  # returning true means "serialize in-band"
        buffers.append(view)
        return False

    try:
        stream = pickle.dumps(obj, protocol=5, buffer_callback=keep_out_of_band)
    except Exception as exc:  # anything a __reduce__ can raise; the caller names the artifact
        raise SerializationError(exc) from exc
    return Payload([_plan(memoryview(stream))] + [_plan(v) for v in buffers])


def _plan(view: memoryview) -> _Section:
    n = view.nbytes
    if n < MIN_COMPRESS:
        return _Section(RAW, view)
    if n > SAMPLES * SAMPLE and _sample_ratio(view) > MAX_RATIO:
        return _Section(RAW, view)  # incompressible (random floats, already compressed)
    if n > CHUNK:
        return _Section(ZSTD, view)  # streamed chunk by chunk at write time
    data = _compressor().compress(view)
    if len(data) > MAX_RATIO * n:
        return _Section(RAW, view)
    return _Section(ZSTD, view, [_WORD.pack(len(data)), data])


def _sample_ratio(view: memoryview) -> float:
    step = (view.nbytes - SAMPLE) // (SAMPLES - 1)
    cctx = _compressor()
    stored = sum(len(cctx.compress(view[i * step : i * step + SAMPLE])) for i in range(SAMPLES))
    return stored / (SAMPLE * SAMPLES)


def _zstd() -> Any:
    import zstandard

    return zstandard


def _compressor() -> zstandard.ZstdCompressor:
    cctx = getattr(_local, "cctx", None)  # contexts are not thread-safe: one per thread
    if cctx is None:
        cctx = _local.cctx = _zstd().ZstdCompressor(level=LEVEL)
    return cctx


def _compress_chunk(chunk: memoryview) -> tuple[bytes, Any]:
    data = _compressor().compress(chunk)  # releases the GIL
    if len(data) > MAX_RATIO * chunk.nbytes:
        return _WORD.pack(chunk.nbytes | _RAW_CHUNK), chunk
    return _WORD.pack(len(data)), data


def _compress_chunks(view: memoryview) -> Any:
    """Yield (word, bytes) per chunk, in order, compressing a few chunks ahead on threads."""
    pool = _thread_pool()
    pending: deque[Any] = deque()
    for i in range(0, view.nbytes, CHUNK):
        pending.append(pool.submit(_compress_chunk, view[i : i + CHUNK]))
        if len(pending) > 2 * _WORKERS:  # bounded read-ahead keeps memory flat
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    # Keyed by pid: a pool inherited through fork (warm workers) has no threads left.
    if _pool is None or _pool[0] != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _pool = (os.getpid(), ThreadPoolExecutor(_WORKERS, thread_name_prefix="headwater-zstd"))
    return _pool[1]


def read_parts(f: IO[bytes], name: str) -> tuple[Any, list[Any]]:
    """Read a blob's pickle stream and buffers from ``f`` (positioned at its start)."""
    magic, version, _, _, chunk, count = _HEAD.unpack(_read(f, _HEAD.size, name))
    if magic != MAGIC:
        raise corrupted(name, "it does not start with the Headwater blob magic")
    if version != VERSION:
        raise DatastoreError(
            f"{name} uses blob format version {version}, but this Headwater reads version "
            f"{VERSION}. Upgrade Headwater to read it."
        )
    if count == 0 or chunk == 0 or chunk >= _RAW_CHUNK:
        raise corrupted(name, "its header is invalid")
    table = _read(f, count * _SECTION.size, name)
    sections = [_SECTION.unpack_from(table, i * _SECTION.size) for i in range(count)]
    need = sum(n if c == RAW else -(-n // chunk) * 4 for c, n in sections)  # at least
    if need > _remaining(f):
        raise corrupted(name, "it is truncated")  # checked before allocating the buffers
    parts = [_read_section(f, codec, size, chunk, name) for codec, size in sections]
    if f.read(1):
        raise corrupted(name, "it has bytes after its last section")
    return parts[0], parts[1:]


def is_compressed(f: IO[bytes]) -> bool:
    """Whether the blob in ``f`` has a zstd section (reading its header and table only)."""
    head = f.read(_HEAD.size)
    if len(head) != _HEAD.size:
        return False
    magic, _, _, _, _, count = _HEAD.unpack(head)
    table = f.read(count * _SECTION.size) if magic == MAGIC else b""
    return any(table[i * _SECTION.size] == ZSTD for i in range(len(table) // _SECTION.size))


def preload_codec() -> None:
    """Import zstandard now (the fork template does, so its tasks do not each pay for it)."""
    _zstd()


def loads(data: Any, name: str = "blob") -> Any:
    """Unpickle a blob held in memory; ``name`` is used in error messages."""
    return unpickle(*read_parts(io.BytesIO(data), name), name)


def unpickle(stream: Any, buffers: list[Any], name: str) -> Any:
    """Unpickle with out-of-band buffers; a damaged stream is reported as corruption."""
    try:
        return pickle.loads(stream, buffers=buffers)
    except (pickle.UnpicklingError, EOFError) as exc:
        raise corrupted(name, f"its pickle stream is damaged ({exc})") from exc


def corrupted(name: str, reason: str) -> DamagedBlobError:
    """The error for a damaged blob: what, why, and what to do. The caller that knows which
    artifact of which task it is rewords it (``datastore/damage.py``)."""
    return DamagedBlobError(
        f"{name} is corrupted: {reason}. Its bytes changed after they were stored (a cut or "
        "bad copy, bit rot), so they are not used. Re-run the step that produced it (resume "
        "from that step): storing the value again replaces the damaged copy.",
        reason=reason,
    )


def _read(f: IO[bytes], n: int, name: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise corrupted(name, "it is truncated")
    return data


def _remaining(f: IO[bytes]) -> int:
    try:
        here = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(here)
        return end - here
    except (AttributeError, OSError):  # not seekable: short reads still catch truncation
        return 1 << 62


def _alloc(n: int, populate: bool) -> Any:
    # A large buffer is an anonymous mmap: zeroed by the kernel, so there is no user-space
    # zero-fill pass as with bytearray. MAP_POPULATE maps all pages in one call instead of one
    # fault per 4 KiB during the read (measured ~2x faster); only for raw sections, whose size
    # was checked against the file. Writable, so loaded arrays are writable like the originals.
    if n < MMAP_MIN or not _ANON:
        return bytearray(n)
    return mmap.mmap(-1, n, flags=_ANON | (_POPULATE if populate else 0))


def _read_into(f: IO[bytes], view: memoryview, name: str) -> None:
    pos, n = 0, view.nbytes
    while pos < n:
        got = f.readinto(view[pos:])  # type: ignore[attr-defined]
        if not got:
            raise corrupted(name, "it is truncated")
        pos += got


def _read_section(f: IO[bytes], codec: int, size: int, chunk: int, name: str) -> Any:
    if codec not in (RAW, ZSTD):
        raise corrupted(name, f"a section has unknown codec {codec}")
    try:
        buf = _alloc(size, populate=codec == RAW)
    except (OverflowError, MemoryError, OSError) as exc:
        raise corrupted(name, f"a section claims {size} bytes ({exc})") from None
    with memoryview(buf) as view:
        if codec == RAW:
            _read_into(f, view, name)
            return buf
        zstandard = _zstd()
        dctx = zstandard.ZstdDecompressor()
        for pos in range(0, size, chunk):
            expected = min(chunk, size - pos)
            (word,) = _WORD.unpack(_read(f, 4, name))
            stored = word & ~_RAW_CHUNK
            if word & _RAW_CHUNK:
                if stored != expected:
                    raise corrupted(name, "a raw chunk has the wrong length")
                _read_into(f, view[pos : pos + expected], name)
                continue
            if stored > expected:  # writers keep compressed chunks only when smaller
                raise corrupted(name, "a compressed chunk is larger than its data")
            try:
                data = dctx.decompress(_read(f, stored, name), max_output_size=expected)
            except zstandard.ZstdError as exc:
                raise corrupted(name, f"a compressed chunk does not decompress ({exc})") from None
            if len(data) != expected:
                raise corrupted(name, "a compressed chunk has the wrong length")
            view[pos : pos + expected] = data
    return buf
