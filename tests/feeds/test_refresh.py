"""A refresh end to end: local feeds → pipeline → DjangoStore → the rows people read."""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds import retention
from liseuse.feeds import worker
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import EntryTombstone
from liseuse.feeds.models import Feed
from liseuse.feeds.models import SavedQuery
from liseuse.feeds.subscribe import SubscribeError
from liseuse.feeds.subscribe import follow
from liseuse.feeds.subscribe import subscribe_url
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import Route
from tests.httpserver import SeenRequest

FRAMABLOG = Path(__file__).resolve().parents[1] / "data" / "feeds" / "framablog.rss"

pytestmark = pytest.mark.django_db(transaction=True)


# A site link on loopback's closed port 1: the icon lookup after a fetch fails at once, and no
# test ever reaches beyond this machine.
SITE = "http://127.0.0.1:1/"


def rss(
    *items: tuple[str, str], title: str = "Local", site: str = SITE, ttl: int | None = None
) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{text}</title><link>{site}{guid}</link>"
        f"<description><![CDATA[<p>{text}</p><script>alert(1)</script>"
        f'<a href="/rel?utm_source=x">lien</a>]]></description>'
        f"<pubDate>Mon, 15 Jan 2024 0{i}:00:00 GMT</pubDate></item>"
        for i, (guid, text) in enumerate(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{site}</link>{'' if ttl is None else f'<ttl>{ttl}</ttl>'}{body}</channel></rss>"
    ).encode()


def conditional(body: bytes, etag: str = '"v1"') -> Callable[[SeenRequest], Reply]:
    def answer(request: SeenRequest) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"ETag": etag})
        return Reply(headers={"ETag": etag, "Content-Type": "application/rss+xml"}, body=body)

    return answer


@pytest.fixture(autouse=True)
def _allow_loopback() -> Iterator[None]:
    with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        yield


def test_one_fetch_for_many_followers_and_a_state_for_each(alice: User, bob: User) -> None:
    with LocalServer({"/feed": conditional(rss(("a", "Un"), ("b", "Deux")))}) as server:
        follow(alice, server.url("/feed"))
        follow(bob, server.url("/feed"))
        summary = worker.refresh_once(all_feeds=True)
        assert summary.count("updated") == 1 and summary.new_entries == 2
        assert server.paths().count("/feed") == 1
    assert Entry.objects.count() == 2
    assert EntryState.objects.filter(user=alice, is_read=False).count() == 2
    assert EntryState.objects.filter(user=bob, is_read=False).count() == 2
    feed = Feed.objects.get()
    assert (feed.title, feed.etag, feed.last_error, feed.error_count) == ("Local", '"v1"', "", 0)
    assert feed.last_fetched_at is not None and feed.next_fetch_at > feed.last_fetched_at


def test_stored_content_is_sanitized_and_urls_made_absolute(alice: User) -> None:
    with LocalServer({"/feed": conditional(rss(("a", "Un <b>gras</b>")))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
    entry = Entry.objects.get()
    # A <description> only: the content (stored once, not again as the summary).
    assert "<script" not in entry.content and "alert(1)" not in entry.content
    assert f'href="{SITE}rel"' in entry.content  # absolute, utm_ gone
    assert entry.title == "Un gras"  # titles are plain text


def test_a_second_pass_sends_validators_and_changes_nothing_on_304(alice: User) -> None:
    with LocalServer({"/feed": conditional(rss(("a", "Un")))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        EntryState.objects.update(is_read=True)
        summary = worker.refresh_once(all_feeds=True)
        assert summary.count("not-modified") == 1
        assert server.requests[-1].headers["if-none-match"] == '"v1"'
    assert Entry.objects.count() == 1
    assert EntryState.objects.get().is_read  # read state kept


def test_due_only_pass_skips_feeds_not_due(alice: User) -> None:
    with LocalServer({"/feed": conditional(rss(("a", "Un")))}) as server:
        follow(alice, server.url("/feed"))
        assert worker.refresh_once().count("updated") == 1
        assert worker.refresh_once().reports == []  # next fetch is in the future now
        assert len(server.requests) == 1


def test_a_changed_entry_is_updated_in_place_and_keeps_its_read_state(alice: User) -> None:
    pages = iter([rss(("a", "Premier titre")), rss(("a", "Titre corrigé"), ("b", "Nouveau"))])
    with LocalServer({"/feed": lambda request: Reply(body=next(pages))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        EntryState.objects.update(is_read=True)
        worker.refresh_once(all_feeds=True)
    assert sorted(Entry.objects.values_list("title", flat=True)) == ["Nouveau", "Titre corrigé"]
    assert EntryState.objects.get(entry__title="Titre corrigé").is_read
    assert not EntryState.objects.get(entry__title="Nouveau").is_read


def test_an_undated_entry_keeps_the_date_it_was_first_seen_when_it_changes(alice: User) -> None:
    def undated(text: str) -> bytes:
        return (
            '<rss version="2.0"><channel><title>Sans dates</title>'
            f"<item><guid>a</guid><title>{text}</title></item></channel></rss>"
        ).encode()

    pages = iter([undated("Avant"), undated("Après")])
    with LocalServer({"/feed": lambda request: Reply(body=next(pages))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        first = Entry.objects.get()
        assert first.published == first.first_seen  # no date from the feed: when first seen
        time.sleep(0.01)  # so that "now" at the second fetch is another instant
        worker.refresh_once(all_feeds=True)
    entry = Entry.objects.get()
    assert entry.title == "Après"
    # Its place in the stream does not jump to the top because its text changed.
    assert entry.published == first.published
    assert EntryState.objects.get().sort_date == first.published


def test_a_person_may_ask_to_see_changed_entries_unread_again(alice: User) -> None:
    alice.mark_updated_unread = True
    alice.save()
    pages = iter([rss(("a", "Avant")), rss(("a", "Après"))])
    with LocalServer({"/feed": lambda request: Reply(body=next(pages))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        EntryState.objects.update(is_read=True)
        worker.refresh_once(all_feeds=True)
    assert not EntryState.objects.get().is_read


def test_a_tombstoned_entry_never_comes_back(alice: User) -> None:
    with LocalServer(
        {"/feed": lambda request: Reply(body=rss(("a", "Un"), ("b", "Deux")))}
    ) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        purged = Entry.objects.get(guid="b")
        EntryTombstone.objects.create(feed=purged.feed, identity=purged.identity)
        purged.delete()
        worker.refresh_once(all_feeds=True)
    assert list(Entry.objects.values_list("guid", flat=True)) == ["a"]


def test_broken_feeds_are_marked_with_a_reason_and_never_stop_the_others(alice: User) -> None:
    routes: dict[str, Route] = {
        "/ok": conditional(rss(("a", "Un"))),
        "/html": Reply(
            headers={"Content-Type": "text/html"},
            body=b"<!doctype html><html><body>Hello</body></html>",
        ),
        "/empty": Reply(body=b""),
        "/gone": Reply(status=410),
        "/boom": Reply(status=500),
        "/notjson": Reply(headers={"Content-Type": "application/json"}, body=b'{"hello": "world"}'),
    }
    with LocalServer(routes) as server:
        for path in routes:
            follow(alice, server.url(path))
        follow(alice, server.url("/missing"))
        summary = worker.refresh_once(all_feeds=True)
    assert summary.count("updated") == 1 and summary.count("error") == 6
    errors = {f.url.rsplit("/", 1)[1]: f for f in Feed.objects.all()}
    assert errors["ok"].last_error == "" and Entry.objects.count() == 1
    assert "404" in errors["missing"].last_error
    assert "500" in errors["boom"].last_error
    assert errors["gone"].disabled and "410" in errors["gone"].last_error
    for name in ("html", "empty", "notjson", "missing", "boom"):
        assert errors[name].error_count == 1 and errors[name].last_error, name
        assert not errors[name].disabled, name
        fetched = errors[name].last_fetched_at
        assert fetched is not None and errors[name].next_fetch_at > fetched


def test_the_refresh_loop_refuses_loopback_by_default(alice: User) -> None:
    with LocalServer({"/feed": Reply(body=rss(("a", "Un")))}) as server:
        follow(alice, server.url("/feed"))
        with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=False):
            worker.refresh_once(all_feeds=True)
        assert server.requests == []
    assert "private" in Feed.objects.get().last_error or "loopback" in Feed.objects.get().last_error


def test_the_reference_feed_is_stored_once(alice: User) -> None:
    with LocalServer({"/framablog.rss": Reply(body=FRAMABLOG.read_bytes())}) as server:
        follow(alice, server.url("/framablog.rss"))
        # Its site is framablog.org: no icon lookup, this test stays on loopback.
        Feed.objects.update(favicon_checked_at=timezone.now())
        worker.refresh_once(all_feeds=True)
        worker.refresh_once(all_feeds=True)
    first = Entry.objects.order_by("-published").first()
    assert first is not None
    assert first.title == "Des ateliers solarpunk pour imaginer un avenir low-tech"
    assert first.author == "Framasoft"
    assert first.published.isoformat() == "2024-01-15T02:09:00+00:00"
    assert Entry.objects.count() == 3 and EntryState.objects.count() == 3


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def site_with_icon() -> dict[str, Route]:
    """A site's home page declaring its icon, and the icon."""
    return {
        "/": Reply(
            headers={"Content-Type": "text/html"},
            body=b'<html><head><link rel="icon" href="/i.png"></head></html>',
        ),
        "/i.png": Reply(headers={"Content-Type": "image/png"}, body=PNG),
    }


def test_the_site_icon_is_fetched_once_and_kept(alice: User) -> None:
    routes = site_with_icon()
    with LocalServer(routes) as server:
        server.routes["/feed"] = Reply(body=rss(("a", "Un"), site=server.url("/")))
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        worker.refresh_once(all_feeds=True)
        assert server.paths().count("/i.png") == 1
    feed = Feed.objects.get()
    assert feed.favicon is not None and bytes(feed.favicon.data) == PNG
    assert feed.favicon.content_type == "image/png"


def test_a_site_without_icon_is_not_asked_on_every_fetch(alice: User) -> None:
    routes = {"/": Reply(body=b"<html></html>"), "/favicon.ico": Reply(body=b"not an image")}
    with LocalServer(routes) as server:
        server.routes["/feed"] = Reply(body=rss(("a", "Un"), site=server.url("/")))
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        worker.refresh_once(all_feeds=True)
        assert server.paths().count("/favicon.ico") == 1
    assert Feed.objects.get().favicon is None


def test_a_sites_feeds_ask_for_its_page_and_icon_once(alice: User) -> None:
    routes = site_with_icon()
    with LocalServer(routes) as server:
        for name in ("articles", "comments", "videos"):  # one site's three feeds
            server.routes[f"/{name}"] = Reply(body=rss((name, name), site=server.url("/")))
            follow(alice, server.url(f"/{name}"))
        worker.refresh_once(all_feeds=True)
        assert (server.paths().count("/"), server.paths().count("/i.png")) == (1, 1)
    feeds = Feed.objects.all()
    assert len(feeds) == 3
    assert all(feed.favicon is not None and bytes(feed.favicon.data) == PNG for feed in feeds)


def test_a_manual_refresh_is_allowed_but_rate_limited(alice: User, bob: User) -> None:
    with LocalServer({"/feed": Reply(body=rss(("a", "Un")))}) as server:
        sub = follow(alice, server.url("/feed"))
        report = worker.refresh_feed_now(alice, sub.feed_id)
        assert report.outcome == "updated" and report.new_entries == 1
        with pytest.raises(worker.RefreshRefused, match="less than 60 seconds ago"):
            worker.refresh_feed_now(alice, sub.feed_id)
        with pytest.raises(worker.RefreshRefused, match="do not follow"):
            worker.refresh_feed_now(bob, sub.feed_id)
        Feed.objects.update(last_fetched_at=timezone.now() - timedelta(minutes=2))
        assert worker.refresh_feed_now(alice, sub.feed_id).outcome == "updated"
        assert len(server.requests) == 2


def test_a_feed_whose_every_entry_was_purged_brings_none_back(alice: User) -> None:
    with LocalServer({"/feed": Reply(body=rss(("a", "Un"), ("b", "Deux")))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        for purged in Entry.objects.all():
            EntryTombstone.objects.create(feed=purged.feed, identity=purged.identity)
            purged.delete()
        worker.refresh_once(all_feeds=True)  # only tombstones are stored: still compared
    assert not Entry.objects.exists()


def test_each_state_keeps_when_its_entry_reached_that_person(alice: User, bob: User) -> None:
    """Published in January 2024, fetched today: it arrived today (what `ot` filters on). For a
    person who follows the feed later, the entries already stored arrive when they follow."""
    slack = timedelta(seconds=2)  # the database's clock, not this process's
    with LocalServer({"/feed": conditional(rss(("a", "Un"), ("b", "Deux")))}) as server:
        follow(alice, server.url("/feed"))
        before_fetch = timezone.now()
        worker.refresh_once(all_feeds=True)
        fetched = timezone.now()
        time.sleep(slack.total_seconds() + 0.5)
        before_follow = timezone.now()
        follow(bob, server.url("/feed"))
        followed = timezone.now()
    states = EntryState.objects.order_by("user_id", "entry_id")
    assert {s.sort_date.year for s in states} == {2024}
    alices = [s.arrived_at for s in states.filter(user=alice)]
    bobs = [s.arrived_at for s in states.filter(user=bob)]
    assert len(alices) == len(bobs) == 2
    assert all(before_fetch - slack <= t <= fetched + slack for t in alices)
    assert all(before_follow - slack <= t <= followed + slack for t in bobs)
    assert min(bobs) > max(alices)


# --- a feed that moved -------------------------------------------------------------------------
# The fetcher only reports a chain of redirects made of 301s and 308s alone (`permanent_url`);
# these tests check what the store then does with the feed's row.


def redirect(server: LocalServer, statuses: tuple[int, ...], target: str) -> None:
    """/old answers with the first of `statuses`, each hop with the next, the last to `target`."""
    hops = ["/old", *(f"/hop{i}" for i in range(1, len(statuses)))]
    for here, there, status in zip(hops, [*hops[1:], target], statuses, strict=True):
        server.routes[here] = Reply(status=status, headers={"Location": server.url(there)})


@pytest.mark.parametrize("statuses", [(301,), (308,), (301, 308)])
def test_a_feed_moved_for_good_is_followed_to_its_new_url(
    alice: User, statuses: tuple[int, ...]
) -> None:
    page = rss(("a", "Un"), ("b", "Deux"))
    with LocalServer({"/old": Reply(body=page), "/new": Reply(body=page)}) as server:
        follow(alice, server.url("/old"))
        worker.refresh_once(all_feeds=True)
        redirect(server, statuses, "/new")
        worker.refresh_once(all_feeds=True)
        assert Feed.objects.get().url == server.url("/new")
        worker.refresh_once(all_feeds=True)
        assert server.paths()[-1] == "/new" and server.paths().count("/old") == 2
    feed = Feed.objects.get()
    assert (feed.last_error, feed.error_count) == ("", 0)
    # The same entries under the new URL: the same rows, read states untouched.
    assert Entry.objects.count() == 2 and EntryState.objects.filter(user=alice).count() == 2


def test_a_feed_moved_for_good_while_unchanged_is_followed_on_a_304(alice: User) -> None:
    # Often the same server under a new path, with the same ETag: the validators we send are
    # sent on every hop, and the new URL answers 304. That answer is as good as a feed.
    page = conditional(rss(("a", "Un")))
    with LocalServer({"/old": page, "/new": page}) as server:
        follow(alice, server.url("/old"))
        worker.refresh_once(all_feeds=True)
        redirect(server, (301,), "/new")
        assert worker.refresh_once(all_feeds=True).count("not-modified") == 1
        assert server.requests[-1].headers["if-none-match"] == '"v1"'
    assert Feed.objects.get().url == server.url("/new")
    assert Entry.objects.count() == 1


@pytest.mark.parametrize("statuses", [(302,), (307,), (301, 302), (307, 308)])
def test_a_feed_redirected_for_now_keeps_its_url(alice: User, statuses: tuple[int, ...]) -> None:
    page = rss(("a", "Un"), ("b", "Deux"))
    with LocalServer({"/new": Reply(body=page)}) as server:
        follow(alice, server.url("/old"))
        redirect(server, statuses, "/new")
        assert worker.refresh_once(all_feeds=True).count("updated") == 1
        worker.refresh_once(all_feeds=True)
        assert server.paths().count("/old") == 2  # still asked at its own URL
    assert Feed.objects.get().url == server.url("/old")
    assert Entry.objects.count() == 2


@pytest.mark.parametrize(
    "target",
    [
        Reply(headers={"Content-Type": "text/html"}, body=b"<!doctype html><html>Parked</html>"),
        Reply(status=500),
    ],
    ids=["not-a-feed", "error"],
)
def test_a_permanent_redirect_to_no_feed_does_not_move_the_feed(alice: User, target: Reply) -> None:
    with LocalServer({"/new": target}) as server:
        follow(alice, server.url("/old"))
        redirect(server, (301,), "/new")
        assert worker.refresh_once(all_feeds=True).count("error") == 1
    feed = Feed.objects.get()
    assert feed.url == server.url("/old")
    assert feed.error_count == 1 and feed.last_error


# When a feed moves for good to the address of a feed already stored, the two rows become one
# (feeds.merge): its followers move over with their reading states.


def _followed_both_ways(alice: User, bob: User, server: LocalServer) -> tuple[int, int]:
    """Alice follows /old (in her category "Tech", under her own title), Bob /new; both are
    fetched once, then /old moves for good to /new."""
    moved = follow(alice, server.url("/old"), category="Tech", title="Mine").feed_id
    there = follow(bob, server.url("/new")).feed_id
    worker.refresh_once(all_feeds=True)
    redirect(server, (301,), "/new")
    return moved, there


def test_a_feed_moved_to_a_feed_already_stored_becomes_one_with_it(alice: User, bob: User) -> None:
    page = rss(("a", "Un"), ("b", "Deux"))
    with LocalServer({"/old": Reply(body=page), "/new": Reply(body=page)}) as server:
        moved, there = _followed_both_ways(alice, bob, server)
        state_a = EntryState.objects.get(user=alice, entry__feed_id=moved, entry__guid="a")
        queries.set_read(alice, [state_a.entry_id], True)
        queries.set_starred(alice, [Entry.objects.get(feed_id=moved, guid="b").pk], True)
        assert worker.refresh_once(all_feeds=True).count("error") == 0
        before = len(server.paths())
        worker.refresh_once(all_feeds=True)
        assert server.paths()[before:] == ["/new"]  # one feed left, fetched once
    assert list(Feed.objects.values_list("id", "url")) == [(there, server.url("/new"))]
    sub = queries.subscription(alice, feed_id=there)
    assert sub is not None and (sub.title, sub.category and sub.category.name) == ("Mine", "Tech")
    # Her states, now of the entries Bob reads: each entry once, as she left it.
    assert Entry.objects.count() == 2
    alices = {
        s.entry.guid: s for s in EntryState.objects.filter(user=alice).select_related("entry")
    }
    assert set(alices) == {"a", "b"} and {s.feed_id for s in alices.values()} == {there}
    assert (alices["a"].is_read, alices["a"].is_starred) == (True, False)
    assert (alices["b"].is_read, alices["b"].is_starred) == (False, True)
    assert not EntryState.objects.filter(user=bob, is_read=True).exists()


def test_who_follows_both_feeds_keeps_one_subscription_and_each_entry_once(
    alice: User, bob: User
) -> None:
    page = rss(("a", "Un"), ("b", "Deux"))
    with LocalServer({"/old": Reply(body=page), "/new": Reply(body=page)}) as server:
        moved = follow(alice, server.url("/old")).feed_id
        there = follow(alice, server.url("/new"), category="Kept").feed_id
        follow(bob, server.url("/new"))
        worker.refresh_once(all_feeds=True)
        assert EntryState.objects.filter(user=alice).count() == 4  # each entry twice
        label = queries.label_named(alice, "later")
        assert label is not None
        old_a = Entry.objects.get(feed_id=moved, guid="a")
        queries.set_read(alice, [old_a.pk], True)
        queries.set_label(alice, [old_a.pk], label, True)
        queries.set_starred(alice, [Entry.objects.get(feed_id=there, guid="b").pk], True)
        redirect(server, (301,), "/new")
        worker.refresh_once(all_feeds=True)
    subs = list(queries.subscriptions(alice))
    assert [(s.feed_id, s.category and s.category.name) for s in subs] == [(there, "Kept")]
    alices = {
        s.entry.guid: s for s in EntryState.objects.filter(user=alice).select_related("entry")
    }
    assert EntryState.objects.filter(user=alice).count() == 2
    assert (alices["a"].is_read, list(alices["a"].labels.values_list("name", flat=True))) == (
        True,
        ["later"],
    )
    assert (alices["b"].is_read, alices["b"].is_starred) == (False, True)


def test_entries_only_the_moved_feed_had_go_over_and_cannot_hide_the_others(
    alice: User, bob: User
) -> None:
    old = rss(("z", "Ancien"), ("a", "Un"))
    with LocalServer({"/old": Reply(body=old), "/new": Reply(body=rss(("a", "Un")))}) as server:
        moved, there = _followed_both_ways(alice, bob, server)
        z = Entry.objects.get(feed_id=moved, guid="z")
        queries.set_starred(alice, [z.pk], True)
        worker.refresh_once(all_feeds=True)
        # Her old entry, starred, is hers still, in the feed she follows now; Bob never had it.
        kept = EntryState.objects.select_related("entry").get(user=alice, entry_id=z.pk)
        assert (kept.is_starred, kept.feed_id, kept.entry.feed_id) == (True, there, there)
        assert not EntryState.objects.filter(user=bob, entry_id=z.pk).exists()
        flt = queries.StreamFilter(state="all", search="Ancien")
        assert [s.entry_id for s in queries.stream(alice, flt).entries] == [z.pk]
        # Who follows the feed from now on is not given it: it came from the other server.
        carol = User.objects.create_user("carol", password="correct horse battery")
        follow(carol, server.url("/new"))
        assert not EntryState.objects.filter(user=carol, entry_id=z.pk).exists()
        assert EntryState.objects.filter(user=carol).count() == 1
        # The feed lists "z" one day: Bob gets it as any new entry (the moved copy's identity
        # is its own, so it cannot pass for it).
        server.routes["/new"] = Reply(body=rss(("z", "Ancien"), ("a", "Un")))
        Feed.objects.update(next_fetch_at=timezone.now())
        worker.refresh_once(all_feeds=True)
    assert EntryState.objects.filter(user=bob, entry__guid="z").count() == 1


def test_what_the_moved_feed_fetched_at_the_new_address_first_is_read_once(
    alice: User, bob: User
) -> None:
    # The old address is fetched (through the redirect) before the new one's own next fetch:
    # what it brings that the new one's row does not hold yet is the new one's newest, not an
    # old entry of the moved feed, and comes once to everyone.
    page = rss(("a", "Un"))
    with LocalServer({"/old": Reply(body=page), "/new": Reply(body=page)}) as server:
        moved, _ = _followed_both_ways(alice, bob, server)
        server.routes["/new"] = Reply(body=rss(("c", "Frais"), ("a", "Un")))
        Feed.objects.update(last_fetched_at=timezone.now() - timedelta(hours=1))
        assert worker.refresh_feed_now(alice, moved).new_entries == 1
        assert not Feed.objects.filter(id=moved).exists()
        assert not Entry.objects.filter(guid="c").exists()  # left to the new address's fetch
        worker.refresh_once(all_feeds=False)  # which is due at once
    assert Entry.objects.filter(guid="c").count() == 1
    for person in (alice, bob):
        assert EntryState.objects.filter(user=person, entry__guid="c").count() == 1


def test_what_the_new_address_purged_does_not_come_back_through_a_merge(
    alice: User, bob: User
) -> None:
    both = rss(("z", "Purgé"), ("a", "Un"))
    with LocalServer({"/old": Reply(body=both), "/new": Reply(body=both)}) as server:
        moved, there = _followed_both_ways(alice, bob, server)
        purged = Entry.objects.get(feed_id=there, guid="z")
        EntryTombstone.objects.create(feed_id=there, identity=purged.identity)
        purged.delete()
        worker.refresh_once(all_feeds=True)
        Feed.objects.update(next_fetch_at=timezone.now())
        worker.refresh_once(all_feeds=False)
    assert not Feed.objects.filter(id=moved).exists()
    assert not Entry.objects.filter(guid="z").exists()
    assert not EntryState.objects.filter(entry__guid="z").exists()


def test_entries_a_merge_brought_take_no_rank_in_the_feeds_retention(
    alice: User, bob: User
) -> None:
    old = rss(("z", "Ancien"), ("a", "Un"), ("b", "Deux"))
    with LocalServer({"/old": Reply(body=old), "/new": Reply(body=rss(("b", "Deux")))}) as server:
        moved, there = _followed_both_ways(alice, bob, server)
        server.routes["/new"] = Reply(body=rss(("a", "Un"), ("b", "Deux")))
        Feed.objects.filter(id=there).update(next_fetch_at=timezone.now())
        worker.refresh_once(all_feeds=False)  # the new one holds a and b, the moved one z too
        Entry.objects.filter(feed_id=moved, guid="z").update(published=timezone.now())
        worker.refresh_once(all_feeds=True)
    feed = Feed.objects.get(id=there)
    assert Entry.objects.filter(feed=feed).count() == 3
    EntryState.objects.update(is_read=True)
    Feed.objects.filter(id=there).update(keep_max=2, keep_min=0, listed_identities=[])
    # Its own two newest are within keep_max; the moved one, dated today, does not count.
    assert retention.purgeable(Feed.objects.get(id=there), now=timezone.now()) == []


def test_a_move_to_another_spelling_of_a_stored_address_merges(alice: User, bob: User) -> None:
    # "http://host:port" (a redirect's Location, as the fetcher gives it) is the "…/" Bob follows.
    page = rss(("a", "Un"))
    with LocalServer({"/old": Reply(body=page), "/": Reply(body=page)}) as server:
        follow(alice, server.url("/old"))
        there = follow(bob, server.url("/")).feed_id
        worker.refresh_once(all_feeds=True)
        bare = server.url("/").rstrip("/")
        server.routes["/old"] = Reply(status=301, headers={"Location": bare})
        worker.refresh_once(all_feeds=True)
    assert list(Feed.objects.values_list("id", flat=True)) == [there]
    assert [s.feed_id for s in queries.subscriptions(alice)] == [there]


def test_a_merge_carries_what_named_the_moved_feed(alice: User, bob: User) -> None:
    page = rss(("a", "Un"))
    with LocalServer({"/old": Reply(body=page), "/new": Reply(body=page)}) as server:
        moved, there = _followed_both_ways(alice, bob, server)
        saved = SavedQuery.objects.create(user=alice, name="mine", query=f"(f:{moved} OR f:7) !x")
        quoted = SavedQuery.objects.create(user=alice, name="q", query=f'f:"7,,0{moved}" y')
        Feed.objects.filter(id=moved).update(keep_max=77)
        generations = dict(User.objects.values_list("id", "generation"))
        worker.refresh_once(all_feeds=True)
    saved.refresh_from_db()
    assert saved.query == f"(f:{there} OR f:7) !x"  # her saved search still finds it
    quoted.refresh_from_db()
    assert quoted.query == f'f:"7,{there}" y'  # as the search reads it: 0{moved} is {moved}
    assert Feed.objects.get(id=there).keep_max == 77  # the limit set for its address
    # Her pages, kept by the page cache, are made again; Bob's show nothing new.
    alice.refresh_from_db()
    assert alice.generation == generations[alice.pk] + 1
    assert User.objects.get(pk=bob.pk).generation == generations[bob.pk]


def test_a_feed_moved_to_a_gone_feeds_address_brings_it_back(alice: User, bob: User) -> None:
    # Bob's feed answered 410 once; the old address now leads there, and it answers.
    page = rss(("a", "Un"), ("b", "Deux"))
    with LocalServer({"/old": Reply(body=page), "/new": Reply(body=page)}) as server:
        moved, there = _followed_both_ways(alice, bob, server)
        fetched_before = timezone.now() - timedelta(hours=1)
        Feed.objects.filter(id=there).update(disabled=True, last_error="HTTP 410 Gone")
        Feed.objects.update(last_fetched_at=fetched_before, last_success_at=fetched_before)
        assert worker.refresh_feed_now(alice, moved).outcome == "updated"
        assert server.paths()[-2:] == ["/old", "/new"]  # the gone feed was not asked itself
    feed = Feed.objects.get()
    assert (feed.id, feed.disabled, feed.last_error) == (there, False, "")
    assert EntryState.objects.filter(user=alice, feed_id=there).count() == 2
    # Its health says when its address last answered: just now, through the old one.
    assert feed.last_success_at is not None and feed.last_success_at > fetched_before


def test_a_feed_moved_to_one_another_worker_refreshes_waits(alice: User, bob: User) -> None:
    page = rss(("a", "Un"))
    with LocalServer({"/old": Reply(body=page), "/new": Reply(body=page)}) as server:
        moved, there = _followed_both_ways(alice, bob, server)
        Feed.objects.filter(id=there).update(
            lease_owner="elsewhere", lease_until=timezone.now() + timedelta(minutes=5)
        )
        worker.refresh_once(all_feeds=True)
        assert Feed.objects.filter(id=moved).exists()  # tried again at its next refresh
        Feed.objects.filter(id=there).update(lease_owner="", lease_until=None)
        Feed.objects.filter(id=moved).update(next_fetch_at=timezone.now())
        worker.refresh_once(all_feeds=False)
    assert not Feed.objects.filter(id=moved).exists()
    assert EntryState.objects.filter(user=alice, feed_id=there).count() == 1


def test_following_the_old_address_of_a_stored_feed_follows_that_feed(
    alice: User, bob: User
) -> None:
    carol = User.objects.create_user("carol", password="correct horse battery")
    page = rss(("a", "Un"))
    with LocalServer({"/new": Reply(body=page), "/old": Reply(status=410)}) as server:
        there = follow(bob, server.url("/new")).feed_id
        gone = follow(carol, server.url("/old")).feed_id
        worker.refresh_once(all_feeds=True)
        assert Feed.objects.get(id=gone).disabled
        Feed.objects.update(last_fetched_at=timezone.now() - timedelta(days=1))  # long gone
        redirect(server, (301,), "/new")
        # The old address is a stored feed, gone: following it fetches it, and it moves.
        sub = subscribe_url(alice, server.url("/old"))
        assert sub.feed_id == there and sub.feed.url == server.url("/new")
        assert EntryState.objects.filter(user=alice, feed_id=there).count() == 1
        assert [s.feed_id for s in queries.subscriptions(carol)] == [there]
        # Once more, now that she follows it: discovery finds where it moved.
        with pytest.raises(SubscribeError, match="already follows"):
            subscribe_url(alice, server.url("/old"))
    assert list(queries.subscriptions(alice)) == [sub]


def test_following_the_old_address_of_a_feed_one_follows_says_so(alice: User, bob: User) -> None:
    with LocalServer({"/new": Reply(body=rss(("a", "Un"))), "/old": Reply(status=410)}) as server:
        there = follow(alice, server.url("/new")).feed_id
        follow(bob, server.url("/old"))
        worker.refresh_once(all_feeds=True)
        Feed.objects.update(last_fetched_at=timezone.now() - timedelta(days=1))
        redirect(server, (301,), "/new")
        with pytest.raises(SubscribeError, match="moved for good to the address of a feed you"):
            subscribe_url(alice, server.url("/old"))
    assert [s.feed_id for s in queries.subscriptions(alice)] == [there]
    assert [s.feed_id for s in queries.subscriptions(bob)] == [there]


# --- a feed that is gone -----------------------------------------------------------------------


def test_a_gone_feed_is_never_asked_again(alice: User) -> None:
    with LocalServer({"/feed": Reply(status=410)}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once()
        assert Feed.objects.get().disabled
        # Due again, so that only `disabled` keeps it out of a due-only pass, not its back-off.
        Feed.objects.update(next_fetch_at=timezone.now() - timedelta(hours=1))
        assert worker.refresh_once().reports == []
        assert worker.refresh_once(all_feeds=True).reports == []  # `liseuse refresh --all`
        assert len(server.requests) == 1


# --- what the server asks for: when to fetch again ---------------------------------------------
# These feeds list no entries: with nothing dated, the next fetch would be decide's default
# interval away (an hour, a little jitter added), well before the hints below. Entries dated
# long ago would push it to the maximum interval (a day) and hide the hints. Each hint is an
# instant taken while the refresh ran: it lies between a time read before and one read after.


def refreshed_at() -> tuple[datetime, datetime]:
    """The times just before and just after a refresh of all feeds."""
    before = timezone.now()
    worker.refresh_once(all_feeds=True)
    return before, timezone.now()


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_holds_back_the_next_fetch(alice: User, status: int) -> None:
    wait = timedelta(seconds=7200)
    with LocalServer({"/feed": Reply(status=status, headers={"Retry-After": "7200"})}) as server:
        follow(alice, server.url("/feed"))
        before, after = refreshed_at()
    feed = Feed.objects.get()
    assert feed.error_count == 1  # an error's own back-off would be 15 minutes
    assert before + wait <= feed.next_fetch_at <= after + wait


def test_a_cache_lifetime_holds_back_the_next_fetch(alice: User) -> None:
    lifetime = timedelta(seconds=21600)
    reply = Reply(headers={"Cache-Control": "max-age=21600"}, body=rss())
    with LocalServer({"/feed": reply}) as server:
        follow(alice, server.url("/feed"))
        before, after = refreshed_at()
    assert before + lifetime <= Feed.objects.get().next_fetch_at <= after + lifetime


def test_a_cache_lifetime_sent_with_a_304_holds_back_the_next_fetch(alice: User) -> None:
    lifetime = timedelta(seconds=21600)

    def answer(request: SeenRequest) -> Reply:
        # Only the 304 has the hint: the interval kept from the first fetch (an hour or so) is
        # what a 304 falls back on, and must not be the reason for a late next fetch.
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(status=304, headers={"ETag": '"v1"', "Cache-Control": "max-age=21600"})
        return Reply(headers={"ETag": '"v1"'}, body=rss())

    with LocalServer({"/feed": answer}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        assert Feed.objects.get().next_fetch_at < timezone.now() + lifetime / 2
        before, after = refreshed_at()
        assert server.requests[-1].headers["if-none-match"] == '"v1"'
    assert before + lifetime <= Feed.objects.get().next_fetch_at <= after + lifetime


def test_an_rss_ttl_holds_back_the_next_fetch_after_an_error_too(alice: User) -> None:
    ttl = timedelta(minutes=180)
    with LocalServer({"/feed": Reply(body=rss(ttl=180))}) as server:
        follow(alice, server.url("/feed"))
        before, after = refreshed_at()
        feed = Feed.objects.get()
        assert feed.ttl_minutes == 180
        assert before + ttl <= feed.next_fetch_at <= after + ttl
        # The feed fails next: the ttl it gave last is still what the publisher asked for.
        server.routes["/feed"] = Reply(status=500)
        before, after = refreshed_at()
    feed = Feed.objects.get()
    assert feed.error_count == 1  # an error's own back-off would be 15 minutes
    assert before + ttl <= feed.next_fetch_at <= after + ttl


def _every_five_minutes() -> bytes:
    # Entries five minutes apart, the newest just now: a rhythm below the 15-minute floor.
    now = timezone.now()
    items = "".join(
        f"<item><guid>e{n}</guid><title>E{n}</title>"
        f"<pubDate>{(now - timedelta(minutes=5 * n)).strftime('%a, %d %b %Y %H:%M:%S GMT')}"
        "</pubDate></item>"
        for n in range(6)
    )
    return f'<rss version="2.0"><channel><title>Vite</title>{items}</channel></rss>'.encode()


def test_a_cache_lifetime_sent_once_holds_back_that_fetch_only(alice: User) -> None:
    # 200, then 200 with a day's max-age, then 304s without: the 304s go back to the feed's
    # rhythm. The delay kept with the second answer used to be reused by every later 304.
    floor, day = timedelta(minutes=15), timedelta(days=1)
    headers: dict[str, str] = {"ETag": '"v1"'}
    statuses: list[int] = []

    def answer(request: SeenRequest) -> Reply:
        if request.headers.get("if-none-match") == '"v1"' and "Cache-Control" not in headers:
            statuses.append(304)
            return Reply(status=304, headers={"ETag": '"v1"'})
        statuses.append(200)
        return Reply(headers=dict(headers), body=_every_five_minutes())

    def next_fetch_in() -> timedelta:
        before, _ = refreshed_at()
        return Feed.objects.get().next_fetch_at - before

    with LocalServer({"/feed": answer}) as server:
        follow(alice, server.url("/feed"))
        # Not 5 minutes: the floor. The jitter adds at most a tenth of the rhythm.
        assert floor <= next_fetch_in() < floor + timedelta(minutes=1)
        headers["Cache-Control"] = "max-age=86400"
        assert day <= next_fetch_in() < day + timedelta(minutes=1)
        del headers["Cache-Control"]
        for _ in range(2):
            assert floor <= next_fetch_in() < floor + timedelta(minutes=1)
    assert statuses == [200, 200, 304, 304]
    assert Feed.objects.get().fetch_interval_minutes == 5  # the rhythm itself


def test_undated_entries_are_listed_newest_first_in_document_order(alice: User) -> None:
    items = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title></item>"
        for guid, title in [("n", "Newest"), ("m", "Middle"), ("o", "Oldest")]
    )
    body = f'<rss version="2.0"><channel><title>Sans dates</title>{items}</channel></rss>'
    with LocalServer({"/feed": Reply(body=body.encode())}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
    page = queries.stream(alice, queries.StreamFilter(feed_id=Feed.objects.get().id))
    assert [state.entry.title for state in page.entries] == ["Newest", "Middle", "Oldest"]


def test_entries_of_one_date_are_listed_in_document_order(alice: User) -> None:
    # Feeds that give a day without a time give many items the same date: on one date, the
    # order they were stored in broke the tie, and a day's items came out upside down.
    items = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title>"
        "<pubDate>Mon, 15 Jan 2024 00:00:00 GMT</pubDate></item>"
        for guid, title in [("n", "Newest"), ("m", "Middle"), ("o", "Oldest")]
    )
    body = f'<rss version="2.0"><channel><title>Days</title>{items}</channel></rss>'
    with LocalServer({"/feed": Reply(body=body.encode())}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
    feed_id = Feed.objects.get().id

    newest_first = queries.stream(alice, queries.StreamFilter(feed_id=feed_id))
    oldest_first = queries.stream(alice, queries.StreamFilter(feed_id=feed_id, oldest_first=True))

    assert [s.entry.title for s in newest_first.entries] == ["Newest", "Middle", "Oldest"]
    assert [s.entry.title for s in oldest_first.entries] == ["Oldest", "Middle", "Newest"]


def test_the_feeds_language_marks_its_entries_on_the_pages(alice: User) -> None:
    # Screen readers read French in a French voice, and the page around stays the reader's.
    items = "<item><guid>a</guid><title>Un titre</title><description>Du texte.</description></item>"
    body = (
        '<rss version="2.0"><channel><title>Fr</title><language>fr_FR</language>'
        f"{items}</channel></rss>"
    )
    with LocalServer({"/feed": Reply(body=body.encode())}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
    assert Feed.objects.get().language == "fr-FR"
    client = Client()
    client.force_login(alice)

    html = client.get("/").content.decode()

    assert '<div class="content" lang="fr-FR">' in html
    assert '<span class="line-title" lang="fr-FR">Un titre</span>' in html
    assert '<html lang="en"' in html


def test_refreshing_every_feed_still_waits_for_a_retry_after(alice: User) -> None:
    # `liseuse refresh --all` (due or not) asked a server that said 429 "come back in two
    # hours" again at once; the README promises never sooner.
    asked: list[str] = []

    def answer(request: SeenRequest) -> Reply:
        asked.append(request.path)
        return Reply(status=429, headers={"Retry-After": "7200"})

    with LocalServer({"/feed": answer}) as server:
        follow(alice, server.url("/feed"))  # a new feed is fetched at once: 429
        worker.refresh_once(all_feeds=True)
        worker.refresh_once(all_feeds=True)
    assert asked == ["/feed"]
    assert Feed.objects.get().error_count == 1
