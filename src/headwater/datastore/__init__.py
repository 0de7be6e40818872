"""The bytes layer: content-addressed blobs on a storage backend, and artifact serialization.

``store = BlobStore(LocalStorage(root))``; ``ref = store.save(value)`` gives a
``BlobRef(key, size, type)``; ``store.load(ref.key)`` gives the value back.
"""

from headwater.datastore.blobs import BlobRef, BlobStore, HashingWriter
from headwater.datastore.serialize import SerializationError
from headwater.datastore.storage import BlobWriter, LocalStorage, Storage

__all__ = [
    "BlobRef",
    "BlobStore",
    "BlobWriter",
    "HashingWriter",
    "LocalStorage",
    "SerializationError",
    "Storage",
]
