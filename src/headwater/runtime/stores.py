"""Open the metadata database and the blob store of a datastore directory."""

from __future__ import annotations

from pathlib import Path

from ..datastore import BlobStore, LocalStorage
from ..metadata import SQLiteMetadata


def open_stores(root: Path, *, readonly: bool = False) -> tuple[SQLiteMetadata, BlobStore]:
    return SQLiteMetadata(root, readonly=readonly), BlobStore(LocalStorage(root))
