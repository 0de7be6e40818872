"""Content-addressed blobs: a value's key is the xxh3-128 hash of its serialized bytes.

Identical values serialize to identical bytes, get the same key, and are stored once; resume
and caching copy keys, never bytes. Two write paths:

- small values (most artifacts) are serialized in memory, hashed, and written only if the key
  is not already stored: a few tens of microseconds plus one small file write;
- large values stream to a temporary blob while being hashed (one pass, no second copy of the
  data), and the blob is published under the hash at the end.
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

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import IO, Any

SMALL = 1 << 20  # up to this many raw bytes, serialize in memory and skip existing blobs


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
        that cannot be pickled raises ``refused(name, value, error)`` (or the error itself)."""

        def one(item: tuple[str, Any]) -> BlobRef:
            try:
                return self.save(item[1])
            except SerializationError as exc:
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

    def load(self, key: str, *, verify: bool = False, size: int | None = None) -> Any:
        """Load a value; ``verify`` also checks the bytes against the key (one extra hash).

        ``size`` (the stored size, when the caller knows it) lets a small blob be read in one
        call and parsed from memory; large ones are streamed into their buffers.
        """
        name = f"Blob {key} ({self.storage.location(key)})"
        if size is not None and size <= SMALL and not verify:
            return loads(self.storage.read_bytes(key), name)
        with self.storage.open(key) as f:
            reader: Any = _HashingReader(f) if verify else f
            stream, buffers = read_parts(reader, name)
            if verify and reader.hexdigest() != key:
                raise corrupted(name, "its content does not match its key")
        return unpickle(stream, buffers, name)

    def is_compressed(self, key: str) -> bool:
        """Whether loading the value needs the zstd decompressor (reads the header only)."""
        with self.storage.open(key) as f:
            return is_compressed(f)

    def save_bytes(self, data: bytes) -> str:
        """Store a byte string as is (logs, code packages); return its key."""
        key = hash_bytes(data)
        if not self.storage.exists(key):
            self.storage.write_bytes(key, data)
        return key

    def load_bytes(self, key: str) -> bytes:
        """The byte string stored by ``save_bytes``."""
        return self.storage.read_bytes(key)

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
    """Hashes everything read through it, for ``load(verify=True)``."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._hash = xxhash.xxh3_128()

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._hash.update(data)
        return data

    def readinto(self, buf: Any) -> int:
        n = self._f.readinto(buf)  # type: ignore[attr-defined]
        with memoryview(buf) as view:
            self._hash.update(view[:n])
        return n

    def tell(self) -> int:
        return self._f.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)  # only to measure the size; reads resume in place

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
