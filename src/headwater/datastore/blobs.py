"""Content-addressed blobs: a value's key is the xxh3-128 hash of its serialized bytes.

Identical values serialize to identical bytes, get the same key, and are stored once; resume
and caching copy keys, never bytes. Two write paths:

- small values (most artifacts) are serialized in memory, hashed, and written unless the key
  is already stored with exactly these bytes (read back and compared: a damaged copy is
  replaced): a few tens of microseconds plus one small file write;
- large values stream to a temporary blob while being hashed (one pass, no second copy of the
  data), and the blob is published under the hash at the end.

Every load checks the bytes against the key as they arrive (``load``), so damaged bytes are
reported, never returned; the caller names the artifact and task (``damage.py``).
"""

from __future__ import annotations

import pickle
from collections import namedtuple
from types import TracebackType

import xxhash

from headwater.datastore.serialize import (
    SerializationError,
    corrupted,
    is_compressed,
    loads,
    read_parts,
    serialize,
    unpickle,
)
from headwater.datastore.storage import BlobWriter, Storage
from headwater.exceptions import DamagedBlobError, DatastoreError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import IO, Any

SMALL = 1 << 20  # up to this many raw bytes, serialize in memory and skip equal stored blobs
# Large reads land and are hashed in pieces this big: each is hashed while still in the CPU
# cache (about 4x faster than hashing it again from memory; measured best from 128-256 KiB).
HASH_STEP = 256 << 10
MISMATCH = "its content does not match its key"
PREFETCH_MAX = 64 << 10  # blobs read ahead from a remote store: this small at most ...
PREFETCH_TOTAL = 32 << 20  # ... and this much in all per task


class BlobRef(namedtuple("BlobRef", "key size type")):
    """Where a saved value lives: its key, stored size in bytes, and qualified type name."""

    __slots__ = ()


def hash_bytes(data: Any) -> str:
    """The key of a byte string (any buffer)."""
    return xxhash.xxh3_128_hexdigest(data)


def type_name(obj: Any) -> str:
    """Qualified type name, e.g. ``numpy.ndarray`` or ``builtins.dict``."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class BlobStore:
    """Save and load values and byte strings by content hash on a Storage backend."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._prefetched: dict[str, Any] = {}  # key -> future of its bytes (remote stores)

    def prefetch(self, refs: Any) -> None:
        """Start reading the small blobs of ``refs`` (``(key, size)`` pairs) side by side, when
        each read is a network round trip; ``load`` then takes them from memory. A step that
        reads a thousand small inherited artifacts waits for one round trip, not a thousand."""
        if not self.storage.concurrent:
            return
        budget = PREFETCH_TOTAL
        pool = self.storage.pool()
        for key, size in refs:
            if size > PREFETCH_MAX or key in self._prefetched:
                continue
            budget -= size
            if budget < 0:
                break
            self._prefetched[key] = pool.submit(self.storage.read_bytes, key)

    def save(self, obj: Any) -> BlobRef:
        """Serialize and store ``obj``; raise SerializationError if it cannot be pickled."""
        payload = serialize(obj)
        if payload.nbytes <= SMALL:
            data = payload.to_bytes()
            key = hash_bytes(data)
            self.storage.store_small(key, data)
            return BlobRef(key, len(data), type_name(obj))
        with self.bytes_writer() as w:
            payload.write_to(w)
            key = w.commit()
        return BlobRef(key, w.size, type_name(obj))

    def save_many(self, items: list[tuple[str, Any]], refused: Any = None) -> list[BlobRef]:
        """``save`` each ``(name, value)``, concurrently when the storage is remote; a value
        that cannot be pickled or written raises ``refused(name, value, error)`` (or the
        error itself)."""

        def one(item: tuple[str, Any]) -> BlobRef:
            try:
                return self.save(item[1])
            except (SerializationError, DatastoreError) as exc:
                if refused is None:
                    raise
                raise refused(item[0], item[1], exc) from None

        if len(items) < 2 or not self.storage.concurrent:
            return [one(item) for item in items]
        return list(self.storage.pool().map(one, items))

    @staticmethod
    def fingerprint(obj: Any) -> str:
        """A hash of the value's raw pickled content, computed without copying its buffers.

        Equal fingerprints mean ``save`` would store the same bytes again, so a task can pass
        a large loaded artifact on by reference when the step did not change it.
        """
        h = xxhash.xxh3_128()
        buffers: list[pickle.PickleBuffer] = []
        h.update(pickle.dumps(obj, protocol=5, buffer_callback=buffers.append))
        for buf in buffers:
            with buf.raw() as view:
                h.update(view)
        return h.hexdigest()

    def load(self, key: str, *, size: int | None = None, verify: bool = True) -> Any:
        """Load a value, checking its bytes against the key (their xxh3-128) as they arrive.

        ``size`` (the stored size, when the caller knows it) lets a small blob be read in one
        call, hashed and parsed from memory; large ones are streamed into their buffers and
        hashed piece by piece right after each piece lands (still in the CPU cache). Bytes
        that are not what was stored raise DamagedBlobError before anything is unpickled.
        ``verify=False`` skips the check: only for measuring what it costs (``bench/``).
        """
        location = self.storage.location(key)
        name = f"Blob {key} ({location})"
        try:
            ahead = self._prefetched.pop(key, None) if self._prefetched else None
            if ahead is not None:
                data = ahead.result()
            elif size is not None and size <= SMALL:
                data = self.storage.read_bytes(key)
            else:
                data = None
            if data is not None:
                if verify and hash_bytes(data) != key:
                    raise corrupted(name, MISMATCH)
                return loads(data, name)
            with self.storage.open(key) as f:
                reader: Any = _HashingReader(f) if verify else f
                stream, buffers = read_parts(reader, name)
                if verify and reader.hexdigest() != key:
                    raise corrupted(name, MISMATCH)
            return unpickle(stream, buffers, name)
        except DamagedBlobError as exc:
            exc.key, exc.location = key, location
            self.storage.damaged(key)
            raise

    def is_compressed(self, key: str) -> bool:
        """Whether loading the value needs the zstd decompressor (reads the header only)."""
        with self.storage.open(key) as f:
            return is_compressed(f)

    def save_bytes(self, data: bytes) -> str:
        """Store a byte string as is (code packages); return its key. A copy already stored
        is kept only when whole (see ``Storage.store_small`` and ``BlobWriter.commit``)."""
        key = hash_bytes(data)
        if len(data) <= SMALL:
            self.storage.store_small(key, data)
        else:
            with self.storage.new_blob() as w:
                w.write(data)
                w.commit(key)
        return key

    def load_bytes(self, key: str) -> bytes:
        """The byte string stored by ``save_bytes``, checked against its key."""
        data = self.storage.read_bytes(key)
        if hash_bytes(data) != key:
            self.storage.damaged(key)
            location = self.storage.location(key)
            exc = corrupted(f"Blob {key} ({location})", MISMATCH)
            exc.key, exc.location = key, location
            raise exc
        return data

    def intact(self, key: str) -> bool:
        """Whether a blob is stored under ``key`` and its bytes match it (reads it whole)."""
        try:
            self.load_bytes(key)
        except DatastoreError:
            return False
        return True

    def bytes_writer(self) -> HashingWriter:
        """Stream a large byte string: ``with store.bytes_writer() as w: ...; key = w.commit()``."""
        return HashingWriter(self.storage.new_blob())

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
        return self.storage.exists(key)

    def size(self, key: str) -> int:
        """Stored size of a blob in bytes."""
        return self.storage.size(key)


class HashingWriter:
    """Hashes bytes on their way to a BlobWriter; ``commit()`` publishes them under the hash."""

    def __init__(self, writer: BlobWriter) -> None:
        self._writer = writer
        self._hash = xxhash.xxh3_128()
        self.size = 0

    def write(self, data: Any) -> int:
        self._hash.update(data)  # same buffer, hashed while still in cache, then written
        n = self._writer.write(data)
        self.size += n
        return n

    def commit(self) -> str:
        key = self._hash.hexdigest()
        self._writer.commit(key)
        return key

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._writer.abort()  # no-op after commit


class _HashingReader:
    """Hashes everything read through it, for ``load``. A large ``readinto`` is filled and
    hashed in steps of ``HASH_STEP``, each hashed right after it lands while still in the CPU
    cache, so verifying costs no second pass over memory. (A helper thread hashing behind the
    reads was measured slower: the copy and the hash then compete for memory bandwidth.) A
    reader that fetches pieces side by side (S3) offers ``readinto_hashed`` and hands over
    each piece in order as it arrives."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._hash = xxhash.xxh3_128()
        self._fill = getattr(f, "readinto_hashed", None)

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._hash.update(data)
        return data

    def readinto(self, buf: Any) -> int:
        if self._fill is not None:
            return self._fill(buf, self._hash.update)
        with memoryview(buf) as whole:
            view = whole.cast("B")
            done, total = 0, view.nbytes
            while done < total:
                piece = view[done : done + HASH_STEP]
                n = self._f.readinto(piece)  # type: ignore[attr-defined]
                if not n:
                    break
                self._hash.update(piece[:n])
                done += n
            return done

    def tell(self) -> int:
        return self._f.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)  # only to measure the size; reads resume in place

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
