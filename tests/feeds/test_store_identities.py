"""Which stored entry an item of a fetched feed is: items sharing a guid, items listed twice,
entries stored by the previous identity scheme. Local feeds → pipeline → DjangoStore."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds import worker
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.subscribe import follow
from liseuse.pipeline import decide
from liseuse.pipeline.types import ParsedEntry
from tests.feeds.test_refresh import SITE
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import SeenRequest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _allow_loopback() -> Iterator[None]:
    with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        yield


def _item(name: str, *, guid: str = SITE, links: bool = True) -> str:
    link = f"<link>{SITE}{name}</link>" if links else ""
    return (
        f"<item><guid>{guid}</guid><title>{name}</title>{link}"
        f"<description>Texte {name}</description></item>"
    )


def _feed(*items: str) -> bytes:
    return f'<rss version="2.0"><channel><title>F</title>{"".join(items)}</channel></rss>'.encode()


class Pages:
    """The feed's document, changed between refreshes."""

    def __init__(self) -> None:
        self.body = b""

    def __call__(self, request: SeenRequest) -> Reply:
        return Reply(body=self.body)


def _titles() -> list[str]:
    return sorted(Entry.objects.values_list("title", flat=True))


def _state(user: User, title: str) -> tuple[bool, bool]:
    state = EntryState.objects.get(user=user, entry__title=title)
    return state.is_read, state.is_starred


@pytest.mark.parametrize("links", [True, False], ids=["own links", "no links"])
def test_a_guid_shared_by_one_then_two_items_never_moves_a_star(alice: User, links: bool) -> None:
    # The tester's sequence, every item with the site's address as guid: the starred row
    # ended up holding post C, and C was there twice.
    pages = Pages()
    with LocalServer({"/feed": pages}) as server:
        follow(alice, server.url("/feed"))

        def refresh(*names: str) -> None:
            pages.body = _feed(*(_item(name, links=links) for name in names))
            worker.refresh_once(all_feeds=True)

        refresh("A")
        EntryState.objects.update(is_read=True, is_starred=True)
        refresh("B", "A")
        refresh("C", "B")
        refresh("C")
        refresh("D")
    assert _titles() == ["A", "B", "C", "D"]
    assert _state(alice, "A") == (True, True)
    for title in "BCD":
        assert _state(alice, title) == (False, False)


def test_a_guid_shared_by_two_then_one_item_keeps_each_its_row(alice: User) -> None:
    pages = Pages()
    with LocalServer({"/feed": pages}) as server:
        follow(alice, server.url("/feed"))
        pages.body = _feed(_item("B"), _item("A"))
        worker.refresh_once(all_feeds=True)
        EntryState.objects.filter(entry__title="A").update(is_read=True, is_starred=True)
        pages.body = _feed(_item("A"))
        assert worker.refresh_once(all_feeds=True).new_entries == 0
        pages.body = _feed(_item("B"), _item("A"))
        assert worker.refresh_once(all_feeds=True).new_entries == 0
    assert _titles() == ["A", "B"]
    assert _state(alice, "A") == (True, True)


def test_an_item_listed_twice_adds_nothing(alice: User) -> None:
    # /dup.xml: A and B read, then A listed twice: A came back twice, unread.
    pages = Pages()
    with LocalServer({"/dup.xml": pages}) as server:
        follow(alice, server.url("/dup.xml"))
        pages.body = _feed(_item("A", guid="g1"), _item("B", guid="g2"))
        worker.refresh_once(all_feeds=True)
        EntryState.objects.update(is_read=True)
        pages.body = _feed(_item("A", guid="g1"), _item("A", guid="g1"), _item("B", guid="g2"))
        assert worker.refresh_once(all_feeds=True).new_entries == 0
    assert _titles() == ["A", "B"]
    assert not EntryState.objects.filter(is_read=False).exists()


def test_a_new_item_listed_twice_is_stored_once(alice: User) -> None:
    pages = Pages()
    with LocalServer({"/feed": pages}) as server:
        follow(alice, server.url("/feed"))
        pages.body = _feed(_item("A", guid="g1"), _item("A", guid="g1"))
        assert worker.refresh_once(all_feeds=True).new_entries == 1
    assert _titles() == ["A"]


def test_entries_stored_by_the_previous_scheme_keep_their_rows_and_stars(alice: User) -> None:
    # What the previous scheme left after [A] then [B, A] (every guid the site's address): A's
    # first row, read and starred, under the plain identity; A again and B, unread, under
    # "repeat" identities. None of them may come back, and no later post may take A's row.
    def entry(name: str) -> ParsedEntry:
        return ParsedEntry(
            guid=SITE,
            link=f"{SITE}{name}",
            title=name,
            content=f"Texte {name}",
            summary=f"Texte {name}",
        )

    pages = Pages()
    with LocalServer({"/feed": pages}) as server:
        follow(alice, server.url("/feed"))
        pages.body = _feed(_item("A"))
        worker.refresh_once(all_feeds=True)
        (plain,) = Entry.objects.values_list("identity", flat=True)
        a, b = entry("A"), entry("B")
        stored_hash = Entry.objects.get().content_hash
        assert stored_hash == decide.content_hash(a)  # what the parser gives, as built here
        assert plain == decide._digest("entry", "guid", SITE)
        EntryState.objects.update(is_read=True, is_starred=True)
        feed = Feed.objects.get()
        for item in (a, b):
            repeat = decide._digest("repeat", "guid", SITE, decide.content_hash(item), "1")
            stored = Entry.objects.create(
                feed=feed,
                identity=repeat,
                content_hash=decide.content_hash(item),
                guid=SITE,
                url=item.link or "",
                title=item.title,
                content=item.content,
                published=Entry.objects.get(identity=plain).published,
                first_seen=Entry.objects.get(identity=plain).first_seen,
            )
            EntryState.objects.create(
                user=alice, entry=stored, feed=feed, sort_date=stored.published
            )
        for names in (["B", "A"], ["C", "B"], ["C"], ["D"]):
            pages.body = _feed(*(_item(name) for name in names))
            worker.refresh_once(all_feeds=True)
    assert _titles() == ["A", "A", "B", "C", "D"]
    starred = EntryState.objects.get(is_starred=True)
    assert (starred.entry.title, starred.is_read) == ("A", True)
