"""Real Fever clients against liseuse.

freshrss-api 2.0.5 (PyPI, "a Python client for the FreshRSS Fever API"; it also needs loguru,
which it does not declare) is the one Fever client installable from the package registries: it
runs over real HTTP against pytest-django's live server. Then one test per quirk of its calls,
named after it.
"""

from __future__ import annotations

import pytest
from django.test import Client
from freshrss_api import FreshRSSAPI
from pytest_django.live_server_helper import LiveServer

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Category
from tests.fever.conftest import API_PASSWORD
from tests.fever.conftest import URL
from tests.fever.conftest import Caller
from tests.fever.conftest import entry_ids
from tests.fever.conftest import fever_key
from tests.fever.conftest import item_ids
from tests.fever.conftest import make_feed
from tests.fever.conftest import with_api_password


@pytest.mark.django_db(transaction=True)
def test_freshrss_api_syncs_everything_and_marks_both_ways(live_server: LiveServer) -> None:
    alice = with_api_password(User.objects.create_user("alice", password="x"))
    bob = with_api_password(User.objects.create_user("bob", password="y"))
    news_feed = make_feed("news", alice, entries=70, category="News")
    blog_feed = make_feed("blog", alice, bob, entries=40)
    make_feed("bobs", bob, entries=5)
    # The app speaks of alice's item ids (her state ids), liseuse's pages of entry ids: with
    # bob following blog too, the two differ.
    news, blog = item_ids(alice, news_feed), item_ids(alice, blog_feed)
    news_entries, blog_entries = entry_ids(news_feed), entry_ids(blog_feed)
    # A trailing slash on the host, as people paste it: the client strips it.
    api = FreshRSSAPI(host=live_server.url + "/", username="alice", password=API_PASSWORD)

    groups = api.get_groups()
    assert [g["title"] for g in groups["groups"]] == ["News"]
    feeds = api.get_feeds()["feeds"]
    assert sorted(f["title"] for f in feeds) == ["blog", "news"]

    # A full sync pages with since_id, 50 at a time, until a short page.
    items = api.get_items_from_dates(since=0)
    assert [i.id for i in items] == sorted(news + blog)
    assert {i.title for i in items} >= {"news 0", "blog 39"}
    assert len(api.get_unreads()) == 110 and api.get_saved() == []

    # Changes made through the client reach liseuse...
    api.set_mark(as_="read", id=news[0])
    api.set_mark(as_="saved", id=blog[1])
    assert news[0] not in queries.state_ids_with(alice, "unread")
    assert queries.state_ids_with(alice, "starred") == [blog[1]]
    # (the client has no "unread" helper: it refuses, so its transport is used as it would be)
    api._call(mark="item", as_="unread", id=news[0])
    assert news[0] in queries.state_ids_with(alice, "unread")
    api.set_mark(as_="unsaved", id=blog[1])
    assert queries.state_ids_with(alice, "starred") == []

    # ...and changes made in liseuse reach the client.
    queries.set_read(alice, news_entries[:10], True)
    queries.set_starred(alice, [news_entries[5], blog_entries[0]], True)
    assert [i.id for i in api.get_unreads()] == sorted(news[10:] + blog)
    saved = api.get_saved()
    assert [(i.id, i.is_saved, i.is_read) for i in saved] == [
        (news[5], True, True),
        (blog[0], True, False),
    ]

    # Mark a group, then everything, read.
    group = Category.objects.get(user=alice, name="News")
    answer = api._call(mark="group", as_="read", id=group.pk, before=0)
    assert answer["unread_item_ids"] == ",".join(map(str, blog))
    api._call(mark="group", as_="read", id=0)
    assert api.get_unreads() == []
    assert len(queries.state_ids_with(bob, "unread")) == 45


@pytest.mark.django_db(transaction=True)
def test_freshrss_api_is_refused_with_a_wrong_password(live_server: LiveServer) -> None:
    from freshrss_api import AuthenticationError

    with_api_password(User.objects.create_user("alice", password="x"))
    with pytest.raises(AuthenticationError):
        FreshRSSAPI(host=live_server.url, username="alice", password="wrong")


# --- freshrss-api's calls, one quirk each -------------------------------------------------------


@pytest.mark.django_db
def test_freshrss_api_checks_its_key_with_a_bare_api_call(reader: User, client: Client) -> None:
    # Its constructor POSTs `?api` alone and wants a truthy `auth`.
    response = client.post(f"{URL}?api", {"api_key": fever_key("alice")})
    assert response.json()["auth"] == 1


@pytest.mark.django_db
def test_freshrss_api_puts_writes_in_the_query_string_and_only_api_key_in_the_body(
    reader: User, client: Client
) -> None:
    ids = item_ids(reader, make_feed("a", reader))
    response = client.post(
        f"{URL}?api=&mark=item&as=read&id={ids[0]}", {"api_key": fever_key("alice")}
    )
    assert response.status_code == 200
    assert queries.state_ids_with(reader, "unread") == ids[1:]


@pytest.mark.django_db
def test_freshrss_api_wants_the_id_list_it_changed_in_a_write_answer(
    reader: User, fever: Caller
) -> None:
    ids = item_ids(reader, make_feed("a", reader))
    assert "unread_item_ids" in fever(reader, f"mark=item&as=read&id={ids[0]}")
    assert "saved_item_ids" in fever(reader, f"mark=item&as=saved&id={ids[0]}")
    assert "saved_item_ids" in fever(reader, f"mark=item&as=unsaved&id={ids[0]}")


@pytest.mark.django_db
def test_freshrss_api_stops_paging_at_the_first_page_shorter_than_50(
    reader: User, fever: Caller
) -> None:
    # It asks since_id=<highest id seen> and stops when fewer than 50 come back: a full page
    # must hold exactly 50, or it would stop early and miss entries.
    ids = item_ids(reader, make_feed("a", reader, entries=101))
    pages: list[int] = []
    seen: list[int] = []
    since = 0
    while True:
        page = [i["id"] for i in fever(reader, f"items&since_id={since}")["items"]]
        pages.append(len(page))
        seen += page
        if len(page) < 50:
            break
        since = max(page)
    assert pages == [50, 50, 1] and seen == ids


@pytest.mark.django_db
def test_freshrss_api_wants_every_id_of_a_with_ids_batch_of_50(reader: User, fever: Caller) -> None:
    # get_items_from_ids asks 50 ids at a time and fails unless all 50 come back.
    ids = item_ids(reader, make_feed("a", reader, entries=50))
    answer = fever(reader, "items&with_ids=" + ",".join(map(str, ids)))
    assert sorted(int(i["id"]) for i in answer["items"]) == ids


@pytest.mark.django_db
def test_freshrss_api_finds_the_endpoint_behind_a_host_with_a_trailing_slash(
    reader: User, client: Client
) -> None:
    # It strips the slash, then joins "api/fever.php"; a hand-made client may keep one.
    for path in (URL, f"{URL}/", f"{URL}/?api"):
        assert client.post(path, {"api_key": fever_key("alice")}).json()["auth"] == 1
