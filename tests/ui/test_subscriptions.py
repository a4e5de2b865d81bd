"""The subscription pages: add (with discovery), edit, unfollow, refresh, categories, OPML, health.

Each view is also checked for isolation: bob gets a 404 for alice's rows and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test import override_settings
from django.utils.html import escape

from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import follow
from liseuse.pipeline import reasons
from tests.httpserver import LocalServer
from tests.httpserver import Reply

pytestmark = pytest.mark.django_db

RSS = b'<rss version="2.0"><channel><title>Le flux</title><item><guid>1</guid><title>Un</title></item></channel></rss>'
ATOM = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom du site</title><id>x</id></feed>'


@pytest.fixture(autouse=True)
def _allow_loopback() -> Iterator[None]:
    with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        yield


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alices(alice: User) -> Subscription:
    category = Category.objects.create(user=alice, name="Libre")
    feed = Feed.objects.create(url="https://libre.example/feed", title="Libre actu")
    return Subscription.objects.create(user=alice, feed=feed, category=category)


def test_the_page_lists_feeds_by_category(alice: User, alices: Subscription) -> None:
    page = logged_in(alice).get("/manage/subscriptions/")
    assert page.status_code == 200
    assert b"Libre actu" in page.content and b"Libre" in page.content


def test_the_pages_need_a_login(alices: Subscription) -> None:
    for path in (
        "/manage/subscriptions/",
        f"/manage/subscriptions/{alices.pk}/",
        "/manage/health/",
    ):
        assert Client().get(path).status_code == 302


@pytest.mark.django_db(transaction=True)  # the new feed is fetched at once, by the store thread
def test_adding_a_feed_url_follows_it_then_redirects_with_303(alice: User) -> None:
    client = logged_in(alice)
    with LocalServer({"/rss": Reply(body=RSS)}) as server:
        response = client.post(
            "/manage/subscriptions/add", {"url": server.url("/rss"), "category": "Nouvelles"}
        )
    sub = Subscription.objects.get(user=alice)
    assert response.status_code == 303
    assert response["Location"] == f"/manage/subscriptions/{sub.pk}/"
    assert sub.category is not None and sub.category.name == "Nouvelles"
    # Fetched at once: the feed's name and its entries are there on the next page.
    assert "You now follow Le flux." in client.get(response["Location"]).content.decode()
    assert EntryState.objects.filter(user=alice, entry__title="Un").exists()


@pytest.mark.django_db(transaction=True)
def test_a_site_with_several_feeds_offers_a_choice_then_follows_the_chosen_one(
    alice: User,
) -> None:
    routes = {
        "/": Reply(
            headers={"Content-Type": "text/html"},
            body=b'<html><head><link rel="alternate" type="application/rss+xml" title="Articles" href="/rss">'
            b'<link rel="alternate" type="application/atom+xml" title="Commentaires" href="/atom">'
            b"</head><body>x</body></html>",
        ),
        "/rss": Reply(body=RSS),
        "/atom": Reply(body=ATOM),
    }
    client = logged_in(alice)
    with LocalServer(routes) as server:
        choice = client.post("/manage/subscriptions/add", {"url": server.url("/")})
        assert choice.status_code == 200
        assert b'type="radio"' in choice.content and b"Commentaires" in choice.content
        assert not Subscription.objects.exists()
        chosen = client.post("/manage/subscriptions/add", {"url": server.url("/atom")})
    assert chosen.status_code == 303
    assert Subscription.objects.get(user=alice).feed.url == server.url("/atom")


def test_a_bad_address_is_a_400_with_a_message(alice: User) -> None:
    with LocalServer({"/": Reply(status=404)}) as server:
        response = logged_in(alice).post("/manage/subscriptions/add", {"url": server.url("/")})
    assert response.status_code == 400 and b'class="error"' in response.content
    # What failed, and where: the address typed is named.
    assert f"could not fetch {server.url('/')} (HTTP 404 Not Found)" in response.content.decode()
    empty = logged_in(alice).post("/manage/subscriptions/add", {"url": ""})
    assert empty.status_code == 400


def test_changes_need_a_csrf_token(alice: User, alices: Subscription) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(f"/manage/subscriptions/{alices.pk}/delete")
    assert response.status_code == 403 and Subscription.objects.filter(pk=alices.pk).exists()


def test_editing_renames_moves_and_sets_the_options(alice: User, alices: Subscription) -> None:
    other = Category.objects.create(user=alice, name="Autre")
    response = logged_in(alice).post(
        f"/manage/subscriptions/{alices.pk}/",
        {
            "title": "Mon nom",
            "category": str(other.pk),
            "refresh_floor_minutes": "120",
            "visibility": "hidden",
        },
    )
    assert response.status_code == 303
    alices.refresh_from_db()
    assert (alices.title, alices.category_id, alices.refresh_floor_minutes, alices.visibility) == (
        "Mon nom",
        other.pk,
        120,
        "hidden",
    )
    uncategorised = logged_in(alice).post(
        f"/manage/subscriptions/{alices.pk}/",
        {"title": "", "category": "", "refresh_floor_minutes": "0", "visibility": "main"},
    )
    assert uncategorised.status_code == 303
    alices.refresh_from_db()
    assert alices.category is None and alices.display_title == "Libre actu"


def test_a_feeds_address_is_changed_in_its_settings_unless_others_follow_it(
    alice: User, bob: User, alices: Subscription
) -> None:
    edit = {"title": "", "category": "", "refresh_floor_minutes": "0", "visibility": "main"}
    page = logged_in(alice).get(f"/manage/subscriptions/{alices.pk}/").content.decode()
    assert f'value="{alices.feed.url}"' in page
    moved = logged_in(alice).post(
        f"/manage/subscriptions/{alices.pk}/", {**edit, "url": "https://moved.example/rss"}
    )
    assert moved.status_code == 303
    alices.refresh_from_db()
    assert alices.feed.url == "https://moved.example/rss" and alices.feed.next_fetch_at is not None
    follow(bob, "https://moved.example/rss")
    refused = logged_in(alice).post(
        f"/manage/subscriptions/{alices.pk}/",
        {**edit, "title": "kept?", "url": "https://again.example/rss"},
    )
    assert refused.status_code == 400 and "Others follow this feed" in refused.content.decode()
    alices.refresh_from_db()
    assert alices.feed.url == "https://moved.example/rss" and alices.title == ""


def test_a_feeds_address_changed_to_a_followed_feeds_becomes_that_feed(
    alice: User, bob: User, alices: Subscription
) -> None:
    bobs = follow(bob, "https://libre.example/rss")
    edit = {"title": "Le mien", "category": "", "refresh_floor_minutes": "0", "visibility": "main"}
    moved = logged_in(alice).post(
        f"/manage/subscriptions/{alices.pk}/",
        {**edit, "url": "https://libre.example/rss"},
        follow=True,
    )
    assert moved.redirect_chain == [(f"/manage/subscriptions/{alices.pk}/", 303)]
    assert "it is now the feed others follow at that address" in moved.content.decode()
    alices.refresh_from_db()
    assert (alices.feed_id, alices.title) == (bobs.feed_id, "Le mien")
    assert Feed.objects.count() == 1


def test_a_bad_edit_is_a_400_and_changes_nothing(alice: User, alices: Subscription) -> None:
    response = logged_in(alice).post(
        f"/manage/subscriptions/{alices.pk}/",
        {"title": "x", "category": "", "refresh_floor_minutes": "-5", "visibility": "nowhere"},
    )
    assert response.status_code == 400
    alices.refresh_from_db()
    assert alices.title == ""


def test_bob_cannot_see_or_change_alices_subscription(
    alice: User, bob: User, alices: Subscription
) -> None:
    bob_client = logged_in(bob)
    bobs_category = Category.objects.create(user=bob, name="Bob")
    assert bob_client.get(f"/manage/subscriptions/{alices.pk}/").status_code == 404
    edit = {"title": "pris", "category": "", "refresh_floor_minutes": "0", "visibility": "main"}
    assert bob_client.post(f"/manage/subscriptions/{alices.pk}/", edit).status_code == 404
    assert bob_client.post(f"/manage/subscriptions/{alices.pk}/delete").status_code == 404
    assert bob_client.post(f"/manage/subscriptions/{alices.pk}/refresh").status_code == 404
    alices.refresh_from_db()
    assert alices.title == "" and Subscription.objects.filter(pk=alices.pk).exists()
    # Nor may alice file her feed under bob's category.
    moved = logged_in(alice).post(
        f"/manage/subscriptions/{alices.pk}/",
        {**edit, "category": str(bobs_category.pk)},
    )
    assert moved.status_code == 400
    alices.refresh_from_db()
    assert alices.category is not None and alices.category.user_id == alice.pk


def test_unfollowing_removes_the_persons_entries_but_not_the_shared_feed(
    alice: User, bob: User, alices: Subscription
) -> None:
    Subscription.objects.create(user=bob, feed=alices.feed)
    entry = Entry.objects.create(
        feed=alices.feed, identity="1", content_hash="h", published="2024-01-01T00:00Z"
    )
    for user in (alice, bob):
        EntryState.objects.create(
            user=user, entry=entry, feed=alices.feed, sort_date=entry.published
        )
    response = logged_in(alice).post(f"/manage/subscriptions/{alices.pk}/delete")
    assert response.status_code == 303
    assert not Subscription.objects.filter(user=alice).exists()
    assert not EntryState.objects.filter(user=alice).exists()
    assert EntryState.objects.filter(user=bob).count() == 1 and Feed.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_refresh_now_fetches_then_refuses_a_second_press(alice: User) -> None:
    with LocalServer({"/rss": Reply(body=RSS)}) as server:
        feed = Feed.objects.create(url=server.url("/rss"))
        sub = Subscription.objects.create(user=alice, feed=feed)
        client = logged_in(alice)
        first = client.post(f"/manage/subscriptions/{sub.pk}/refresh", follow=True)
        second = client.post(f"/manage/subscriptions/{sub.pk}/refresh", follow=True)
    assert b"Refreshed" in first.content
    assert b"Not refreshed" in second.content
    feed.refresh_from_db()
    assert feed.last_success_at is not None


@pytest.mark.django_db(transaction=True)
def test_refreshing_a_feed_that_became_one_with_another_lands_on_the_list(alice: User) -> None:
    # She follows a feed at two addresses; the old one moves for good to the new one: her
    # subscription of it goes (feeds.merge), and the page she would be sent back to with it.
    moved = "/old"
    with LocalServer(
        {moved: Reply(status=301, headers={"Location": "/rss"}), "/rss": Reply(body=RSS)}
    ) as server:
        kept = Feed.objects.create(url=server.url("/rss"))
        Subscription.objects.create(user=alice, feed=kept)
        sub = Subscription.objects.create(
            user=alice, feed=Feed.objects.create(url=server.url(moved))
        )
        response = logged_in(alice).post(f"/manage/subscriptions/{sub.pk}/refresh")
    assert response.status_code == 303 and response["Location"] == "/manage/subscriptions/"
    assert list(Subscription.objects.filter(user=alice).values_list("feed_id", flat=True)) == [
        kept.pk
    ]


def test_the_health_page_shows_the_last_error_in_words(alice: User, alices: Subscription) -> None:
    Feed.objects.filter(pk=alices.feed_id).update(
        last_error="the server answered 500 Internal Server Error", error_count=3
    )
    page = logged_in(alice).get("/manage/health/")
    assert page.status_code == 200 and b"500 Internal Server Error" in page.content
    detail = logged_in(alice).get(f"/manage/subscriptions/{alices.pk}/")
    assert b"500 Internal Server Error" in detail.content


def test_the_health_pages_write_dates_as_the_reading_pages_do(
    alice: User, alices: Subscription
) -> None:
    when = datetime(2024, 1, 15, 2, 9, tzinfo=UTC)
    Feed.objects.filter(pk=alices.feed_id).update(
        last_fetched_at=when, last_success_at=when, next_fetch_at=when + timedelta(hours=1)
    )
    alice.timezone = "Europe/Paris"
    alice.save()
    for url in ("/manage/health/", f"/manage/subscriptions/{alices.pk}/"):
        html = logged_in(alice).get(url).content.decode()
        assert html.count("January 15, 2024 at 03:09") == 2, url
        assert "January 15, 2024 at 04:09" in html and "a.m." not in html, url


def test_a_feed_error_reads_in_the_persons_language(alice: User, alices: Subscription) -> None:
    # As the pipeline stores it, in English, whoever follows the feed.
    stored = reasons.NOTHING_FOUND.format(url="https://feeds.example/", reason=reasons.HTML_PAGE)
    Feed.objects.filter(pk=alices.feed_id).update(last_error=stored, error_count=1)
    french = "aucun flux trouvé à https://feeds.example/ (c’est une page HTML, pas un flux)"
    client = logged_in(alice)
    english_pages = [client.get(url).content.decode() for url in ("/manage/health/", "/")]
    assert all(stored in page and french not in page for page in english_pages)
    alice.language = "fr"
    alice.save(update_fields=["language"])
    client = logged_in(alice)
    for url in (
        "/manage/health/",
        f"/manage/subscriptions/{alices.pk}/",
        "/manage/subscriptions/",
        "/",
    ):
        page = client.get(url).content.decode()
        assert escape(french) in page and stored not in page, url


def test_categories_are_created_renamed_and_deleted_keeping_their_feeds(
    alice: User, alices: Subscription
) -> None:
    client = logged_in(alice)
    assert client.post("/manage/categories/add", {"name": "Science"}).status_code == 303
    assert client.post("/manage/categories/add", {"name": "Science"}).status_code == 400
    assert client.post("/manage/categories/add", {"name": "  "}).status_code == 400
    category = alices.category
    assert category is not None
    assert client.get(f"/manage/categories/{category.pk}/").status_code == 200
    renamed = client.post(f"/manage/categories/{category.pk}/", {"name": "Logiciel libre"})
    assert renamed.status_code == 303
    assert client.post(f"/manage/categories/{category.pk}/", {"name": "Science"}).status_code == 400
    assert client.post(f"/manage/categories/{category.pk}/delete").status_code == 303
    alices.refresh_from_db()
    assert alices.category is None
    assert list(Category.objects.filter(user=alice).values_list("name", flat=True)) == ["Science"]


def test_a_refused_rename_shows_the_categorys_name_as_it_stays(
    alice: User, alices: Subscription
) -> None:
    Category.objects.create(user=alice, name="Science")
    category = alices.category
    assert category is not None
    refused = logged_in(alice).post(f"/manage/categories/{category.pk}/", {"name": "Science"})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "<h1>Category “Libre”</h1>" in html
    assert "<title>Libre · liseuse</title>" in html
    assert 'value="Science"' in html  # what was typed stays in the field, to be corrected


def test_bob_cannot_rename_or_delete_alices_category(
    alice: User, bob: User, alices: Subscription
) -> None:
    category = alices.category
    assert category is not None
    bob_client = logged_in(bob)
    assert bob_client.get(f"/manage/categories/{category.pk}/").status_code == 404
    assert bob_client.post(f"/manage/categories/{category.pk}/", {"name": "x"}).status_code == 404
    assert bob_client.post(f"/manage/categories/{category.pk}/delete").status_code == 404
    category.refresh_from_db()
    assert category.name == "Libre"


OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
<outline text="Tech"><outline text="Un" xmlUrl="https://un.example/rss"/></outline>
<outline text="Deux" xmlUrl="https://deux.example/rss"/>
</body></opml>"""


def test_opml_import_then_export(alice: User) -> None:
    client = logged_in(alice)
    response = client.post(
        "/manage/opml/import", {"file": SimpleUploadedFile("feeds.opml", OPML)}, follow=True
    )
    assert b"2 feeds added" in response.content
    assert Subscription.objects.filter(user=alice).count() == 2
    export = client.get("/manage/opml/export")
    assert export.status_code == 200 and "attachment" in export["Content-Disposition"]
    body = export.content.decode()
    assert "https://un.example/rss" in body and 'text="Tech"' in body


def test_a_bad_opml_file_is_explained_and_imports_nothing(alice: User) -> None:
    client = logged_in(alice)
    response = client.post(
        "/manage/opml/import", {"file": SimpleUploadedFile("x.opml", b"<html>nope</html>")}
    )
    assert response.status_code == 400 and b"not OPML" in response.content
    missing = client.post("/manage/opml/import", {})
    assert missing.status_code == 400
    assert not Subscription.objects.exists()


def test_the_export_holds_only_the_persons_feeds(
    alice: User, bob: User, alices: Subscription
) -> None:
    export = logged_in(bob).get("/manage/opml/export")
    assert b"libre.example" not in export.content
    assert b"Libre actu" not in logged_in(bob).get("/manage/health/").content


def test_the_import_report_speaks_french_plurals(alice: User) -> None:
    # "1 déjà suivis, 1 catégories créées": each count now takes its own plural.
    User.objects.filter(pk=alice.pk).update(language="fr")
    alice.refresh_from_db()
    followed = Feed.objects.create(url="https://deux.example/rss")
    Subscription.objects.create(user=alice, feed=followed)
    client = logged_in(alice)
    response = client.post(
        "/manage/opml/import", {"file": SimpleUploadedFile("feeds.opml", OPML)}, follow=True
    )
    text = response.content.decode()
    assert "Importé : 1 flux ajouté, 1 déjà suivi, 1 catégorie créée." in text, text[-3000:]


def test_a_page_that_is_not_there_is_a_page_of_liseuse_in_the_persons_language(
    alice: User,
) -> None:
    # Django's own was a bare "Not Found", in English, without a way back.
    User.objects.filter(pk=alice.pk).update(language="fr")
    alice.refresh_from_db()
    with override_settings(DEBUG=False):
        response = logged_in(alice).get("/manage/subscriptions/999999/")
    text = response.content.decode()
    assert response.status_code == 404
    assert "Introuvable" in text and 'href="/"' in text and 'class="brand"' in text
