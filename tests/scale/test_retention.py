"""Retention keeps what FreshRSS keeps: the newest, the starred, the labelled, the unread if
asked, and whatever the feed still lists; the rest goes, in small batches, leaving tombstones."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from liseuse import cli
from liseuse.accounts.models import User
from liseuse.feeds import retention
from liseuse.feeds import worker
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import EntryTombstone
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Label
from liseuse.feeds.models import RetentionRule
from liseuse.feeds.subscribe import follow
from tests.httpserver import LocalServer
from tests.httpserver import Reply


@pytest.fixture(autouse=True)
def _instance_limits() -> Iterator[None]:
    with override_settings(
        LISEUSE_RETENTION_KEEP_MAX=4,
        LISEUSE_RETENTION_KEEP_MIN=2,
        LISEUSE_RETENTION_KEEP_DAYS=0,
        LISEUSE_RETENTION_KEEP_UNREAD=False,
    ):
        yield


def _feed_with_entries(user: User, count: int = 10, *, days_apart: int = 1) -> Feed:
    follow(user, "http://feeds.example/f")
    feed = Feed.objects.get()
    now = timezone.now()
    for n in range(count):  # e0 is the newest
        entry = Entry.objects.create(
            feed=feed,
            identity=f"e{n}",
            content_hash="h",
            title=f"e{n}",
            published=now - timedelta(days=n * days_apart, minutes=1),
        )
        EntryState.objects.create(
            user=user, entry=entry, feed=feed, sort_date=entry.published, is_read=True
        )
    return feed


def _left() -> list[str]:
    return sorted(Entry.objects.values_list("identity", flat=True), key=lambda i: int(i[1:]))


@pytest.mark.django_db
def test_keeps_the_newest_the_starred_the_labelled_and_what_the_feed_lists(alice: User) -> None:
    feed = _feed_with_entries(alice)
    Feed.objects.filter(id=feed.id).update(listed_identities=["e0", "e9"])
    EntryState.objects.filter(entry__identity="e5").update(is_starred=True)
    label = Label.objects.create(user=alice, name="à garder")
    EntryState.objects.get(entry__identity="e6").labels.add(label)

    assert retention.run_all() == 3
    assert _left() == ["e0", "e1", "e2", "e3", "e5", "e6", "e9"]
    assert sorted(EntryTombstone.objects.values_list("identity", flat=True)) == ["e4", "e7", "e8"]
    assert EntryState.objects.count() == 7, "the states went with their entries"
    assert retention.run_all() == 0, "a second pass finds nothing more"


@pytest.mark.django_db
def test_an_entry_starred_after_the_scan_chose_it_stays(alice: User) -> None:
    feed = _feed_with_entries(alice)
    chosen = retention.purgeable(feed, now=timezone.now())
    assert len(chosen) == 6  # e4…e9, past keep_max
    # Starred and labelled while the scan's choice waits for its delete (the scan reads the
    # whole feed; the person reads meanwhile).
    EntryState.objects.filter(entry__identity="e7").update(is_starred=True)
    label = Label.objects.create(user=alice, name="à relire")
    EntryState.objects.get(entry__identity="e8").labels.add(label)
    assert retention.purge_entries(feed.id, chosen, now=timezone.now()) == 4
    assert _left() == ["e0", "e1", "e2", "e3", "e7", "e8"]
    tombstones = set(EntryTombstone.objects.values_list("identity", flat=True))
    assert tombstones == {"e4", "e5", "e6", "e9"}  # none for what stayed


@pytest.mark.django_db
def test_unread_entries_stay_when_the_instance_says_so(alice: User, bob: User) -> None:
    feed = _feed_with_entries(alice)
    follow(bob, feed.url)
    entry = Entry.objects.get(identity="e8")
    # Bob (who follows it now) read everything but e8, which Alice read: it stays for Bob.
    EntryState.objects.filter(user=bob).update(is_read=True)
    EntryState.objects.update_or_create(
        user=bob,
        entry=entry,
        defaults={"feed": feed, "sort_date": entry.published, "is_read": False},
    )
    with override_settings(LISEUSE_RETENTION_KEEP_UNREAD=True):
        retention.run_all()
    assert _left() == ["e0", "e1", "e2", "e3", "e8"]


@pytest.mark.django_db
def test_a_feed_may_keep_by_age_with_its_own_limits(alice: User) -> None:
    feed = _feed_with_entries(alice, days_apart=10)  # e0 today … e9 ninety days ago
    Feed.objects.filter(id=feed.id).update(keep_max=0, keep_days=35, keep_min=1)
    retention.run_all()
    assert _left() == ["e0", "e1", "e2", "e3"]


@pytest.mark.django_db
def test_a_background_pass_deletes_a_small_batch_then_goes_on(alice: User) -> None:
    _feed_with_entries(alice, count=30)
    cursor = retention.Cursor()
    assert retention.run(max_entries=10, cursor=cursor) == 10
    assert retention.run(max_entries=10, cursor=cursor) == 10
    assert retention.run(max_entries=10, cursor=cursor) == 6
    assert retention.run(max_entries=10, cursor=cursor) == 0
    assert Entry.objects.count() == 4


@pytest.mark.django_db
def test_nothing_is_deleted_without_a_limit(alice: User) -> None:
    _feed_with_entries(alice)
    with override_settings(LISEUSE_RETENTION_KEEP_MAX=0):
        assert retention.run_all() == 0
    assert Entry.objects.count() == 10


@pytest.mark.django_db
def test_old_tombstones_go_unless_the_feed_lists_their_entry_again(alice: User) -> None:
    feed = _feed_with_entries(alice, count=0)
    Feed.objects.filter(id=feed.id).update(listed_identities=["listed"])
    now = timezone.now()
    for identity, days in (("old", 181), ("listed", 400), ("recent", 179)):
        EntryTombstone.objects.create(
            feed=feed, identity=identity, purged_at=now - timedelta(days=days)
        )
    with override_settings(LISEUSE_RETENTION_TOMBSTONE_DAYS=0):
        retention.run_all()
    assert EntryTombstone.objects.count() == 3, "0 keeps them for ever"
    retention.run_all()
    assert sorted(EntryTombstone.objects.values_list("identity", flat=True)) == [
        "listed",
        "recent",
    ]


@pytest.mark.django_db
def test_forgetting_tombstones_is_bounded_per_pass(alice: User) -> None:
    feed = _feed_with_entries(alice, count=0)
    long_ago = timezone.now() - timedelta(days=365)
    EntryTombstone.objects.bulk_create(
        EntryTombstone(feed=feed, identity=f"t{n}", purged_at=long_ago) for n in range(25)
    )
    cursor = retention.Cursor()
    retention.run(max_entries=10, cursor=cursor)
    assert EntryTombstone.objects.count() == 15
    retention.run_all()
    assert EntryTombstone.objects.count() == 0


@pytest.mark.django_db
def test_a_feed_listing_more_items_than_a_query_takes_parameters_stops_no_retention(
    alice: User,
) -> None:
    # A feed may list any number of items (a hostile one, hundreds of thousands within the
    # fetch cap). Sent as the parameters of one query, the list went past SQLite's limit
    # (32,766 in its default build): the pass failed on that feed, and, starting from it
    # again each time, never reached the feeds after it.
    feed = _feed_with_entries(alice, count=0)
    other = follow(alice, "http://feeds.example/other").feed  # (a feed nobody follows is skipped)
    connection.ensure_connection()
    many = 40_000
    if connection.vendor == "sqlite":
        raw = connection.connection
        assert raw is not None
        many = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) + 1
    listed = ["kept", *(f"l{n}" for n in range(many))]
    Feed.objects.filter(id=feed.id).update(listed_identities=listed)
    long_ago = timezone.now() - timedelta(days=365)
    EntryTombstone.objects.bulk_create(
        EntryTombstone(feed=f, identity=identity, purged_at=long_ago)
        for f, identity in ((feed, "kept"), (feed, "old"), (other, "old"))
    )
    retention.run_all()
    assert list(EntryTombstone.objects.values_list("feed_id", "identity")) == [(feed.id, "kept")]


@pytest.mark.django_db(transaction=True)
def test_a_refresh_records_what_the_feed_lists_and_a_purged_entry_stays_away(
    alice: User,
) -> None:
    items = "".join(
        f"<item><guid>g{i}</guid><title>T{i}</title>"
        f"<pubDate>Mon, 1{i} Jan 2024 00:00:00 GMT</pubDate></item>"
        for i in range(6)
    )
    body = f'<rss version="2.0"><channel><title>L</title>{items}</channel></rss>'.encode()
    with (
        LocalServer({"/f": Reply(body=body)}) as server,
        override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True),
    ):
        follow(alice, server.url("/f"))
        worker.refresh_once(all_feeds=True)
        feed = Feed.objects.get()
        assert len(feed.listed_identities) == 6
        # The feed lists all six: nothing may go.
        assert retention.run_all() == 0
        # Once it lists only the newest two, the older ones may.
        Feed.objects.filter(id=feed.id).update(listed_identities=feed.listed_identities[-2:])
        assert retention.run_all() == 2
        # Served the old document again, the purged entries do not come back.
        Feed.objects.filter(id=feed.id).update(next_fetch_at=timezone.now())
        worker.refresh_once(all_feeds=True)
    assert Entry.objects.count() == 4


def _states_of(user: User) -> list[str]:
    identities = EntryState.objects.filter(user=user).values_list("entry__identity", flat=True)
    return sorted(identities, key=lambda i: int(i[1:]))


@pytest.mark.django_db
def test_a_persons_own_limits_remove_only_their_states_until_nobody_has_an_entry(
    alice: User, bob: User
) -> None:
    feed = _feed_with_entries(alice)
    follow(bob, feed.url)
    for entry in Entry.objects.all():
        EntryState.objects.update_or_create(
            user=bob, entry=entry, defaults={"feed": feed, "sort_date": entry.published}
        )
    EntryState.objects.update(is_read=True)
    EntryState.objects.filter(user=alice, entry__identity="e7").update(is_starred=True)
    with override_settings(LISEUSE_RETENTION_KEEP_MAX=0, LISEUSE_RETENTION_KEEP_MIN=1):
        RetentionRule.objects.create(user=alice, keep_max=3)
        retention.run_all()
        assert _states_of(alice) == ["e0", "e1", "e2", "e7"]
        assert len(_states_of(bob)) == 10 and Entry.objects.count() == 10, "Bob still reads them"

        RetentionRule.objects.create(user=bob, keep_max=5)
        retention.run_all()
        assert _states_of(bob) == ["e0", "e1", "e2", "e3", "e4"]
        # e5, e6, e8, e9: nobody's any more; e7 is Alice's star.
        assert _left() == ["e0", "e1", "e2", "e3", "e4", "e7"]
        assert EntryTombstone.objects.count() == 4


@pytest.mark.django_db
def test_a_categorys_rule_wins_over_the_persons_general_one(alice: User) -> None:
    _feed_with_entries(alice)
    subscription = alice.subscriptions.get()
    subscription.category = Category.objects.create(user=alice, name="Presse")
    subscription.save()
    RetentionRule.objects.create(user=alice, keep_max=2)
    RetentionRule.objects.create(user=alice, category=subscription.category, keep_max=6)
    with override_settings(LISEUSE_RETENTION_KEEP_MAX=0, LISEUSE_RETENTION_KEEP_MIN=0):
        retention.run_all()
    assert len(_states_of(alice)) == 6
    assert Entry.objects.count() == 6, "alone on the feed: her old entries went too"


@pytest.mark.django_db
def test_the_command_sets_feed_and_person_rules(
    alice: User, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = _feed_with_entries(alice)
    cli.main(["retention-rule", "--feed", str(feed.id), "--keep-max", "7"])
    feed.refresh_from_db()
    assert (feed.keep_max, feed.keep_min) == (7, None)
    cli.main(["retention-rule", "--user", "alice", "--keep-days", "90"])
    assert RetentionRule.objects.get(user=alice, category=None).keep_days == 90
    assert "alice, all feeds: keep_max=default, keep_min=default, keep_days=90" in (
        capsys.readouterr().out
    )
    with pytest.raises(SystemExit):
        cli.main(["retention-rule", "--user", "alice", "--category", "Nope", "--keep-max", "1"])
    assert "no category named 'Nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["retention-rule", "--keep-max", "1"])
    cli.main(["retention"])
    # Her rule takes the instance's keep_max (4) for what it does not say; she alone follows
    # the feed, so the entries her states leave go too: 6 states, 6 entries.
    assert "retention: 12 entries and reading states deleted (past" in capsys.readouterr().out
    assert _left() == ["e0", "e1", "e2", "e3"]


def _matches(word: str) -> list[int]:
    """The entries the search index gives for a word (SQLite's FTS5 table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rowid FROM liseuse_entry_fts WHERE liseuse_entry_fts MATCH %s", [word]
        )
        return [row[0] for row in cursor.fetchall()]


def _pending() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM liseuse_entry_fts_pending")
        return int(cursor.fetchone()[0])


def _a_day_ago_and_more(feed: Feed) -> None:
    Feed.objects.filter(id=feed.id).update(
        unfollowed_at=timezone.now() - retention.UNFOLLOWED_GRACE - timedelta(minutes=1)
    )


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's FTS5 tables")
def test_a_feed_nobody_follows_goes_a_day_later_in_batches_with_all_it_had(
    alice: User, bob: User
) -> None:
    from liseuse.accounts.services import delete_user
    from liseuse.feeds import search

    feed = _feed_with_entries(alice, count=10, days_apart=0)
    Entry.objects.filter(feed=feed).update(content="<p>jeton secret</p>")
    search.index_pending()
    indexed = sorted(Entry.objects.values_list("id", flat=True))
    assert _matches("jeton") == indexed
    Entry.objects.create(feed=feed, identity="queued", content_hash="h", published=timezone.now())
    EntryTombstone.objects.create(feed=feed, identity="gone")
    other = Feed.objects.create(url="http://feeds.example/bob")
    follow(bob, other.url)
    delete_user(alice)

    # Found unfollowed: noted, kept for the day's grace; the walk leaves it alone meanwhile.
    retention.run_all()
    feed.refresh_from_db()
    assert feed.unfollowed_at is not None and Entry.objects.filter(feed=feed).count() == 11

    _a_day_ago_and_more(feed)
    assert retention.run(max_entries=4) == 4  # bounded, as every retention pass
    assert Entry.objects.filter(feed=feed).count() == 7
    retention.run_all()
    assert not Feed.objects.filter(id=feed.id).exists()
    assert not Entry.objects.exists() and not EntryTombstone.objects.exists()
    assert not EntryState.objects.exists() and _pending() == 0 and _matches("jeton") == []
    assert Feed.objects.filter(id=other.id, unfollowed_at=None).exists()  # bob's stays


@pytest.mark.django_db
def test_following_again_within_the_day_keeps_the_feed(alice: User) -> None:
    from liseuse.feeds.models import Subscription
    from liseuse.feeds.subscribe import unfollow

    feed = _feed_with_entries(alice, count=3)
    unfollow(Subscription.objects.get(user=alice))
    retention.run_all()
    _a_day_ago_and_more(feed)
    follow(alice, feed.url)  # back before the pass came round again
    unfollow(Subscription.objects.get(user=alice))
    retention.run_all()
    feed.refresh_from_db()
    # Its day starts afresh: nobody has followed it for less than a day.
    assert feed.unfollowed_at is not None
    assert feed.unfollowed_at > timezone.now() - timedelta(minutes=1)
    assert Entry.objects.filter(feed=feed).count() == 3


@pytest.mark.django_db
def test_a_feed_of_which_someone_keeps_an_entry_is_not_nobodys(alice: User) -> None:
    from liseuse.feeds.models import Subscription

    # As a backup's import leaves it: a starred entry of a feed the person no longer follows.
    feed = _feed_with_entries(alice, count=3)
    Subscription.objects.filter(user=alice).delete()
    EntryState.objects.filter(entry__identity="e1").update(is_starred=True)
    retention.run_all()
    _a_day_ago_and_more(feed)
    retention.run_all()
    assert Feed.objects.filter(id=feed.id).exists()
    assert Entry.objects.filter(identity="e1").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("days", [1_000_000, 2**31 - 1])
def test_an_age_limit_past_any_date_is_no_limit_and_stops_nothing(alice: User, days: int) -> None:
    # A limit the rules accept (up to 2**31 - 1 days) made `now - days` overflow: that feed's
    # pass failed at every turn, and retention never went past it to the other feeds.
    feed = _feed_with_entries(alice)
    Feed.objects.filter(id=feed.id).update(keep_days=days)
    with override_settings(LISEUSE_RETENTION_KEEP_DAYS=days, LISEUSE_RETENTION_TOMBSTONE_DAYS=days):
        assert retention.run_all() == 6  # kept by keep_max=4, not by age
    assert _left() == ["e0", "e1", "e2", "e3"]


@pytest.mark.django_db
def test_the_command_changes_only_the_limits_given_and_shows_the_rule(
    alice: User, capsys: pytest.CaptureFixture[str]
) -> None:
    # Giving one limit put the others back to the default, without a word of warning.
    feed = _feed_with_entries(alice)
    target = ["retention-rule", "--feed", str(feed.id)]
    cli.main([*target, "--keep-min", "10", "--keep-days", "5"])
    cli.main([*target, "--keep-max", "50"])
    feed.refresh_from_db()
    assert (feed.keep_max, feed.keep_min, feed.keep_days) == (50, 10, 5)
    capsys.readouterr()
    cli.main(target)  # no limit: shown, not changed
    assert capsys.readouterr().out == f"feed {feed.id}: keep_max=50, keep_min=10, keep_days=5\n"
    cli.main([*target, "--reset"])
    feed.refresh_from_db()
    assert (feed.keep_max, feed.keep_min, feed.keep_days) == (None, None, None)

    person = ["retention-rule", "--user", "alice"]
    cli.main([*person, "--keep-days", "90"])
    cli.main([*person, "--keep-max", "30"])
    rule = RetentionRule.objects.get(user=alice, category=None)
    assert (rule.keep_max, rule.keep_days) == (30, 90)
    cli.main([*person, "--reset"])
    assert not RetentionRule.objects.filter(user=alice).exists()
    capsys.readouterr()
    cli.main(person)
    assert capsys.readouterr().out == (
        "alice, all feeds: keep_max=default, keep_min=default, keep_days=default\n"
    )
