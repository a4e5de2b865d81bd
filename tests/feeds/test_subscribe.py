"""Following a URL a person gives: a feed, or a site whose feeds are discovered."""

from __future__ import annotations

import io
from collections.abc import Iterator
from collections.abc import Sequence
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.cli import main
from liseuse.feeds import subscribe
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import SubscribeError
from liseuse.feeds.subscribe import change_url
from liseuse.feeds.subscribe import follow
from liseuse.feeds.subscribe import subscribe_url
from liseuse.feeds.worker import refresh_once
from tests.httpserver import LocalServer
from tests.httpserver import Reply

pytestmark = pytest.mark.django_db(transaction=True)

RSS = b'<rss version="2.0"><channel><title>Le flux</title><item><guid>1</guid><title>Un</title></item></channel></rss>'
ATOM = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom du site</title><id>x</id></feed>'


def page(*links: str) -> Reply:
    head = "".join(links)
    return Reply(
        headers={"Content-Type": "text/html"},
        body=f"<html><head>{head}</head><body>Bonjour</body></html>".encode(),
    )


@pytest.fixture(autouse=True)
def _allow_loopback() -> Iterator[None]:
    with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        yield


def test_a_feed_url_is_followed_as_is(alice: User) -> None:
    with LocalServer({"/rss": Reply(body=RSS)}) as server:
        sub = subscribe_url(alice, server.url("/rss"), category="Libre")
    assert (
        sub.feed.url == server.url("/rss")
        and sub.category is not None
        and sub.category.name == "Libre"
    )


def test_a_new_feed_is_fetched_at_once_a_followed_one_is_not(alice: User, bob: User) -> None:
    server = LocalServer({"/rss": Reply(body=RSS)})
    with server:
        first = subscribe_url(alice, server.url("/rss"))
        asked_by_alice = server.paths()
        subscribe_url(bob, server.url("/rss"))
    # Discovery, then the first fetch (and its look for an icon): the feed's name and entries
    # are there straight away.
    assert asked_by_alice.count("/rss") == 2
    assert first.display_title == "Le flux"
    assert EntryState.objects.filter(user=alice, entry__title="Un").count() == 1
    # Already followed: nothing asked, the newcomer gets the entries the feed has.
    assert server.paths() == asked_by_alice
    assert EntryState.objects.filter(user=bob, entry__title="Un").count() == 1


def test_a_first_fetch_that_fails_leaves_the_subscription_and_says_why(alice: User) -> None:
    answers = iter([Reply(body=RSS), Reply(status=503)])
    with LocalServer({"/rss": lambda request: next(answers)}) as server:
        sub = subscribe_url(alice, server.url("/rss"))
    feed = Feed.objects.get(pk=sub.feed_id)
    assert feed.error_count == 1 and "503" in feed.last_error


def test_a_page_with_one_feed_link_follows_it(alice: User) -> None:
    routes = {
        "/": page('<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss">'),
        "/rss": Reply(body=RSS),
    }
    with LocalServer(routes) as server:
        sub = subscribe_url(alice, server.url("/"))
    assert sub.feed.url == server.url("/rss")


def test_a_page_with_several_feeds_asks_which(alice: User) -> None:
    routes = {
        "/blog": page(
            '<link rel="alternate" type="application/rss+xml" title="Articles" href="/rss">',
            '<link rel="alternate" type="application/atom+xml" title="Commentaires" href="comments.atom">',
        ),
        "/rss": Reply(body=RSS),
        "/comments.atom": Reply(body=ATOM),
    }
    offered: list[Sequence[tuple[str, str]]] = []

    def choose(options: Sequence[tuple[str, str]]) -> str:
        offered.append(options)
        return options[1][0]

    with LocalServer(routes) as server:
        with pytest.raises(SubscribeError, match="Several feeds were found for"):
            subscribe_url(alice, server.url("/blog"))
        sub = subscribe_url(alice, server.url("/blog"), choose=choose)
    assert offered == [
        [(server.url("/rss"), "Articles"), (server.url("/comments.atom"), "Commentaires")]
    ]
    assert sub.feed.url == server.url("/comments.atom")


def test_a_page_without_links_is_searched_at_the_common_paths(alice: User) -> None:
    with LocalServer({"/": page(), "/feed": Reply(body=RSS)}) as server:
        sub = subscribe_url(alice, server.url("/"))
    assert sub.feed.url == server.url("/feed")


def test_a_page_without_any_feed_says_so(alice: User) -> None:
    with LocalServer({"/": page()}) as server, pytest.raises(SubscribeError, match="no feed"):
        subscribe_url(alice, server.url("/"))
    assert not Subscription.objects.exists()


def test_bad_urls_and_private_addresses_are_refused_in_words(alice: User) -> None:
    with pytest.raises(SubscribeError, match="only http and https"):
        subscribe_url(alice, "javascript:alert(1)")
    # Words are no address: "https://not a url/" was followed, then failed to resolve for ever.
    for words in ("not a url", 'https://a"b.example/feed', "https://a<b>.example/"):
        with pytest.raises(SubscribeError, match="host is not a valid address"):
            subscribe_url(alice, words)
    with (
        LocalServer({"/rss": Reply(body=RSS)}) as server,
        override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=False),
    ):
        with pytest.raises(SubscribeError, match="refused"):
            subscribe_url(alice, server.url("/rss"))
        assert server.requests == []


def test_following_twice_is_refused(alice: User) -> None:
    follow(alice, "https://a.example/feed")
    with pytest.raises(SubscribeError, match="already follows"):
        subscribe_url(alice, "https://a.example/feed")


def test_a_newcomer_to_a_shared_feed_sees_its_recent_entries(alice: User, bob: User) -> None:
    from django.utils import timezone

    from liseuse.feeds.models import Entry

    feed = Feed.objects.create(url="https://a.example/feed")
    Entry.objects.create(
        feed=feed, identity="i1", content_hash="h", title="Un", published=timezone.now()
    )
    follow(alice, feed.url)
    follow(bob, feed.url)
    assert EntryState.objects.filter(user=bob, is_read=False).count() == 1


def test_feed_add_on_the_command_line(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    routes = {
        "/": page(
            '<link rel="alternate" type="application/rss+xml" href="/a.rss">',
            '<link rel="alternate" type="application/rss+xml" href="/b.rss">',
        ),
        "/a.rss": Reply(body=RSS),
    }
    with LocalServer(routes) as server:
        with pytest.raises(SystemExit):
            main(["feed", "add", server.url("/"), "--user", "alice"])
        err = capsys.readouterr().err
        assert "Several feeds were found for" in err and server.url("/a.rss") in err
        main(["feed", "add", server.url("/a.rss"), "--user", "alice", "--category", "Tech"])
    assert "following " + server.url("/a.rss") in capsys.readouterr().out
    assert Subscription.objects.get().category.name == "Tech"  # type: ignore[union-attr]


@pytest.mark.parametrize("comes_back", [True, False])
def test_following_a_disabled_feed_tries_it_at_once(
    alice: User, bob: User, comes_back: bool
) -> None:
    """A 410 Gone disabled the feed for its first follower; the refresh loop never tries it
    again. A newcomer's follow does, as for a new feed: the feed comes back to life, or its
    health says it is still gone."""
    answer = Reply(body=RSS) if comes_back else Reply(status=410)
    with LocalServer({"/rss": answer}) as server:
        Feed.objects.create(url=server.url("/rss"), disabled=True, last_error="HTTP 410 Gone")
        follow(alice, server.url("/rss"))
        sub = subscribe_url(bob, server.url("/rss"))
        asked = server.paths()
    feed = Feed.objects.get(pk=sub.feed_id)
    assert asked.count("/rss") == 1  # (and, once back, a look for its icon)
    if comes_back:
        assert not feed.disabled and feed.title == "Le flux" and not feed.last_error
        assert EntryState.objects.filter(user=bob, entry__title="Un").count() == 1
    else:
        assert feed.disabled and "410" in feed.last_error


def test_a_category_of_spaces_is_no_category(alice: User) -> None:
    sub = follow(alice, "https://feeds.example/rss", category="   ")
    assert sub.category is None and not alice.categories.exists()


MOVED = b'<rss version="2.0"><channel><title>Le flux</title><item><guid>1</guid><title>Un</title></item><item><guid>2</guid><title>Deux</title></item></channel></rss>'


def test_a_feed_moved_by_its_follower_keeps_its_entries_and_stars(alice: User) -> None:
    # FreshRSS's feed settings change a feed's address when its site moves; unfollowing and
    # following again would lose the stars.
    routes = {"/old.rss": Reply(headers={"ETag": '"old"'}, body=RSS), "/new.rss": Reply(body=MOVED)}
    with LocalServer(routes) as server:
        sub = subscribe_url(alice, server.url("/old.rss"))
        EntryState.objects.filter(user=alice).update(is_starred=True)
        assert change_url(sub, server.url("/new.rss"))
        assert not change_url(sub, server.url("/new.rss"))  # the same: nothing to do
        feed = Feed.objects.get()
        assert feed.url == server.url("/new.rss") and feed.etag == ""
        # Due now: the refresh loop's next look fetches it from there.
        assert refresh_once().count("updated") == 1
    fetched = [path for path in server.paths() if path.endswith(".rss")]
    assert fetched[-1] == "/new.rss" and "/new.rss" not in fetched[:-1]
    states = EntryState.objects.filter(user=alice).order_by("entry__title")
    assert [(s.entry.title, s.is_starred) for s in states] == [("Deux", False), ("Un", True)]


def test_a_shared_feed_or_a_taken_address_is_not_moved(alice: User, bob: User) -> None:
    shared = follow(alice, "https://shared.example/feed")
    follow(bob, "https://shared.example/feed")
    with pytest.raises(SubscribeError, match="Others follow this feed"):
        change_url(shared, "https://elsewhere.example/feed")
    mine = follow(alice, "https://mine.example/feed")
    with pytest.raises(SubscribeError, match=r"You follow .* already"):
        change_url(mine, "https://shared.example/feed")
    Feed.objects.filter(url="https://shared.example/feed").update(disabled=True)
    Subscription.objects.filter(user=alice, feed__url="https://shared.example/feed").delete()
    with pytest.raises(SubscribeError, match="Another feed has the address"):
        change_url(mine, "https://shared.example/feed")  # gone (410): no feed to become
    with pytest.raises(SubscribeError):
        change_url(mine, "ftp://mine.example/feed")
    assert sorted(Feed.objects.values_list("url", flat=True)) == [
        "https://mine.example/feed",
        "https://shared.example/feed",
    ]


def test_a_feed_moved_to_the_address_of_another_becomes_one_with_it(alice: User, bob: User) -> None:
    routes = {"/old.rss": Reply(body=MOVED), "/new.rss": Reply(body=MOVED)}
    with LocalServer(routes) as server:
        mine = subscribe_url(alice, server.url("/old.rss"), category="Lu", title="Le mien")
        theirs = subscribe_url(bob, server.url("/new.rss"))
        EntryState.objects.filter(user=alice, entry__title="Un").update(is_starred=True)
        Feed.objects.filter(pk=theirs.feed_id).update(
            lease_owner="a worker", lease_until=timezone.now() + timedelta(minutes=5)
        )
        with pytest.raises(SubscribeError, match="is being refreshed right now"):
            change_url(mine, server.url("/new.rss"))
        Feed.objects.filter(pk=theirs.feed_id).update(lease_owner="", lease_until=None)
        assert change_url(mine, server.url("/new.rss"))
    # Her subscription, as she had it, now of the feed Bob follows; her star kept; one row.
    assert (mine.feed_id, mine.feed.url) == (theirs.feed_id, server.url("/new.rss"))
    mine.refresh_from_db()
    assert (mine.title, mine.category and mine.category.name) == ("Le mien", "Lu")
    assert list(Feed.objects.values_list("pk", flat=True)) == [theirs.feed_id]
    states = EntryState.objects.filter(user=alice).order_by("entry__title")
    assert [(s.entry.title, s.is_starred, s.feed_id) for s in states] == [
        ("Deux", False, theirs.feed_id),
        ("Un", True, theirs.feed_id),
    ]


def test_a_move_the_database_refuses_for_now_is_told_not_crashed(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL fails one of two transactions that wait for each other (a merge crossing
    # another): the person is asked to try again, not shown an error page.
    mine = follow(alice, "https://mine.example/feed")

    def deadlocked(*args: object) -> None:
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(subscribe, "_move", deadlocked)
    with pytest.raises(SubscribeError, match="try again in a moment"):
        change_url(mine, "https://moved.example/feed")
    assert Feed.objects.get().url == "https://mine.example/feed"


def test_a_feed_is_not_moved_while_a_refresh_holds_it(alice: User) -> None:
    # The refresh under way would write the old address's ETag and next fetch (hours away)
    # over the moved feed's, and the new address would wait that long.
    mine = follow(alice, "https://mine.example/feed")
    Feed.objects.filter(pk=mine.feed_id).update(
        lease_owner="a worker", lease_until=timezone.now() + timedelta(minutes=5)
    )
    with pytest.raises(SubscribeError, match="being refreshed right now"):
        change_url(mine, "https://moved.example/feed")
    Feed.objects.filter(pk=mine.feed_id).update(lease_owner="", lease_until=None)
    assert change_url(mine, "https://moved.example/feed")
    with pytest.raises(SubscribeError, match="host is not a valid address"):
        change_url(mine, "not a url")
    assert Feed.objects.get().url == "https://moved.example/feed"
