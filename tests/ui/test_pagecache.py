"""The reading pages' cache (liseuse/ui/pagecache.py): a page comes back from memory while
nothing it shows changed for the person, and never once something did."""

from __future__ import annotations

import dataclasses
import gzip
import re
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from liseuse.accounts.models import User
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.ui import pagecache
from tests.fever.conftest import URL as FEVER_URL
from tests.fever.conftest import fever_key
from tests.greader.conftest import API_PASSWORD as GREADER_PASSWORD
from tests.greader.conftest import GReader
from tests.greader.conftest import with_api_password
from tests.ui.reading_data import add_entry
from tests.ui.reading_data import followed_feed

pytestmark = pytest.mark.django_db

JAN_15 = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
UNREAD_ARTICLE = re.compile(r'<article[^>]* class="entry unread')


def visit(client: Client, url: str = "/?state=all") -> tuple[str, int]:
    """The page, and how many of its queries read the subscriptions (the sidebar does; a
    page from the cache does not)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    sidebar_queries = sum("feeds_subscription" in q["sql"] for q in queries.captured_queries)
    return response.content.decode(), sidebar_queries


def log_in(client: Client, user: User) -> Client:
    """Logged in, with the CSRF cookie a browser has from the login page on (a browser
    without one gets pages made for it and not kept: their forms' token is made for it)."""
    client.force_login(user)
    client.get("/")
    assert "csrftoken" in client.cookies
    return client


@pytest.fixture
def two_entries(alice: User) -> tuple[Feed, Entry, Entry]:
    feed = followed_feed(alice, title="Framablog")
    return feed, add_entry(feed, "Entry one", JAN_15), add_entry(feed, "Entry two", JAN_15)


def test_a_page_seen_again_comes_from_the_cache_with_a_token_that_works(
    alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    client = log_in(Client(enforce_csrf_checks=True), alice)
    first, built = visit(client)
    again, kept = visit(client)
    assert built > 0 and kept == 0
    assert first == again
    token = TOKEN.search(again)
    assert token is not None
    entry = two_entries[1]
    response = client.post(
        f"/entries/{entry.id}/read", {"read": "1", "csrfmiddlewaretoken": token.group(1)}
    )
    assert response.status_code == 303


def test_each_browser_has_pages_of_its_own_with_its_own_token(
    alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    laptop = log_in(Client(enforce_csrf_checks=True), alice)
    phone = log_in(Client(enforce_csrf_checks=True), alice)
    visit(laptop)
    page, built = visit(phone)
    assert built > 0, "the phone was not served the laptop's page"
    token = TOKEN.search(page)
    assert token is not None
    entry = two_entries[1]
    answer = phone.post(
        f"/entries/{entry.id}/star", {"starred": "1", "csrfmiddlewaretoken": token.group(1)}
    )
    assert answer.status_code == 303, "the phone's form is accepted with the phone's token"


def test_a_browser_without_its_csrf_cookie_yet_gets_pages_made_and_not_kept(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    client.force_login(alice)
    for _ in range(2):
        page, built = visit(client)
        assert built > 0 and "csrftoken" in client.cookies, "the answer gives the cookie"
        token = TOKEN.search(page)
        assert token is not None
        del client.cookies["csrftoken"]


def test_a_kept_page_is_sent_gzipped_to_a_browser_that_takes_gzip(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    log_in(client, alice)
    plain = client.get("/")
    with CaptureQueriesContext(connection) as queries:
        packed = client.get("/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert not any("feeds_subscription" in q["sql"] for q in queries.captured_queries)
    assert packed["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed["Vary"]
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < len(plain.content) / 3
    unpacked = client.get("/")  # a client that takes no gzip: the kept page, unpacked
    assert "Content-Encoding" not in unpacked and unpacked.content == plain.content


def test_what_the_person_does_in_the_page_shows_at_once(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    log_in(client, alice)
    page, _ = visit(client)
    assert len(UNREAD_ARTICLE.findall(page)) == 2
    visit(client)
    client.post(f"/entries/{two_entries[1].id}/read", {"read": "1"})
    page, built = visit(client)
    assert built > 0 and len(UNREAD_ARTICLE.findall(page)) == 1


def test_a_setting_changed_shows_at_once(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    log_in(client, alice)
    assert 'data-theme="auto"' in visit(client)[0]
    # Only the theme changes: neither the language nor the time zone, which the key holds.
    form = {"language": "", "timezone": "UTC", "theme": "dark", "page_size": "50"}
    form.update(
        default_view="normal", default_state="all", oldest_first="0", mark_read_on_open="on"
    )
    response = client.post("/manage/settings/preferences", form)
    assert response.status_code in (302, 303), response.content[:500]
    page, _ = visit(client)
    assert 'data-theme="dark"' in page


def test_what_an_app_does_shows_at_once(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    with_api_password(alice)
    log_in(client, alice)
    visit(client)
    app = GReader(Client())
    assert app.login("alice").status_code == 200
    answer = app.post(
        "reader/api/0/edit-tag",
        {"i": two_entries[1].id, "a": "user/-/state/com.google/read"},
    )
    assert answer.status_code == 200
    assert len(UNREAD_ARTICLE.findall(visit(client)[0])) == 1
    fever = Client().post(
        # Fever's item ids are the person's state ids (not the entry's: they differ as soon
        # as two people follow a feed, and on PostgreSQL, whose sequences tests never reset).
        f"{FEVER_URL}?api&mark=item&as=read"
        f"&id={EntryState.objects.get(user=alice, entry=two_entries[2]).pk}",
        {"api_key": fever_key("alice", GREADER_PASSWORD)},
    )
    assert fever.status_code == 200
    assert len(UNREAD_ARTICLE.findall(visit(client)[0])) == 0


def test_entries_a_refresh_brings_show_at_once(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    log_in(client, alice)
    visit(client)
    add_entry(two_entries[0], "Just arrived", JAN_15)  # as the store writes it: no request
    page, built = visit(client)
    assert built > 0 and "Just arrived" in page


def test_what_the_key_does_not_see_shows_once_the_page_expires(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    log_in(client, alice)
    with override_settings(LISEUSE_PAGE_CACHE_SECONDS=1):
        visit(client)
        # The publisher edits an entry: a refresh rewrites it in place, nobody's counter moves.
        Entry.objects.filter(pk=two_entries[1].pk).update(title="Entry one, corrected")
        assert "Entry one, corrected" not in visit(client)[0]
        time.sleep(1.1)
        assert "Entry one, corrected" in visit(client)[0]


@override_settings(LISEUSE_PAGE_CACHE_SECONDS=0)
def test_with_no_cache_every_page_is_made_afresh(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    log_in(client, alice)
    assert visit(client)[1] > 0
    assert visit(client)[1] > 0


def test_someone_elses_change_or_page_is_not_served(
    client: Client, alice: User, bob: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    EntryState.objects.filter(user=bob).delete()
    followed_feed(bob)
    log_in(client, alice)
    alices, _ = visit(client)
    log_in(client, bob)
    bobs, built = visit(client)
    assert built > 0 and "Entry one" in alices and "Entry one" not in bobs


def test_a_reload_of_an_unchanged_page_is_a_304_without_a_body(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    log_in(client, alice)
    first = client.get("/")
    etag = first["ETag"]
    assert "no-cache" in first["Cache-Control"] and "private" in first["Cache-Control"]
    again = client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    client.post(f"/entries/{two_entries[1].id}/read", {"read": "1"})
    changed = client.get("/", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_a_newer_version_of_a_page_takes_the_older_ones_place(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    log_in(client, alice)
    for entry in two_entries[1:]:
        visit(client)
        client.post(f"/entries/{entry.id}/read", {"read": "1"})
    visit(client)
    visit(client, "/?state=unread")
    # LocMemCache's own dictionary: two addresses, however many versions were made of them.
    assert len(caches["pages"]._cache) == 2  # type: ignore[attr-defined]


def test_an_app_reading_changes_nothing_and_keeps_the_page(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    """Fever asks everything by POST, some Google Reader clients their reads too: a sync that
    only reads counts no change."""
    with_api_password(alice)
    log_in(client, alice)
    visit(client)
    for query in ("items", "groups&feeds", "unread_item_ids"):
        answer = Client().post(
            f"{FEVER_URL}?api&{query}", {"api_key": fever_key("alice", GREADER_PASSWORD)}
        )
        assert answer.status_code == 200 and answer.json()["auth"] == 1
    app = GReader(Client())
    assert app.login("alice").status_code == 200
    read = app.post(
        "reader/api/0/stream/items/contents", {"i": str(two_entries[1].id)}
    )  # some clients POST this read
    assert read.status_code == 200
    alice.refresh_from_db()
    assert alice.generation == 0
    assert visit(client)[1] == 0, "the page still comes from the cache"


def test_an_app_renaming_by_get_shows_on_the_next_page(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    """Google Reader's subscription/edit is sent by GET too (FreshRSS takes it): the page
    must not keep showing the feed under its old name."""
    feed = two_entries[0]
    with_api_password(alice)
    log_in(client, alice)
    assert "Framablog" in visit(client)[0]
    app = GReader(Client())
    assert app.login("alice").status_code == 200
    answer = app.get("reader/api/0/subscription/edit", ac="edit", s=f"feed/{feed.id}", t="Renamed")
    assert answer.status_code == 200 and answer.content == b"OK"
    page, sidebar_queries = visit(client)
    assert sidebar_queries > 0, "the page was made again"
    assert "Renamed" in page


def test_a_kept_page_costs_one_query(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    """The session, its person and their newest entry come in one query; a kept page needs
    nothing more (they were three, then the page)."""
    log_in(client, alice)
    visit(client)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/?state=all")
    assert response.status_code == 200
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]
    assert visit(client)[1] == 0, "the page came from the cache"


def kept_pages(client: Client, urls: list[str]) -> dict[str, pagecache.KeptPage]:
    """Visit these addresses; the pages kept for them, by slot."""
    pages = caches["pages"]
    kept: dict[str, pagecache.KeptPage] = {}
    real_set = pages.set

    def noting_set(key: str, value: pagecache.KeptPage, timeout: float | None = None) -> None:
        kept[key] = value
        real_set(key, value, timeout=timeout)

    with mock.patch.object(pages, "set", noting_set):
        for url in urls:
            visit(client, url)
    return kept


@override_settings(LISEUSE_PAGE_CACHE_SECONDS=100)
def test_pages_made_together_do_not_expire_together(
    alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    """Each kept page stays fresh a time drawn from the second half of
    LISEUSE_PAGE_CACHE_SECONDS: pages made in the same minute are not all made again in the
    same second."""
    client = log_in(Client(), alice)
    kept = kept_pages(client, [f"/?state=all&n={n}" for n in range(20)])
    lifetimes = [page.fresh_until - page.made for page in kept.values()]
    assert len(lifetimes) == 20
    assert all(50 <= seconds <= 100 for seconds in lifetimes), lifetimes
    assert max(lifetimes) - min(lifetimes) > 20, lifetimes


@override_settings(LISEUSE_PAGE_CACHE_SECONDS=1)
def test_a_stale_page_is_made_again_by_one_request_while_the_others_get_it_stale(
    alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    """Under load, every request for a page that just expired made it again; now the first
    does, and those that come meanwhile get the stale copy."""
    client = log_in(Client(), alice)
    (slot,) = kept_pages(client, ["/?state=all"])
    time.sleep(1.1)
    with mock.patch.dict(pagecache._remaking, {slot: time.time()}):  # someone is making it
        assert visit(client)[1] == 0, "served stale"
    gave_up = time.time() - pagecache.REMAKE_PATIENCE - 1
    with mock.patch.dict(pagecache._remaking, {slot: gave_up}):  # who took it gave up
        assert visit(client)[1] > 0, "made again"
        assert slot not in pagecache._remaking
    assert visit(client)[1] == 0, "kept again, fresh"


@override_settings(LISEUSE_PAGE_CACHE_SECONDS=1)
def test_a_page_made_again_after_it_expired_has_a_new_etag(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    """What the key does not see (here a publisher's edit) reaches a browser that revalidates
    its copy too, not only one that asks without If-None-Match."""
    log_in(client, alice)
    etag = client.get("/?state=all")["ETag"]
    assert client.get("/?state=all", headers={"If-None-Match": etag}).status_code == 304
    Entry.objects.filter(pk=two_entries[1].pk).update(title="Entry one, corrected")
    time.sleep(1.1)
    again = client.get("/?state=all", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again["ETag"] != etag
    assert "Entry one, corrected" in again.content.decode()


@override_settings(LISEUSE_PAGE_CACHE_SECONDS=100)
def test_a_page_made_again_has_a_new_etag_even_soon_after(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    """A page stays fresh 50 to 100 s here: made again within the same 100 s, it still gets an
    ETag of its own, or the browser's copy from before would be answered 304."""
    log_in(client, alice)
    ((slot, kept),) = kept_pages(client, ["/?state=all"]).items()
    etag = client.get("/?state=all")["ETag"]
    caches["pages"].set(slot, dataclasses.replace(kept, fresh_until=0.0), timeout=200)  # expired
    Entry.objects.filter(pk=two_entries[1].pk).update(title="Entry one, corrected")
    again = client.get("/?state=all", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again["ETag"] != etag
    assert "Entry one, corrected" in again.content.decode()


def test_a_page_another_web_process_made_is_not_made_again(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    """The web processes of a machine share the pages they make (a folder in the data
    directory): one with nothing in its memory takes the page another made."""
    log_in(client, alice)
    first = client.get("/?state=all")
    caches["pages"].clear()  # as in another process
    again, sidebar_queries = visit(client)
    assert sidebar_queries == 0, "taken from the shared folder"
    assert again == first.content.decode()
    assert client.get("/?state=all")["ETag"] == first["ETag"]


@override_settings(LISEUSE_PAGE_CACHE_SECONDS=1)
def test_a_stale_page_another_web_process_is_making_again_is_served_stale(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    """The processes take a page from the shared folder with its time of expiry, so they all
    see it expire together: the one that marks it in the folder makes it again."""
    log_in(client, alice)
    (slot,) = kept_pages(client, ["/?state=all"])
    time.sleep(1.1)
    shared = caches["shared-pages"]
    assert shared.add(slot + pagecache.REMAKING, time.time(), timeout=10)  # another process's
    assert visit(client)[1] == 0, "served stale"
    assert slot not in pagecache._remaking, "this process did not take it on"
    shared.delete(slot + pagecache.REMAKING)  # that process gave up, or kept it
    assert visit(client)[1] > 0, "made again here"
    assert shared.get(slot + pagecache.REMAKING) is None, "the mark goes with the new page"
    assert visit(client)[1] == 0, "kept again, fresh"


def test_a_damaged_or_foreign_page_in_the_shared_folder_is_made_again(
    client: Client, alice: User, two_entries: tuple[Feed, Entry, Entry]
) -> None:
    """A file an earlier version of liseuse wrote, or one cut short, costs a page made again,
    not an error on every request until it expires."""
    log_in(client, alice)
    (slot,) = kept_pages(client, ["/?state=all"])
    shared = caches["shared-pages"]
    path = Path(shared._key_to_file(slot))  # type: ignore[attr-defined]
    assert path.exists()
    for damaged in (path.read_bytes()[:-40], b"not a page at all"):
        caches["pages"].clear()
        path.write_bytes(damaged)
        assert visit(client)[1] > 0, "made again"
        assert visit(client)[1] == 0, "then kept"
    shared.set(slot, {"a": "dictionary"}, timeout=100)  # not a KeptPage
    caches["pages"].clear()
    assert visit(client)[1] > 0
