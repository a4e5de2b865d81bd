"""What the store writes: its first-refresh hot path prepares dates and JSON itself and must send
exactly what the model fields would, on whichever database the suite runs; and a feed's final
write gives back only the writer's own lease."""

from __future__ import annotations

import dataclasses
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from functools import partial
from typing import Any

import pytest
from django.db import IntegrityError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from liseuse.accounts.models import User
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.store import STORE_CACHE_KIB
from liseuse.feeds.store import DjangoStore
from liseuse.feeds.store import _preparers
from liseuse.pipeline.refresh import FeedUpdate
from liseuse.pipeline.types import FetchResult
from liseuse.pipeline.types import ParsedEnclosure
from liseuse.pipeline.types import ParsedEntry
from tests.feeds.updates import feed_update

pytestmark = pytest.mark.django_db

PARIS_SUMMER = timezone(timedelta(hours=2))

DATES = [
    datetime(2024, 1, 15, 3, 9, tzinfo=UTC),
    datetime(2024, 1, 15, 3, 9, 0, 123456, tzinfo=UTC),
    datetime(2024, 7, 1, 23, 30, tzinfo=PARIS_SUMMER),  # another day in UTC
    datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-11))),
]
JSON = [
    [],
    ["Société", "vie privée", "😀", 'a "quoted" tag', "back\\slash"],
    [{"url": "https://example.org/a.mp3", "type": "audio/mpeg", "length": 12345}],
    [{"url": "https://example.org/b", "type": "", "length": None}],
]


@pytest.mark.parametrize(
    ("model", "column", "values"),
    [
        (Entry, "published", DATES),
        (Entry, "first_seen", DATES),
        (EntryState, "sort_date", DATES),
        (Entry, "categories", JSON),
        (Entry, "enclosures", JSON),
    ],
)
def test_the_fast_preparation_gives_what_the_field_gives(
    model: Any, column: str, values: list[Any]
) -> None:
    connection.ensure_connection()
    (prepare,) = _preparers(model, [column])
    field = model._meta.get_field(column)
    for value in values:
        assert _comparable(prepare(value)) == _comparable(
            field.get_db_prep_save(value, connection)
        ), value


def _comparable(prepared: Any) -> Any:
    # psycopg's Jsonb wrappers (PostgreSQL) do not compare equal; what they wrap does.
    return (type(prepared).__name__, getattr(prepared, "obj", prepared))


def _leased_feed(owner: str) -> Feed:
    return Feed.objects.create(
        url=f"https://example.org/{owner}.xml",
        lease_owner=owner,
        lease_until=datetime.now(UTC) + timedelta(minutes=10),
    )


def _lease(feed: Feed) -> tuple[str, bool]:
    feed.refresh_from_db()
    return feed.lease_owner, feed.lease_until is not None


def test_a_worker_gives_back_its_own_lease_and_never_anothers() -> None:
    now = datetime.now(UTC)
    later = now + timedelta(hours=1)
    ours, theirs = _leased_feed("worker-a"), _leased_feed("worker-b")
    store = DjangoStore("worker-a")
    for feed in (ours, theirs):
        store.save_error(feed.id, fetched_at=now, reason="boom", next_fetch_at=later, gone=False)
    assert _lease(ours) == ("", False)
    # worker-a outlived its lease and worker-b took the feed: worker-b keeps it.
    assert _lease(theirs) == ("worker-b", True)
    assert Feed.objects.get(id=theirs.id).last_error == "boom"  # the result is still written

    ours.lease_owner, ours.lease_until = "worker-a", later
    ours.save()
    result = FetchResult(url=ours.url, status=304, body=b"")
    for feed in (ours, theirs):
        store.save_not_modified(feed.id, fetched_at=now, next_fetch_at=later, result=result)
    assert _lease(ours) == ("", False)
    assert _lease(theirs) == ("worker-b", True)


def test_each_error_counts_once_more_and_gone_disables_the_feed() -> None:
    now = datetime.now(UTC)
    feed = _leased_feed("worker-a")
    store = DjangoStore("worker-a")
    store.save_error(feed.id, fetched_at=now, reason="boom", next_fetch_at=now, gone=False)
    store.save_error(feed.id, fetched_at=now, reason="gone", next_fetch_at=now, gone=True)
    feed.refresh_from_db()
    assert (feed.error_count, feed.last_error, feed.disabled) == (2, "gone", True)


def test_writes_go_together_without_a_savepoint_each() -> None:
    # A savepoint per feed made SQLite copy every page it changed into a temporary file: 1.5 GB
    # for a first refresh of 250 MB (docs/benchmarks.md).
    now = datetime.now(UTC)
    feeds = [_leased_feed(f"worker-{n}") for n in range(3)]
    store = DjangoStore("worker-0")
    calls = [
        lambda feed=feed: store.save_error(
            feed.id, fetched_at=now, reason="boom", next_fetch_at=now, gone=False
        )
        for feed in feeds
    ]
    with CaptureQueriesContext(connection) as queries:
        assert store.write_together(calls) == [None, None, None]
    savepoints = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")]
    # The test itself runs in a transaction, so the group's own is a savepoint: one in all.
    assert len(savepoints) <= 1, savepoints
    assert [Feed.objects.get(id=f.id).error_count for f in feeds] == [1, 1, 1]


def test_a_write_that_fails_is_undone_alone_and_the_others_are_kept() -> None:
    now = datetime.now(UTC)
    first, second, third = (_leased_feed(f"worker-{n}") for n in range(3))
    store = DjangoStore("worker-0")

    def half_done_then_refused() -> None:
        Feed.objects.filter(id=second.id).update(title="half done")
        Feed.objects.create(url=first.url)  # the URL is taken: IntegrityError

    results = store.write_together(
        [
            lambda: store.save_error(
                first.id, fetched_at=now, reason="one", next_fetch_at=now, gone=False
            ),
            half_done_then_refused,
            lambda: store.save_error(
                third.id, fetched_at=now, reason="three", next_fetch_at=now, gone=False
            ),
        ]
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], IntegrityError)
    assert Feed.objects.get(id=second.id).title == ""
    # Written once each, although the group was tried whole first.
    assert Feed.objects.get(id=first.id).error_count == 1
    assert Feed.objects.get(id=third.id).last_error == "three"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's page cache and WAL")
def test_the_store_gives_its_sqlite_connection_a_larger_cache() -> None:
    now = datetime.now(UTC)
    feed = _leased_feed("worker-a")
    store = DjangoStore("worker-a")
    store.write_together(
        [
            lambda: store.save_error(
                feed.id, fetched_at=now, reason="x", next_fetch_at=now, gone=False
            )
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone() == (-STORE_CACHE_KIB,)
        # And every connection copies the WAL into the database every 8,192 pages (settings).
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone() == (8192,)


def _update(feed: Feed, entries: list[ParsedEntry], stored: dict[str, str | None]) -> FeedUpdate:
    """What a refresh hands the store after fetching `entries`, having read `stored`."""
    return feed_update(feed.id, entries, stored)


def test_a_worker_that_outlived_its_lease_stores_what_the_other_stored_without_failing(
    alice: User,
) -> None:
    # Worker A's lease ended while it was still fetching; worker B took the feed, fetched the
    # same document and stored it first. Both decided "new" from the same empty store.
    feed = _leased_feed("worker-b")
    Subscription.objects.create(user=alice, feed=feed)
    entries = [ParsedEntry(guid=f"g{n}", title=f"T{n}") for n in range(3)]
    slow, fast = _update(feed, entries, {}), _update(feed, entries, {})
    assert DjangoStore("worker-b").save_update(fast) == 3
    EntryState.objects.filter(user=alice).update(is_read=True)  # alice reads them meanwhile

    # Then A writes: nothing new, no error (the feed is healthy), nothing of alice's lost.
    assert DjangoStore("worker-a").write_together(
        [lambda: DjangoStore("worker-a").save_update(slow)]
    ) == [0]
    assert Entry.objects.filter(feed=feed).count() == 3
    assert EntryState.objects.filter(user=alice, is_read=True).count() == 3
    assert EntryState.objects.count() == 3


def test_a_value_the_driver_refuses_fails_its_own_write_alone() -> None:
    now = datetime.now(UTC)
    first, second = _leased_feed("worker-0"), _leased_feed("worker-1")
    store = DjangoStore("worker-0")

    def too_large() -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    results = store.write_together(
        [
            lambda: store.save_error(
                first.id, fetched_at=now, reason="one", next_fetch_at=now, gone=False
            ),
            too_large,
        ]
    )
    assert results[0] is None and isinstance(results[1], OverflowError)
    assert Feed.objects.get(id=first.id).last_error == "one"
    assert Feed.objects.get(id=second.id).last_error == ""


def test_a_ttl_of_any_length_is_stored(alice: User) -> None:
    # An RSS <ttl> of twenty digits: the feed is stored, its ttl within the column's range.
    feed = _leased_feed("worker-a")
    update = _update(feed, [ParsedEntry(guid="g", title="T")], {})
    update = dataclasses.replace(update, feed=dataclasses.replace(update.feed, ttl_minutes=10**20))
    assert DjangoStore("worker-a").write_together(
        [lambda: DjangoStore("worker-a").save_update(update)]
    ) == [1]
    feed.refresh_from_db()
    assert feed.ttl_minutes is not None and feed.ttl_minutes >= 7 * 24 * 60


def test_a_summary_that_is_the_content_is_stored_once(alice: User) -> None:
    # An RSS item with a <description> only: the parser gives it as content and summary.
    feed = _leased_feed("worker-0")
    Subscription.objects.create(user=alice, feed=feed)
    body = "<p>" + "Un long article. " * 200 + "</p>"
    entries = [
        ParsedEntry(guid="same", title="Same", content=body, summary=body),
        ParsedEntry(guid="own", title="Own", content=body, summary="<p>Court</p>"),
    ]
    DjangoStore("worker-0").save_update(_update(feed, entries, {}))
    stored = dict(Entry.objects.values_list("guid", "summary"))
    assert stored == {"same": "", "own": "<p>Court</p>"}
    assert Entry.objects.get(guid="same").display_content == body


def test_an_entrys_picture_is_kept_as_an_image_attachment_once(alice: User) -> None:
    feed = _leased_feed("worker-0")
    Subscription.objects.create(user=alice, feed=feed)
    still = "https://img.example/1.jpg"
    entries = [
        ParsedEntry(guid="video", title="Video", thumbnail=still),
        ParsedEntry(
            guid="photo",
            title="Photo",
            enclosures=(ParsedEnclosure(still, "image/jpeg", 10),),
            thumbnail=still,
        ),
    ]
    DjangoStore("worker-0").save_update(_update(feed, entries, {}))
    stored = dict(Entry.objects.values_list("guid", "enclosures"))
    assert stored == {
        "video": [{"url": still, "type": "image", "length": None}],
        "photo": [{"url": still, "type": "image/jpeg", "length": 10}],
    }


@pytest.mark.django_db(transaction=True)  # real commits: the foreign keys are checked there
def test_a_write_refused_at_commit_fails_alone_and_the_others_keep_their_own_results(
    alice: User,
) -> None:
    # A feed removed while a worker fetched it: its entries' foreign key fails at COMMIT, after
    # its write returned. Its result was listed twice, and the feed after it took the blame.
    gone, kept = _leased_feed("worker-a"), _leased_feed("worker-b")
    for feed in (gone, kept):
        Subscription.objects.create(user=alice, feed=feed)
    entries = [ParsedEntry(guid=f"g{n}", title=f"T{n}") for n in range(2)]
    updates = [_update(gone, entries, {}), _update(kept, entries, {})]
    Feed.objects.filter(id=gone.id).delete()
    store = DjangoStore("worker-a")

    results = store.write_together([partial(store.save_update, update) for update in updates])

    assert len(results) == 2
    assert isinstance(results[0], IntegrityError)
    assert results[1] == 2  # the second feed's own new entries
    assert Entry.objects.filter(feed_id=kept.id).count() == 2
