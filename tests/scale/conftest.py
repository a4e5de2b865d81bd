"""A PostgreSQL database of their own for the scale tests' child processes.

These tests run real `liseuse` processes side by side, which SQLite cannot show (it has one
writer). They need the PostgreSQL of the development machine and of CI, at
`postgresql://postgres@127.0.0.1:5432/`; each test gets a fresh database copied from a migrated
template (a copy takes a fraction of a second, migrating takes seconds), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.process import liseuse

SERVER = os.environ.get("LISEUSE_SCALE_PG", "postgresql://postgres@127.0.0.1:5432")


def _admin() -> Any:
    import psycopg

    return psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=3)


def _answers() -> bool:
    try:
        with _admin():
            return True
    except Exception:
        return False


def _drop(name: str) -> None:
    with _admin() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not _answers():
        if os.environ.get("CI"):
            pytest.fail("CI must run the scale tests: no PostgreSQL answers at " + SERVER)
        pytest.skip(f"no PostgreSQL answers at {SERVER}: the multi-process tests need one")
    name = f"liseuse_scale_{uuid.uuid4().hex[:10]}_tpl"
    with _admin() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        data = tmp_path_factory.mktemp("template")
        done = liseuse(
            data, "user", "add", "alice", stdin="a long enough password\n", **pg_env(name)
        )
        assert done.returncode == 0, done.stderr
        yield name
    finally:
        _drop(name)


def pg_env(name: str, **extra: str) -> dict[str, str]:
    return {
        "LISEUSE_DATABASE_URL": f"{SERVER}/{name}",
        "LISEUSE_SECRET_KEY": "scale-tests-shared-secret-key-" + "x" * 30,
        "LISEUSE_ALLOW_PRIVATE_NETWORKS": "1",
        **extra,
    }


class PgDatabase:
    """One test's database: its name, a connection for checks, and the child's environment."""

    def __init__(self, name: str, data_dir: Path) -> None:
        import psycopg

        self.name = name
        self.data_dir = data_dir
        self.connection = psycopg.connect(f"{SERVER}/{name}", autocommit=True)

    def env(self, **extra: str) -> dict[str, str]:
        return pg_env(self.name, **extra)

    def value(self, sql: str, *params: object) -> Any:
        row = self.connection.execute(sql, params).fetchone()
        assert row is not None
        return row[0]

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        return list(self.connection.execute(sql, params).fetchall())

    def execute(self, sql: str, *params: object) -> None:
        self.connection.execute(sql, params)


@pytest.fixture
def pg(pg_template: str, tmp_path: Path) -> Iterator[PgDatabase]:
    name = f"liseuse_scale_{uuid.uuid4().hex[:10]}"
    with _admin() as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    database = PgDatabase(name, tmp_path)
    try:
        yield database
    finally:
        database.connection.close()
        _drop(name)
