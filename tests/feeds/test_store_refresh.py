"""What a whole refresh stores from feeds with odd numbers and dates: local feeds → pipeline →
DjangoStore."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds import worker
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.subscribe import follow
from tests.feeds.test_refresh import SITE
from tests.feeds.test_refresh import rss
from tests.httpserver import LocalServer
from tests.httpserver import Reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _allow_loopback() -> Iterator[None]:
    with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        yield


def test_a_ttl_of_twenty_digits_neither_stops_the_refresh_nor_fails_the_other_feeds(
    alice: User,
) -> None:
    routes = {
        "/ttl": Reply(body=rss(("a", "Un"), ttl=10**20)),
        "/ok": Reply(body=rss(("b", "Deux"))),
    }
    with LocalServer(routes) as server:
        for path in routes:
            follow(alice, server.url(path))
        summary = worker.refresh_once(all_feeds=True)
    assert summary.count("updated") == 2, summary.reports
    assert Entry.objects.count() == 2
    assert list(Feed.objects.values_list("last_error", flat=True)) == ["", ""]


def _event(description: str) -> bytes:
    # An events feed: each item dated with its event, years ahead.
    return (
        '<rss version="2.0"><channel><title>Agenda</title><item><guid>concert</guid>'
        f"<title>Concert</title><description>{description}</description>"
        "<pubDate>Sat, 01 Jan 2950 20:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


def test_an_entry_dated_in_the_future_keeps_its_place_when_it_changes(alice: User) -> None:
    pages = iter([_event("Bientôt"), _event("Bientôt, salle Pleyel")])
    with LocalServer({"/feed": lambda request: Reply(body=next(pages))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        first = Entry.objects.get()
        assert first.published == first.first_seen  # clamped: when first seen
        time.sleep(0.01)  # so that "now" at the second fetch is another instant
        worker.refresh_once(all_feeds=True)
    entry = Entry.objects.get()
    assert entry.content == "Bientôt, salle Pleyel"
    assert entry.published == first.published
    assert EntryState.objects.get().sort_date == first.published


def _one_guid_for_all(*numbers: int) -> bytes:
    # A generator that gives every item the site's address as guid, newest first.
    items = "".join(
        f"<item><guid>{SITE}</guid><title>Billet {n}</title><link>{SITE}{n}</link>"
        f"<description>texte {n}</description></item>"
        for n in numbers
    )
    return f'<rss version="2.0"><channel><title>Un guid</title>{items}</channel></rss>'.encode()


def test_posts_sharing_one_guid_keep_their_own_rows_and_states(alice: User) -> None:
    pages = iter([_one_guid_for_all(2, 1), _one_guid_for_all(3, 2, 1)])
    with LocalServer({"/feed": lambda request: Reply(body=next(pages))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        EntryState.objects.filter(entry__title="Billet 2").update(is_read=True, is_starred=True)
        summary = worker.refresh_once(all_feeds=True)
    assert summary.new_entries == 1
    assert sorted(Entry.objects.values_list("title", flat=True)) == [
        "Billet 1",
        "Billet 2",
        "Billet 3",
    ]
    starred = EntryState.objects.get(is_starred=True)
    assert (starred.entry.title, starred.is_read) == ("Billet 2", True)
    assert not EntryState.objects.get(entry__title="Billet 3").is_read
