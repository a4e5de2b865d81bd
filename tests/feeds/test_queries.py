"""The one read side: streams, counts and reading-state writes, each only ever one person's."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.queries import StreamFilter

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 1, 15, tzinfo=UTC)


def make_feed(name: str, *followers: User, entries: int = 3, category: str = "") -> Feed:
    feed = Feed.objects.create(url=f"https://{name}.example/feed", title=name)
    for user in followers:
        folder = Category.objects.get_or_create(user=user, name=category)[0] if category else None
        Subscription.objects.create(user=user, feed=feed, category=folder)
    for i in range(entries):
        entry = Entry.objects.create(
            feed=feed,
            identity=f"{name}{i}",
            content_hash="h",
            title=f"{name} {i}",
            published=T0 + timedelta(hours=i),
        )
        for user in followers:
            EntryState.objects.create(user=user, entry=entry, feed=feed, sort_date=entry.published)
    return feed


def titles(page: queries.StreamPage) -> list[str]:
    return [s.entry.title for s in page.entries]


def test_the_main_stream_is_newest_first_and_pages_without_gaps(alice: User) -> None:
    make_feed("a", alice, entries=5)
    first = queries.stream(alice, StreamFilter(), limit=2)
    assert titles(first) == ["a 4", "a 3"]
    second = queries.stream(alice, StreamFilter(), limit=2, after=first.next_after)
    third = queries.stream(alice, StreamFilter(), limit=2, after=second.next_after)
    assert titles(second) == ["a 2", "a 1"] and titles(third) == ["a 0"]
    assert third.next_after is None
    assert titles(queries.stream(alice, StreamFilter(oldest_first=True), limit=2)) == ["a 0", "a 1"]


def test_nobody_sees_or_changes_anothers_entries(alice: User, bob: User) -> None:
    make_feed("a", alice)
    b = make_feed("b", bob)
    assert {s.feed.title for s in queries.stream(alice, StreamFilter()).entries} == {"a"}
    bobs = list(Entry.objects.filter(feed=b).values_list("id", flat=True))
    assert queries.rows_by_ids(alice, bobs, ["entry__title"]) == []
    assert queries.set_read(alice, bobs, True) == 0
    assert queries.set_starred(alice, bobs, True) == 0
    label = queries.label_named(alice, "mine")
    assert label is not None and queries.set_label(bob, bobs, label, True) == 0
    assert queries.mark_stream_read(alice, StreamFilter(feed_id=b.id)) == 0
    assert EntryState.objects.filter(user=bob, is_read=False, is_starred=False).count() == 3


def test_mark_all_read_stops_at_the_moment_the_page_was_loaded(alice: User) -> None:
    make_feed("a", alice, entries=4)
    changed = queries.mark_stream_read(alice, StreamFilter(until=T0 + timedelta(hours=1)))
    assert changed == 2
    assert titles(queries.stream(alice, StreamFilter())) == ["a 3", "a 2"]
    assert queries.unread_total(alice) == 2


def test_categories_feeds_and_visibility(alice: User) -> None:
    tech = make_feed("tech", alice, entries=2, category="Tech")
    hidden = make_feed("hidden", alice, entries=1, category="Tech")
    Subscription.objects.filter(feed=hidden).update(visibility=Subscription.Visibility.CATEGORY)
    category = Category.objects.get(name="Tech")
    assert len(queries.stream(alice, StreamFilter()).entries) == 2  # kept out of the main stream
    assert len(queries.stream(alice, StreamFilter(category_id=category.id)).entries) == 3
    assert len(queries.stream(alice, StreamFilter(feed_id=hidden.id)).entries) == 1
    assert queries.unread_counts_by_feed(alice) == {tech.id: 2, hidden.id: 1}


def test_read_starred_and_labels(alice: User) -> None:
    feed = make_feed("a", alice, entries=3)
    ids = list(Entry.objects.filter(feed=feed).order_by("id").values_list("id", flat=True))
    assert queries.set_read(alice, ids[:2], True) == 2
    assert queries.set_read(alice, ids[:2], True) == 0  # already read
    assert queries.set_starred(alice, [ids[0]], True) == 1
    assert [s.entry_id for s in queries.stream(alice, StreamFilter(state="starred")).entries] == [
        ids[0]
    ]
    assert queries.starred_count(alice) == 1
    label = queries.label_named(alice, "À lire")
    assert label is not None
    assert queries.set_label(alice, ids, label, True) == 3
    assert len(queries.stream(alice, StreamFilter(state="all", label_id=label.id)).entries) == 3
    assert queries.set_label(alice, ids[:1], label, False) == 1
    excluded = queries.stream(alice, StreamFilter(state="all", exclude_label_id=label.id))
    assert [s.entry_id for s in excluded.entries] == [ids[0]]
    assert queries.unread_total(alice) == 1
    above, _ = queries.stream_entry_ids(alice, StreamFilter(state="all", min_id=ids[0]))
    assert sorted(above) == ids[1:]


def test_pages_are_bounded_whatever_is_asked(alice: User) -> None:
    make_feed("a", alice, entries=3)
    assert len(queries.stream(alice, StreamFilter(), limit=100_000).entries) == 3
    assert queries.MAX_PAGE == 1000


def test_subscription_lines_are_the_subscriptions_as_plain_rows(alice: User, bob: User) -> None:
    make_feed("b", alice, category="Tech")
    make_feed("a", alice, category="Tech")
    make_feed("loose", alice)
    make_feed("bobs", bob)
    Subscription.objects.filter(user=alice, feed__title="b").update(title="Mine")
    lines = queries.subscription_lines(alice)
    subs = queries.subscriptions(alice)
    assert [line.feed_id for line in lines] == [sub.feed_id for sub in subs]
    assert [line.display_title for line in lines] == [sub.display_title for sub in subs]
    assert [line.category_id for line in lines] == [sub.category_id for sub in subs]
    assert "Mine" in [line.display_title for line in lines]


def test_a_fever_page_reads_the_persons_own_states_in_id_order(alice: User, bob: User) -> None:
    # Through the primary key, the page stepped over every other person's states among
    # alice's: all of them when she followed her feeds after bob (docs/api-bench.md).
    make_feed("shared", bob, alice, entries=3)
    with CaptureQueriesContext(connection) as run:
        page = queries.states_by_state_id(alice, above=0, limit=2)
    assert [s.user_id for s in page] == [alice.pk, alice.pk]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + run.captured_queries[0]["sql"])
        else:
            # A table of six rows is read whole, whatever its indexes: ask how it would seek.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + run.captured_queries[0]["sql"])
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "state_user_id_idx" in plan
