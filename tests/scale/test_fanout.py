"""One fetch per feed however many people follow it, and their states created in batches.

1,000 people following the same 200 feeds: a pass makes 200 requests, and the store writes each
new entry's 1,000 states in a couple of multi-row INSERTs, not one statement per person. Runs on
the suite's own database (SQLite, or PostgreSQL in CI).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import claim
from liseuse.feeds import worker
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.store import DjangoStore
from liseuse.pipeline.fetch import Fetcher
from liseuse.pipeline.refresh import RefreshSummary
from liseuse.pipeline.refresh import refresh_feeds
from tests.httpserver import LocalServer
from tests.httpserver import Reply

PEOPLE = 1000
FEEDS = 200
ENTRIES = 1


def _store_thread(seen: list[tuple[str, int]]) -> ThreadPoolExecutor:
    """The store's one thread, as the worker has it, noting each statement its connection sends
    with the number of rows it carries (an executemany's list, or a multi-row VALUES)."""

    def note(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if many:
            params = list(params)
        rows = len(params) if many else max(1, sql.count("(%s"))
        seen.append((sql.replace('"', ""), rows))
        return execute(sql, params, many, context)

    executor = ThreadPoolExecutor(max_workers=1)
    # Looked up inside the thread: `connection` is that thread's own.
    executor.submit(lambda: connection.execute_wrappers.append(note)).result()
    return executor


def _rss(n: int) -> bytes:
    items = "".join(
        f"<item><guid>f{n}-{i}</guid><title>E{i}</title>"
        f"<pubDate>Mon, 15 Jan 2024 0{i}:00:00 GMT</pubDate></item>"
        for i in range(ENTRIES)
    )
    return f'<rss version="2.0"><channel><title>F{n}</title>{items}</channel></rss>'.encode()


@pytest.mark.django_db(transaction=True)
def test_a_thousand_readers_of_200_feeds_cause_200_fetches_and_batched_state_inserts() -> None:
    routes = {f"/f{n}": Reply(body=_rss(n)) for n in range(FEEDS)}
    with LocalServer(routes) as server, override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        User.objects.bulk_create(User(username=f"reader{i}") for i in range(PEOPLE))
        Feed.objects.bulk_create(Feed(url=server.url(f"/f{n}")) for n in range(FEEDS))
        # Every reader follows every feed: 200,000 rows in one statement.
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Subscription._meta.db_table} (user_id, feed_id, title, visibility,"
                " refresh_floor_minutes, created_at) SELECT u.id, f.id, '', 'main', 0, %s"
                f" FROM {User._meta.db_table} u CROSS JOIN {Feed._meta.db_table} f",
                [timezone.now()],
            )
        assert Subscription.objects.count() == PEOPLE * FEEDS
        feeds = claim.claim_feeds(
            owner="test", now=timezone.now(), lease=timedelta(minutes=5), limit=FEEDS
        )
        assert len(feeds) == FEEDS

        async def run() -> RefreshSummary:
            async with Fetcher(worker.fetch_config()) as fetcher:
                return await refresh_feeds(
                    feeds,
                    fetcher=fetcher,
                    store=DjangoStore("test"),
                    store_executor=store_thread,
                    now=timezone.now,
                    schedule=worker.schedule_config(),
                )

        queries: list[tuple[str, int]] = []
        store_thread = _store_thread(queries)
        try:
            summary = asyncio.run(run())
        finally:
            store_thread.submit(lambda: connection.close()).result()
            store_thread.shutdown()

        assert summary.count("updated") == FEEDS
        # Each feed asked once (the host's home page and /favicon.ico once each besides: the
        # feeds name no site, and an icon is looked for on their host).
        fetched = [path for path in server.paths() if path not in ("/", "/favicon.ico")]
        assert len(fetched) == FEEDS, "one fetch per feed, not per reader"

    assert EntryState.objects.count() == PEOPLE * FEEDS * ENTRIES
    state_inserts = [
        rows for sql, rows in queries if sql.startswith("INSERT INTO feeds_entrystate ")
    ]
    assert sum(state_inserts) == PEOPLE * FEEDS * ENTRIES
    # Each feed's 1,000 new states go in at most 2 statements (500-row chunks, or one
    # executemany), never one statement per reader.
    assert len(state_inserts) <= FEEDS * math.ceil(PEOPLE * ENTRIES / 500)
    # Everything else is a handful of statements per feed (reads, the entry, the feed's row),
    # whatever the number of readers.
    assert len(queries) - len(state_inserts) <= FEEDS * 16
