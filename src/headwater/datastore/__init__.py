"""The bytes layer: content-addressed blobs on a storage backend, and artifact serialization.

``store = BlobStore(LocalStorage(root))``; ``ref = store.save(value)`` gives a
``BlobRef(key, size, type)``; ``store.load(ref.key)`` gives the value back.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

# Loaded on first use, so `headwater.datastore.root` or `.logs` stay cheap to import.
_EXPORTS = {
    "BlobRef": "blobs",
    "BlobStore": "blobs",
    "HashingWriter": "blobs",
    "SerializationError": "serialize",
    "BlobWriter": "storage",
    "LocalStorage": "storage",
    "Storage": "storage",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'headwater.datastore' has no attribute {name!r}")
    value = getattr(import_module(f"headwater.datastore.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
