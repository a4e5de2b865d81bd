"""A split refresh (one process per core, feeds.worker.refresh_split) on PostgreSQL: the
children's connections are their own, and everything is stored once (the same checks as on
SQLite, tests/feeds/test_refresh_split.py)."""

from __future__ import annotations

from tests.feeds.test_refresh_split import CHECKS
from tests.feeds.test_refresh_split import split_refresh
from tests.scale.conftest import PgDatabase


def test_a_split_refresh_on_postgresql_stores_everything_once(pg: PgDatabase) -> None:
    split_refresh(pg.data_dir, **pg.env())
    for sql, expected in CHECKS:
        assert pg.value(sql) == expected, sql
