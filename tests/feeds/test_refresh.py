"""A refresh end to end: local feeds → pipeline → DjangoStore → the rows people read."""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import worker
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import EntryTombstone
from liseuse.feeds.models import Feed
from liseuse.feeds.subscribe import follow
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import Route
from tests.httpserver import SeenRequest

FRAMABLOG = Path(__file__).resolve().parents[1] / "data" / "feeds" / "framablog.rss"

pytestmark = pytest.mark.django_db(transaction=True)


# A site link on loopback's closed port 1: the icon lookup after a fetch fails at once, and no
# test ever reaches beyond this machine.
SITE = "http://127.0.0.1:1/"


def rss(*items: tuple[str, str], title: str = "Local", site: str = SITE) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{text}</title><link>{site}{guid}</link>"
        f"<description><![CDATA[<p>{text}</p><script>alert(1)</script>"
        f'<a href="/rel?utm_source=x">lien</a>]]></description>'
        f"<pubDate>Mon, 15 Jan 2024 0{i}:00:00 GMT</pubDate></item>"
        for i, (guid, text) in enumerate(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{site}</link>{body}</channel></rss>"
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
    assert "<script" not in entry.summary and "alert(1)" not in entry.summary
    assert f'href="{SITE}rel"' in entry.summary  # absolute, utm_ gone
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
