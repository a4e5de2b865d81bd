"""Labels and saved searches: create, rename, delete; the search page; isolation."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime

import pytest
from django.test import Client

from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Label
from liseuse.feeds.models import SavedQuery
from liseuse.feeds.models import Subscription

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_labels_are_created_renamed_and_deleted(alice: User) -> None:
    client = logged_in(alice)
    assert client.post("/manage/labels/add", {"name": "À lire"}).status_code == 303
    assert client.post("/manage/labels/add", {"name": "À lire"}).status_code == 400
    assert client.post("/manage/labels/add", {"name": " "}).status_code == 400
    label = Label.objects.get(user=alice)
    assert "À lire".encode() in client.get("/manage/labels/").content
    assert client.get(f"/manage/labels/{label.pk}/").status_code == 200
    assert client.post(f"/manage/labels/{label.pk}/", {"name": "Plus tard"}).status_code == 303
    label.refresh_from_db()
    assert label.name == "Plus tard"
    assert client.post(f"/manage/labels/{label.pk}/delete").status_code == 303
    assert not Label.objects.exists()


def test_bob_cannot_see_rename_or_delete_alices_label(alice: User, bob: User) -> None:
    label = Label.objects.create(user=alice, name="Privé")
    client = logged_in(bob)
    assert client.get(f"/manage/labels/{label.pk}/").status_code == 404
    assert client.post(f"/manage/labels/{label.pk}/", {"name": "x"}).status_code == 404
    assert client.post(f"/manage/labels/{label.pk}/delete").status_code == 404
    assert b"Priv" not in client.get("/manage/labels/").content
    label.refresh_from_db()
    assert label.name == "Privé"


def test_saved_searches_are_saved_checked_and_deleted(alice: User) -> None:
    client = logged_in(alice)
    bad = client.post("/manage/searches/add", {"name": "Cassée", "query": "(oups"})
    assert bad.status_code == 400 and b"never closed" in bad.content
    good = client.post("/manage/searches/add", {"name": "Soleil", "query": "soleil -pluie"})
    assert good.status_code == 303
    saved = SavedQuery.objects.get(user=alice)
    assert (saved.name, saved.query) == ("Soleil", "soleil -pluie")
    assert b"Soleil" in client.get("/manage/labels/").content
    assert client.post(f"/manage/searches/{saved.pk}/delete").status_code == 303
    assert not SavedQuery.objects.exists()


def test_each_field_of_the_labels_page_has_its_own_id(alice: User) -> None:
    client = logged_in(alice)
    for response in (client.get("/manage/labels/"), client.post("/manage/labels/add", {})):
        html = response.content.decode()
        ids = re.findall(r'\bid="([^"]+)"', html)
        assert len(ids) == len(set(ids)), sorted(ids)
        # Each "Name:" names its own form's field.
        assert '<label for="id_name">' in html and 'name="name"' in html
        assert '<label for="id_saved_name">' in html and 'id="id_saved_name"' in html
    # The forms still send what their views read (saving a search: the test above).
    assert client.post("/manage/labels/add", {"name": "Plus tard"}).status_code == 303


def test_bob_cannot_delete_alices_saved_search(alice: User, bob: User) -> None:
    saved = SavedQuery.objects.create(user=alice, name="La sienne", query="x")
    assert logged_in(bob).post(f"/manage/searches/{saved.pk}/delete").status_code == 404
    assert SavedQuery.objects.filter(pk=saved.pk).exists()


def test_the_search_page_finds_explains_and_offers_to_save(alice: User, bob: User) -> None:
    feed = Feed.objects.create(url="https://un.example/feed", title="Un")
    Subscription.objects.create(user=alice, feed=feed)
    when = datetime(2024, 3, 1, tzinfo=UTC)
    entry = Entry.objects.create(
        feed=feed, identity="1", content_hash="h", title="L'été arrive", published=when
    )
    EntryState.objects.create(user=alice, entry=entry, feed=feed, sort_date=when)
    client = logged_in(alice)
    page = client.get("/search/", {"q": "ETE"})
    assert page.status_code == 200 and "L&#x27;été arrive".encode() in page.content
    assert b'name="query"' in page.content
    bad = client.get("/search/", {"q": "(oups"})
    assert bad.status_code == 400 and b'class="error"' in bad.content
    assert "été".encode() not in logged_in(bob).get("/search/", {"q": "ete"}).content
    assert client.get("/search/").status_code == 200


def test_the_sidebar_include_links_each_saved_search_to_the_searched_stream(alice: User) -> None:
    from django.template.loader import render_to_string

    from liseuse.feeds import queries

    SavedQuery.objects.create(user=alice, name="Été", query='"logiciel libre" -f:3')
    html = render_to_string(
        "ui/manage/_saved_queries.html", {"saved_queries": queries.saved_queries(alice)}
    )
    assert "/?search=%22logiciel%20libre%22%20-f%3A3" in html and "Été" in html


def test_a_saved_search_opened_from_the_sidebar_is_the_current_page(alice: User) -> None:
    SavedQuery.objects.create(user=alice, name="Libre", query="logiciel")
    client = logged_in(alice)

    html = client.get("/", {"search": "logiciel"}).content.decode()
    main = client.get("/").content.decode()

    assert '?search=logiciel" aria-current="page">Libre</a>' in html
    assert '<a href="/" aria-current="page">' not in html  # not the main stream's
    assert '<a href="/" aria-current="page">' in main


def test_a_label_and_a_category_never_share_a_name(alice: User) -> None:
    # Google Reader apps know both as user/-/label/<name>: the one would hide the other
    # (FreshRSS refuses it too). Every way of making or renaming one checks the other.
    client = logged_in(alice)
    assert client.post("/manage/categories/add", {"name": "Tech"}).status_code == 303
    refused = client.post("/manage/labels/add", {"name": "Tech"})
    assert refused.status_code == 400 and "one of your categories" in refused.content.decode()
    assert client.post("/manage/labels/add", {"name": "Later"}).status_code == 303
    refused = client.post("/manage/categories/add", {"name": "Later"})
    assert refused.status_code == 400 and "one of your labels" in refused.content.decode()
    label = Label.objects.get(user=alice, name="Later")
    category = Category.objects.get(user=alice, name="Tech")
    assert client.post(f"/manage/labels/{label.pk}/", {"name": "Tech"}).status_code == 400
    assert client.post(f"/manage/categories/{category.pk}/", {"name": "Later"}).status_code == 400
    # Saved under its own name again: a rename to itself is no clash.
    assert client.post(f"/manage/labels/{label.pk}/", {"name": "Later"}).status_code == 303
    # An entry's "New label".
    feed = Feed.objects.create(url="https://n.example/feed")
    Subscription.objects.create(user=alice, feed=feed)
    entry = Entry.objects.create(
        feed=feed, identity="n", content_hash="h", published=datetime(2024, 1, 15, tzinfo=UTC)
    )
    EntryState.objects.create(user=alice, entry=entry, feed=feed, sort_date=entry.published)
    refused = client.post(f"/entries/{entry.pk}/labels", {"new_label": "Tech"})
    assert refused.status_code == 400 and "one of your categories" in refused.content.decode()
    assert sorted(Label.objects.filter(user=alice).values_list("name", flat=True)) == ["Later"]
    assert sorted(Category.objects.filter(user=alice).values_list("name", flat=True)) == ["Tech"]
    # Bob's names are his own.
    assert not Label.objects.exclude(user=alice).exists()
