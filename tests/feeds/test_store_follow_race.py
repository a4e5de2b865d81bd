"""Following a feed while a refresh writes its new entries: the newcomer gets them either way.

On PostgreSQL the refresh's write and the subscription are two transactions at the same time:
unless one waits for the other, the write reads the followers before the subscription is
committed and the subscription copies the entries before the write is, and the newcomer never
gets a state for those entries. SQLite writes one transaction at a time.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db import transaction

from liseuse.accounts.models import User
from liseuse.feeds.models import EntryState
from liseuse.feeds.store import DjangoStore
from liseuse.feeds.subscribe import follow
from liseuse.pipeline.refresh import FeedUpdate
from liseuse.pipeline.types import ParsedEntry
from tests.feeds.updates import feed_update

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite writes one transaction at a time: there is no overlap to test",
    ),
]

URL = "https://news.example/feed"


def _update(feed_id: int) -> FeedUpdate:
    entries = [ParsedEntry(guid=f"g{n}", title=f"T{n}") for n in range(2)]
    return feed_update(feed_id, entries, {})


def test_a_refresh_writing_while_someone_follows_waits_and_counts_them_in(
    alice: User, bob: User
) -> None:
    feed_id = follow(alice, URL).feed_id
    done = threading.Event()

    def refresh_write() -> None:
        try:
            DjangoStore().save_update(_update(feed_id))
            done.set()
        finally:
            connection.close()

    writer = threading.Thread(target=refresh_write)
    with transaction.atomic():
        follow(bob, URL)  # not committed yet: the write must wait for it
        writer.start()
        assert not done.wait(timeout=1.0), "the write went on without waiting"
    writer.join(timeout=30)
    assert done.is_set()
    assert EntryState.objects.filter(user=alice).count() == 2
    assert EntryState.objects.filter(user=bob).count() == 2
