"""What a refresh leaves in SQLite's WAL (settings.py, feeds.worker.checkpoint_and_close)."""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_django
from django.conf import settings
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper

from liseuse.feeds.worker import checkpoint_and_close

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's WAL; PostgreSQL has none of its own to keep"
)


def frames(db: Path) -> tuple[int, int]:
    """(frames in the WAL, frames already copied into the database), from the WAL index: the
    header's mxFrame at byte 16, the checkpoint's nBackfill at byte 96 (sqlite.org/walformat)."""
    header = (db.parent / (db.name + "-shm")).read_bytes()[:100]
    return struct.unpack_from("=I", header, 16)[0], struct.unpack_from("=I", header, 96)[0]


@pytest.fixture
def file_database(
    tmp_path: Path, django_db_blocker: pytest_django.DjangoDbBlocker
) -> Iterator[tuple[DatabaseWrapper, Path]]:
    """A Django connection to a database file, with liseuse's own SQLite options, and a second
    connection kept open beside it: the last connection to close copies the whole WAL, which
    would hide what the first one left."""
    db = tmp_path / "wal.sqlite3"
    options = settings.DATABASES["default"]["OPTIONS"]
    wrapper = DatabaseWrapper(
        {**settings.DATABASES["default"], "NAME": str(db), "OPTIONS": options}
    )
    with django_db_blocker.unblock():
        with wrapper.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x TEXT)")
        bystander = sqlite3.connect(db)
        bystander.execute("SELECT count(*) FROM t").fetchall()
        try:
            yield wrapper, db
        finally:
            bystander.close()
            wrapper.close()


def write_frames(wrapper: DatabaseWrapper) -> None:
    """Ten commits of 300 WAL frames each (a checkpoint is tried after each commit)."""
    for _ in range(10):
        with wrapper.cursor() as cursor:
            cursor.executemany("INSERT INTO t VALUES (%s)", [("x" * 4000,)] * 100)


def test_writes_are_copied_into_the_database_only_past_8192_pages(
    file_database: tuple[DatabaseWrapper, Path],
) -> None:
    wrapper, db = file_database
    write_frames(wrapper)  # SQLite's default would have copied them at 1,000
    in_wal, copied = frames(db)
    assert 3000 < in_wal < 8192 and copied == 0


def test_a_refresh_leaves_the_wal_copied(file_database: tuple[DatabaseWrapper, Path]) -> None:
    wrapper, db = file_database
    write_frames(wrapper)
    checkpoint_and_close(wrapper)
    in_wal, copied = frames(db)
    assert 3000 < in_wal < 8192 and copied == in_wal
