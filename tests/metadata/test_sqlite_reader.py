"""What only the SQLite reader has to get right: a database that does not exist yet, old schemas."""

from __future__ import annotations

import sqlite3
import time

import pytest

from headwater.exceptions import MetadataError
from headwater.metadata import open_reader, open_writer


def test_a_datastore_without_a_database_reads_empty_until_one_appears(tmp_path) -> None:
    root = tmp_path / ".headwater"
    root.mkdir()
    reader = open_reader(str(root))
    try:
        assert reader.flow_names() == [] and reader.run("F", 1) is None
        assert not (root / "metadata.db").exists(), "reading never creates the database"
        writer = open_writer(str(root))
        writer.new_run("F", user="ana", tags=[], system_tags=["user:ana"])
        writer.close()
        assert reader.flow_names() == ["F"], "the same reader sees the database once it exists"
        assert reader.run("F", 1).user == "ana"
    finally:
        reader.close()


def test_the_reader_never_writes(tmp_path) -> None:
    root = tmp_path / ".headwater"
    writer = open_writer(str(root))
    writer.new_run("F", user="ana", tags=[], system_tags=[])
    writer.close()
    before = (root / "metadata.db").read_bytes()
    reader = open_reader(str(root))
    reader.runs("F", None)
    reader.close()
    assert (root / "metadata.db").read_bytes() == before


def test_a_schema_2_database_is_read_with_attempt_starts_as_heartbeats(tmp_path) -> None:
    root = tmp_path / ".headwater"
    writer = open_writer(str(root))
    run = writer.new_run("F", user="ana", tags=[], system_tags=[])
    writer.new_task("F", run, 1, "start")
    writer.start_attempt("F", run, 1, 0)
    writer.close()
    old = time.time() - 3600
    db = sqlite3.connect(root / "metadata.db")
    db.execute("UPDATE runs SET heartbeat_at = ?, created_at = ?", (old, old))
    db.execute("ALTER TABLE attempts DROP COLUMN heartbeat_at")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    reader = open_reader(str(root))
    try:
        assert reader.attempt("F", run, 1, 0).heartbeat_at is None
        assert reader.run("F", run).effective_status() == "running", "its attempt started just now"
    finally:
        reader.close()


def test_a_damaged_database_is_a_metadata_error(tmp_path) -> None:
    root = tmp_path / ".headwater"
    root.mkdir()
    (root / "metadata.db").write_bytes(b"not a database at all" * 100)
    reader = open_reader(str(root))
    with pytest.raises(MetadataError, match="metadata database"):
        reader.run("F", 1)
    reader.close()

