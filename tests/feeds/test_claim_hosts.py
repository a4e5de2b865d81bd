"""Claims keep hosts apart: while one worker holds feeds of a host, no other takes any feed of
that host, so the per-host limit of one refresh process holds for every worker together. A
worker's batch spreads over as few hosts as keep its fetches busy, so that the others find
hosts of their own. Leases are compared with the database's time, not the worker's.

Runs on the suite's database (SQLite, or PostgreSQL in CI). Several real workers against slow
hosts: tests/scale/test_leases.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import claim
from liseuse.feeds import worker
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.models import feed_host
from liseuse.feeds.store import DjangoStore
from liseuse.pipeline.refresh import FeedToRefresh
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import SeenRequest

pytestmark = pytest.mark.django_db

LEASE = timedelta(minutes=10)
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _feeds(alice: User, hosts: dict[str, int], *, due: datetime = T0) -> dict[str, list[int]]:
    """`hosts[name]` followed feeds on each host, all due at `due`, the first host's first."""
    made: dict[str, list[int]] = {}
    order = 0
    for host, count in hosts.items():
        for n in range(count):
            order += 1
            feed = Feed.objects.create(
                url=f"https://{host}/feed/{n}", next_fetch_at=due + timedelta(seconds=order)
            )
            Subscription.objects.create(user=alice, feed=feed)
            made.setdefault(host, []).append(feed.pk)
    return made


def _claim(owner: str, limit: int, *, now: datetime = T0 + timedelta(hours=1)) -> set[int]:
    return {f.id for f in claim.claim_feeds(owner=owner, now=now, lease=LEASE, limit=limit)}


@pytest.fixture
def alice() -> User:
    return User.objects.create(username="alice")


def _limits(overall: int, per_host: int = 2) -> override_settings:
    """A process fetches `overall` feeds at a time, `per_host` from one host: a batch spreads
    over overall / per_host hosts."""
    return override_settings(LISEUSE_FETCH_CONCURRENCY=overall, LISEUSE_FETCH_PER_HOST=per_host)


def test_a_feed_knows_its_host_however_it_was_written(alice: User) -> None:
    made = Feed.objects.create(url="https://Blog.Example:8443/feed")
    Feed.objects.bulk_create([Feed(url="http://other.example/rss")])
    assert Feed.objects.get(pk=made.pk).host == "blog.example"
    assert Feed.objects.get(url="http://other.example/rss").host == "other.example"
    # A feed moved by a permanent redirect fetches from its new host, and from no other.
    Feed.objects.filter(pk=made.pk).update(redirect_host="new.example")
    DjangoStore()._move_feed(made.pk, "https://new.example/feed")
    moved = Feed.objects.get(pk=made.pk)
    assert (moved.host, moved.redirect_host) == ("new.example", "")
    assert feed_host("http://[::1/") == ""  # damaged: no host, no error


def test_a_host_held_by_one_worker_is_left_out_of_anothers_claim(alice: User) -> None:
    made = _feeds(alice, {"a.example": 3, "b.example": 3})
    with _limits(overall=2):  # one host at a time: three feeds of a.example make a batch
        first = _claim("one", 3)
    assert first == set(made["a.example"]), "the feeds due first, of one host"
    # a.example's feeds are all taken; b.example's are the only ones left to the second worker,
    # and it would have taken a.example's too if any were free: one more feed there.
    extra = Feed.objects.create(url="https://a.example/late", next_fetch_at=T0)
    Subscription.objects.create(user=alice, feed=extra)
    second = _claim("two", 10)
    assert second == set(made["b.example"])
    assert extra.pk not in second
    # The owner itself may go on with its host.
    assert _claim("one", 10) == {extra.pk}


def test_a_batch_spreads_over_as_few_hosts_as_keep_its_fetches_busy(alice: User) -> None:
    # Due in turn a, b, c, d, a, b…: the first four due span four hosts.
    hosts = ("a.example", "b.example", "c.example", "d.example")
    for n in range(4):
        for host in hosts:
            feed = Feed.objects.create(url=f"https://{host}/{n}", next_fetch_at=T0)
            Subscription.objects.create(user=alice, feed=feed)

    def batch(owner: str, limit: int) -> list[str]:
        claimed = claim.claim_feeds(owner=owner, now=T0, lease=LEASE, limit=limit)
        return sorted(feed_host(f.url) for f in claimed)

    with _limits(overall=4):  # two hosts at two requests each keep a batch's four busy
        assert batch("one", 4) == ["a.example"] * 2 + ["b.example"] * 2
        # The next worker gets hosts of its own, and the third finds none left.
        assert batch("two", 4) == ["c.example"] * 2 + ["d.example"] * 2
        assert batch("three", 4) == []
        # Its hosts' other feeds are the first worker's next batch.
        claim.release_feeds("one")
        assert batch("one", 4) == ["a.example"] * 2 + ["b.example"] * 2


def test_a_batch_takes_more_of_each_host_when_there_are_few(alice: User) -> None:
    made = _feeds(alice, {"a.example": 5, "b.example": 5})
    with _limits(overall=100):
        claimed = _claim("one", 8)
    # Fifty hosts would keep 100 fetches busy, two of each; two hosts are all there is: the
    # eight due first, more than two of each.
    assert sorted(claimed) == sorted(made["a.example"] + made["b.example"][:3])


def test_an_ended_lease_does_not_hold_its_host(alice: User) -> None:
    made = _feeds(alice, {"a.example": 2})
    assert _claim("one", 1) == {made["a.example"][0]}
    # The first worker died: once its lease has ended, its host is free, and so is its feed.
    later = T0 + timedelta(hours=1) + LEASE + timedelta(seconds=1)
    assert _claim("two", 10, now=later) == set(made["a.example"])


def test_a_feed_named_by_a_person_or_a_push_is_claimed_whoever_holds_its_host(
    alice: User,
) -> None:
    made = _feeds(alice, {"a.example": 2})
    assert _claim("one", 1) == {made["a.example"][0]}
    wanted = made["a.example"][1]
    claimed = claim.claim_feeds(
        owner="person", now=T0, lease=LEASE, limit=1, due_only=False, feed_ids=[wanted]
    )
    assert [f.id for f in claimed] == [wanted]


def test_refresh_all_leaves_out_the_hosts_others_hold_and_says_how_many(alice: User) -> None:
    made = _feeds(alice, {"a.example": 2, "b.example": 2})
    now = T0 + timedelta(hours=1)
    assert _claim("worker", 1) == {made["a.example"][0]}
    assert claim.held_elsewhere(now=now) == 2, "the leased feed and its host's due one"
    everything = claim.claim_feeds(owner="cli", now=now, lease=LEASE, limit=10, due_only=False)
    assert {f.id for f in everything} == set(made["b.example"])
    claim.release_feeds("cli")
    # Feeds not due yet of a held host are not "left out" of a pass of due feeds.
    Feed.objects.filter(pk=made["a.example"][1]).update(next_fetch_at=now + timedelta(days=1))
    assert claim.held_elsewhere(now=now) == 1
    assert claim.held_elsewhere(now=now, due_only=False) == 2


def test_leases_are_compared_with_the_databases_clock(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = timezone.now()
    assert abs(claim.database_now() - real) < timedelta(seconds=5)
    # This process's clock an hour ahead, as a worker on a machine whose clock drifted.
    monkeypatch.setattr(timezone, "now", lambda: real + timedelta(hours=1))
    if connection.vendor == "postgresql":
        # The database's time: the others' live leases still look live.
        assert abs(claim.database_now() - real) < timedelta(seconds=5)
    else:
        # SQLite is a file on this machine: its time is this machine's.
        assert claim.database_now() == real + timedelta(hours=1)


def test_a_batch_holds_no_more_than_ten_rounds_of_its_fetch_limit(alice: User) -> None:
    made = _feeds(alice, {f"h{n}.example": 10 for n in range(5)})
    with _limits(overall=2):  # two at a time: twenty feeds are ten rounds
        first = _claim("one", 500)
        second = _claim("two", 500)
    assert first == set(made["h0.example"] + made["h1.example"])
    assert second == set(made["h2.example"] + made["h3.example"])


@pytest.mark.django_db(transaction=True)
def test_a_batch_stores_its_times_on_the_databases_clock(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    rss = b'<rss version="2.0"><channel><title>T</title><item><guid>a</guid></item></channel></rss>'
    with (
        LocalServer({"/feed": Reply(body=rss)}) as server,
        override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True),
    ):
        feed = Feed.objects.create(url=server.url("/feed"))
        Subscription.objects.create(user=alice, feed=feed)
        real = timezone.now()
        monkeypatch.setattr(claim, "database_now", lambda: real)
        # This machine's clock an hour ahead of the database's.
        monkeypatch.setattr(timezone, "now", lambda: real + timedelta(hours=1))
        feeds = claim.claim_feeds(owner="w", now=real, lease=LEASE, limit=10)
        assert worker.refresh_batch(feeds, owner="w").count("updated") == 1
    fetched = Feed.objects.get(pk=feed.pk).last_fetched_at
    assert fetched is not None and abs(fetched - real) < timedelta(minutes=1)


def test_a_feed_that_redirects_to_another_host_holds_both_hosts(alice: User) -> None:
    made = _feeds(alice, {"a.example": 1, "b.example": 2, "c.example": 1})
    # a.example's feed answered from b.example last time (a 302: its URL stays); c.example's
    # feed answers from a.example.
    Feed.objects.filter(pk=made["a.example"][0]).update(redirect_host="b.example")
    Feed.objects.filter(pk=made["c.example"][0]).update(redirect_host="a.example")
    with _limits(overall=2):
        assert _claim("one", 1) == set(made["a.example"])
        # Its worker will ask b.example too, and a.example is its: nothing of either for
        # another worker, nor c.example's feed, which would ask a.example.
        assert _claim("two", 10) == set()
    assert claim.held_elsewhere(now=T0 + timedelta(hours=1)) == 4


def test_a_batch_keeps_the_hosts_a_redirect_ties_together_in_one_share() -> None:
    def feed(n: int, url: str, redirect_host: str = "") -> FeedToRefresh:
        return FeedToRefresh(id=n, url=url, redirect_host=redirect_host)

    feeds = [
        feed(1, "https://a.example/1", redirect_host="b.example"),
        feed(2, "https://b.example/2"),
        feed(3, "https://b.example/3"),
        feed(4, "https://c.example/4"),
        feed(5, "https://d.example/5"),
        feed(6, "https://e.example/6", redirect_host="d.example"),
    ]
    shares = [sorted(f.id for f in share) for share in worker.split_by_host(feeds, 3)]
    assert sorted(shares) == [[1, 2, 3], [4], [5, 6]]


def _etagged(body: bytes) -> Callable[[SeenRequest], Reply]:
    def answer(request: SeenRequest) -> Reply:
        if request.headers.get("if-none-match") == '"1"':
            return Reply(304, {"ETag": '"1"'})
        return Reply(body=body, headers={"ETag": '"1"'})

    return answer


@pytest.mark.django_db(transaction=True)
def test_the_store_keeps_the_host_a_feed_redirected_to_and_forgets_it_after(
    alice: User,
) -> None:
    rss = b'<rss version="2.0"><channel><title>T</title><item><guid>a</guid></item></channel></rss>'
    with (
        LocalServer({"/feed": _etagged(rss)}, host="127.0.0.3") as b,
        LocalServer(
            {"/feed": lambda _: Reply(302, {"Location": b.url("/feed")})}, host="127.0.0.2"
        ) as a,
        override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True),
    ):
        feed = Feed.objects.create(url=a.url("/feed"))
        Subscription.objects.create(user=alice, feed=feed)

        def refresh() -> str:
            Feed.objects.update(next_fetch_at=timezone.now())
            feeds = claim.claim_feeds(owner="w", now=timezone.now(), lease=LEASE, limit=10)
            worker.refresh_batch(feeds, owner="w")
            return Feed.objects.get(pk=feed.pk).redirect_host

        assert refresh() == "127.0.0.3"  # a new entry stored
        assert refresh() == "127.0.0.3"  # a 304 at the end of the same 302
        a.routes["/feed"] = Reply(body=rss)  # back home
        assert refresh() == ""
        assert Feed.objects.get(pk=feed.pk).url == a.url("/feed")  # a 302 moves nothing
