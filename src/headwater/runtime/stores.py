"""Open the metadata database and the blob store of a datastore directory."""

from __future__ import annotations

import os

from ..datastore import BlobStore, LocalStorage
from ..metadata import SQLiteMetadata


def open_stores(root: str | os.PathLike[str], *, readonly: bool = False) -> tuple[SQLiteMetadata, BlobStore]:
    return SQLiteMetadata(root, readonly=readonly), BlobStore(LocalStorage(root))
