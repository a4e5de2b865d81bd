"""The reading pages without a browser: what they show, and every action as a plain form."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from django.test import Client
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Label
from liseuse.feeds.models import Subscription
from tests.ui.reading_data import add_entry
from tests.ui.reading_data import followed_feed

pytestmark = pytest.mark.django_db

JAN_15 = datetime(2024, 1, 15, 2, 9, tzinfo=UTC)  # 03:09 in Paris


@pytest.fixture
def french(alice: User) -> User:
    alice.language = "fr"
    alice.timezone = "Europe/Paris"
    alice.save()
    return alice


def assert_in_order(text: str, pieces: list[str]) -> None:
    """Each piece appears after the previous one."""
    at = 0
    for piece in pieces:
        found = text.find(piece, at)
        assert found >= 0, f"{piece!r} missing after position {at}"
        at = found + len(piece)


def page(client: Client, url: str = "/") -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


@override_settings(LISEUSE_UI_TODAY="2024-01-16")
def test_the_normal_view_shows_entries_under_day_separators_in_the_readers_words(
    client: Client, french: User
) -> None:
    feed = followed_feed(french, title="Framablog", category="Libre")
    add_entry(feed, "Older one", JAN_15 - timedelta(days=3))
    add_entry(feed, "From yesterday", JAN_15, author="Framasoft")
    add_entry(feed, "From today", JAN_15 + timedelta(days=1))
    client.force_login(french)
    html = page(client)
    order = [
        "Vue normale",
        "Aujourd’hui",
        "From today",
        "Hier",
        "From yesterday",
        "Par : Framasoft",
        "15 janvier 2024 à 03:09",
        "À partir d’avant-hier",
        "Older one",
    ]
    assert_in_order(html, order)
    assert "<title>(3) Flux principal · liseuse</title>" in html
    assert html.count('class="day"') == 3


def test_the_browsers_language_is_used_when_the_person_chose_none(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    assert "Vue normale" in page_with(client, "fr-FR,fr;q=0.9")
    assert "Normal view" in page_with(client, "en-GB")
    alice.language = "en"
    alice.save()
    assert "Normal view" in page_with(client, "fr-FR,fr;q=0.9")


def page_with(client: Client, accept_language: str) -> str:
    return client.get("/", HTTP_ACCEPT_LANGUAGE=accept_language).content.decode()


def test_the_sidebar_lists_categories_feeds_counts_errors_and_labels(
    client: Client, alice: User
) -> None:
    feed = followed_feed(alice, title="Broken", category="Tech")
    feed.last_error = "HTTP 500"
    feed.save()
    add_entry(feed, "One", JAN_15)
    add_entry(feed, "Two", JAN_15)
    Label.objects.create(user=alice, name="Later")
    client.force_login(alice)
    html = page(client)
    assert re.search(f'data-count-feed="{feed.id}">2<', html)
    assert 'title="HTTP 500"' in html and "in-error" in html
    assert '>Tech</a> <span class="count" data-count-cat>2</span>' in html
    assert ">Later</a>" in html


def test_the_reader_and_global_views_and_other_streams_render(client: Client, alice: User) -> None:
    feed = followed_feed(alice, title="News", category="Tech")
    entry = add_entry(feed, "Shown whole", JAN_15, content="<p>The whole body</p>")
    EntryState.objects.filter(entry=entry).update(is_starred=True)
    label = Label.objects.create(user=alice, name="Later")
    client.force_login(alice)
    reader = page(client, "/?view=reader")
    assert "The whole body" in reader and '<details class="entry-fold"' not in reader
    glob = page(client, "/?view=global")
    assert 'class="box"' in glob and "News" in glob and "Shown whole" not in glob
    assert "Shown whole" in page(client, f"/f/{feed.id}/")
    assert "Shown whole" in page(client, f"/c/{feed.subscriptions.get().category_id}/")
    assert "Shown whole" in page(client, "/starred/")
    assert "no articles" in page(client, f"/l/{label.id}/")
    panel = page(client, f"/f/{feed.id}/?panel=1")
    assert "Shown whole" in panel and "<html" not in panel


def test_entries_show_the_persons_own_title_for_their_feed(client: Client, alice: User) -> None:
    feed = followed_feed(alice, title="Le titre du flux", category="Tech")
    Subscription.objects.filter(feed=feed).update(title="Mon nom <à moi>")
    add_entry(feed, "Un article", JAN_15)
    client.force_login(alice)
    mine = "Mon nom &lt;à moi&gt;"
    normal = page(client)  # the entry's line
    assert f'<span class="feed">{mine}</span>' in normal
    reader = page(client, "/?view=reader")  # the label above the entry
    assert f'<p class="feed-name"><a href="/f/{feed.id}/">{mine}</a></p>' in reader
    for html in (normal, reader, page(client, f"/c/{feed.subscriptions.get().category_id}/")):
        assert "Le titre du flux" not in html


def test_an_untitled_entry_shows_its_first_words_else_its_address(
    client: Client, alice: User
) -> None:
    # Microblogs and Mastodon write no titles; FreshRSS shows the first words too.
    feed = followed_feed(alice)
    toot = add_entry(
        feed,
        "toot",
        JAN_15,
        content="<p>Un pouet <b>court</b> &amp; gras</p><p>sur deux lignes, avec un très long"
        " mot de plus pour dépasser la limite</p>",
    )
    picture = add_entry(
        feed, "picture", JAN_15, content='<p><img src="https://i.example/1.png"></p>'
    )
    Entry.objects.filter(pk__in=[toot.pk, picture.pk]).update(title="")
    first_words = "Un pouet court &amp; gras sur deux lignes, avec un très long mot de plus pour…"
    client.force_login(alice)
    for view in ("normal", "reader"):
        html = page(client, f"/?view={view}")
        heading = re.search(rf'id="t{toot.pk}">(.*?)</h[23]>', html, re.DOTALL)
        assert heading is not None and f">{first_words}</a>" in heading[1], view
        heading = re.search(rf'id="t{picture.pk}">(.*?)</h[23]>', html, re.DOTALL)
        assert heading is not None and f">{picture.url}</a>" in heading[1], view
    assert f'<span class="line-title">{first_words}</span>' in page(client)
    # Stored as it came: the APIs send no made-up title.
    assert Entry.objects.get(pk=toot.pk).title == ""


def test_an_entrys_attachments_are_shown_after_its_content(client: Client, alice: User) -> None:
    feed = followed_feed(alice)
    episode = add_entry(feed, "Épisode 12", JAN_15, content="<p>Les notes</p>")
    Entry.objects.filter(pk=episode.pk).update(
        enclosures=[{"url": "https://pod.example/12.mp3", "type": "audio/mpeg", "length": 0}]
    )
    client.force_login(alice)
    for view in ("normal", "reader"):
        assert_in_order(
            page(client, f"/?view={view}"),
            [
                '<div class="content"><p>Les notes</p>',
                '<audio controls preload="none" src="https://pod.example/12.mp3"></audio>',
                ">12.mp3</a> (audio/mpeg)</figcaption></figure></div>",
            ],
        )


@pytest.mark.parametrize(
    "query",
    ["view=grid", "state=maybe", "order=sideways", "after=abc", "after=1.x", "after=9" * 30],
)
def test_a_bad_choice_in_the_address_is_a_400_with_a_reason(
    client: Client, alice: User, query: str
) -> None:
    client.force_login(alice)
    response = client.get(f"/?{query}")
    assert response.status_code == 400 and response.content


def test_someone_elses_feed_or_entry_is_a_404(client: Client, alice: User, bob: User) -> None:
    feed = followed_feed(alice)
    entry = add_entry(feed, "Alice's", JAN_15, readers=[alice])
    client.force_login(bob)
    assert client.get(f"/f/{feed.id}/").status_code == 404
    assert client.post(f"/entries/{entry.id}/read", {"read": "1"}).status_code == 404
    assert not EntryState.objects.get(user=alice).is_read


def test_the_paging_link_leads_to_the_next_entries(client: Client, alice: User) -> None:
    alice.page_size = 2
    alice.save()
    feed = followed_feed(alice)
    for day in range(5):
        add_entry(feed, f"Entry {day}", JAN_15 - timedelta(days=day))
    client.force_login(alice)
    first = page(client)
    link = re.search(r'href="([^"]+)" id="load-more"', first)
    assert link and "Entry 1" in first and "Entry 2" not in first
    second = page(client, "/" + link.group(1).replace("&amp;", "&"))
    assert "Entry 2" in second and "Entry 3" in second and "Entry 1" not in second


def test_without_javascript_read_and_star_are_forms_that_come_back_with_a_303(
    client: Client, alice: User
) -> None:
    feed = followed_feed(alice)
    entry = add_entry(feed, "One", JAN_15)
    client.force_login(alice)
    response = client.post(f"/entries/{entry.id}/read", {"read": "1", "next": "/?state=all#e1"})
    assert response.status_code == 303 and response["Location"] == "/?state=all#e1"
    response = client.post(
        f"/entries/{entry.id}/star", {"starred": "1", "next": "https://evil.example/"}
    )
    assert response.status_code == 303 and response["Location"] == "/"
    state = EntryState.objects.get()
    assert state.is_read and state.is_starred
    assert client.post(f"/entries/{entry.id}/read", {"read": "yes"}).status_code == 400
    assert client.get(f"/entries/{entry.id}/read").status_code == 405


def test_the_script_gets_json_with_the_new_unread_counts(client: Client, alice: User) -> None:
    feed = followed_feed(alice)
    entry = add_entry(feed, "One", JAN_15)
    add_entry(feed, "Two", JAN_15)
    other = followed_feed(alice, "https://other.example/feed")
    add_entry(other, "Three", JAN_15)
    client.force_login(alice)
    response = client.post(
        f"/entries/{entry.id}/read", {"read": "1"}, HTTP_ACCEPT="application/json"
    )
    # The total and the entry's feed's count (the page adds up its category's).
    assert response.json() == {"read": True, "unread_total": 2, "feeds": {str(feed.id): 1}}


def test_labels_are_set_from_the_ticked_boxes_and_a_new_name(client: Client, alice: User) -> None:
    feed = followed_feed(alice)
    entry = add_entry(feed, "One", JAN_15)
    keep = Label.objects.create(user=alice, name="Keep")
    drop = Label.objects.create(user=alice, name="Drop")
    state = EntryState.objects.get()
    state.labels.add(drop)
    client.force_login(alice)
    response = client.post(
        f"/entries/{entry.id}/labels", {"label": [str(keep.id)], "new_label": "Fresh"}
    )
    assert response.status_code == 303
    assert sorted(label.name for label in state.labels.all()) == ["Fresh", "Keep"]
    assert client.post(f"/entries/{entry.id}/labels", {"label": ["x"]}).status_code == 400


def test_mark_all_as_read_leaves_what_arrived_after_the_page_was_loaded(
    client: Client, alice: User
) -> None:
    feed = followed_feed(alice)
    add_entry(feed, "Shown", JAN_15)
    client.force_login(alice)
    html = page(client)
    seen = re.search(r'name="seen_up_to" value="(\d+)"', html)
    assert seen
    add_entry(feed, "Arrived later", JAN_15 - timedelta(days=1))  # dated before, arrived after
    response = client.post(
        "/mark-all-read", {"stream": "main", "seen_up_to": seen.group(1), "next": "/"}
    )
    assert response.status_code == 303
    unread = EntryState.objects.filter(is_read=False).values_list("entry__title", flat=True)
    assert list(unread) == ["Arrived later"]


def test_mark_all_older_than_one_day_keeps_todays_entries(client: Client, alice: User) -> None:
    feed = followed_feed(alice)
    now = timezone.now()
    add_entry(feed, "Old", now - timedelta(days=3))
    add_entry(feed, "Week old", now - timedelta(days=9))
    add_entry(feed, "Fresh", now)
    client.force_login(alice)
    loaded = str(queries.newest_state_id())
    client.post("/mark-all-read", {"stream": "main", "seen_up_to": loaded, "older_than": "week"})
    assert set(EntryState.objects.filter(is_read=False).values_list("entry__title", flat=True)) == {
        "Old",
        "Fresh",
    }
    client.post("/mark-all-read", {"stream": "main", "seen_up_to": loaded, "older_than": "day"})
    assert list(
        EntryState.objects.filter(is_read=False).values_list("entry__title", flat=True)
    ) == ["Fresh"]
    bad = client.post("/mark-all-read", {"stream": "main", "seen_up_to": "soon"})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "form",
    [
        {"stream": "main", "seen_up_to": "²"},  # a digit to isdigit(), not to int()
        {"stream": "main", "seen_up_to": "１２"},  # full-width digits
        {"stream": "feed", "id": "²", "seen_up_to": "1"},
        {"stream": "feed", "id": "9" * 19, "seen_up_to": "1"},  # past what SQLite holds
        {"stream": "category", "id": "9" * 30, "seen_up_to": "1"},
    ],
)
def test_mark_all_read_with_a_damaged_form_is_a_400(
    client: Client, alice: User, form: dict[str, str]
) -> None:
    client.force_login(alice)

    answer = client.post("/mark-all-read", form)

    assert answer.status_code == 400
    assert "damaged" in answer.content.decode()


def test_mark_all_of_a_feed_touches_only_that_feed(client: Client, alice: User) -> None:
    one = followed_feed(alice, "https://one.example/feed")
    two = followed_feed(alice, "https://two.example/feed")
    add_entry(one, "A", JAN_15)
    add_entry(two, "B", JAN_15)
    client.force_login(alice)
    loaded = str(queries.newest_state_id())
    client.post("/mark-all-read", {"stream": "feed", "id": str(one.id), "seen_up_to": loaded})
    assert list(
        EntryState.objects.filter(is_read=False).values_list("entry__title", flat=True)
    ) == ["B"]


def test_the_poll_endpoint_counts_what_arrived_since_the_page_was_loaded(
    client: Client, alice: User
) -> None:
    feed = followed_feed(alice)
    add_entry(feed, "Before", JAN_15)
    client.force_login(alice)
    seen = re.search(r'data-watermark="(\d+)"', page(client))
    assert seen
    assert client.get(f"/unread.json?after={seen.group(1)}").json()["arrived"] == 0
    add_entry(feed, "After", JAN_15 - timedelta(days=30))  # arrives now, dated a month ago
    answer = client.get(f"/unread.json?after={seen.group(1)}&stream=feed&id={feed.id}").json()
    assert answer == {"unread_total": 2, "feeds": {str(feed.id): 2}, "arrived": 1}
    assert client.get("/unread.json?after=yesterday").status_code == 400


def test_the_pages_have_no_inline_script_nor_inline_event_handler(
    client: Client, alice: User
) -> None:
    feed = followed_feed(alice, category="Tech")
    add_entry(feed, "One", JAN_15)
    client.force_login(alice)
    for url in ["/", "/?view=reader", "/?view=global", "/login/"]:
        html = page(client, url) if url != "/login/" else Client().get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\son[a-z]+\s*=", html), url
        assert "javascript:" not in html


def test_the_theme_of_the_person_is_on_the_page(client: Client, alice: User) -> None:
    alice.theme = "dark"
    alice.save()
    client.force_login(alice)
    assert 'data-theme="dark"' in page(client)


def test_a_visitor_is_sent_to_log_in(client: Client, alice: User) -> None:
    response = client.get("/starred/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_search_box_searches_within_the_stream(client: Client, alice: User) -> None:
    feed = followed_feed(alice)
    add_entry(feed, "Solarpunk workshops", JAN_15)
    add_entry(feed, "Language models", JAN_15)
    client.force_login(alice)
    html = page(client, "/?search=intitle:solarpunk")
    assert "Solarpunk workshops" in html and "Language models" not in html
    assert 'name="search" value="intitle:solarpunk"' in html  # mark all marks the results only
    bad = client.get("/?search=%22unclosed")
    assert bad.status_code == 400 and 'role="alert"' in bad.content.decode()


def test_mark_all_with_a_search_marks_only_its_results(client: Client, alice: User) -> None:
    feed = followed_feed(alice)
    add_entry(feed, "Solarpunk workshops", JAN_15)
    add_entry(feed, "Language models", JAN_15)
    client.force_login(alice)
    loaded = str(queries.newest_state_id())
    response = client.post(
        "/mark-all-read",
        {"stream": "main", "seen_up_to": loaded, "search": "intitle:solarpunk"},
    )
    assert response.status_code == 303
    unread = EntryState.objects.filter(is_read=False).values_list("entry__title", flat=True)
    assert list(unread) == ["Language models"]


def test_an_entrys_tags_lead_to_a_search_of_them(client: Client, alice: User) -> None:
    # FreshRSS shows a feed's categories of an entry as links; they were stored, never shown.
    feed = followed_feed(alice)
    tagged = add_entry(feed, "Tagged", JAN_15)
    Entry.objects.filter(pk=tagged.pk).update(categories=["Logiciel libre", '<b>"x"</b>'])
    other = add_entry(feed, "Other", JAN_15)
    Entry.objects.filter(pk=other.pk).update(categories=["Cuisine"])
    client.force_login(alice)
    text = page(client, "/?state=all&view=reader")
    link = re.search(r'<a href="(/search/\?q=[^"]+)">#Logiciel libre</a>', text)
    assert link, text
    assert "#&lt;b&gt;&quot;x&quot;&lt;/b&gt;</a>" in text  # escaped, never markup
    found = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert "Tagged" in found and "Other" not in found


def test_refresh_on_a_page_of_several_feeds_has_them_fetched_soon_and_says_so(
    client: Client, alice: User
) -> None:
    later = timezone.now() + timedelta(hours=3)
    feed = followed_feed(alice, category="Presse")
    other = followed_feed(alice, "https://other.example/feed")
    Feed.objects.update(next_fetch_at=later)
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'action="/refresh"' in page and 'id="refreshing"' in page
    category = Subscription.objects.get(feed=feed).category
    assert category is not None

    # Without a script: back to the page, at the note its fragment shows.
    response = client.post(
        "/refresh", {"stream": "category", "id": str(category.pk), "next": "/c/1?state=all"}
    )
    assert response.status_code == 303 and response["Location"] == "/c/1?state=all#refreshing"
    now = timezone.now()
    assert [f.next_fetch_at <= now for f in Feed.objects.order_by("pk")] == [True, False]
    # The page's script gets JSON; nothing left to make due says "refreshed".
    response = client.post("/refresh", {"stream": "main"}, HTTP_ACCEPT="application/json")
    assert response.json() == {"made_due": 1, "note": "refreshing"}
    assert Feed.objects.get(pk=other.pk).next_fetch_at <= timezone.now()
    response = client.post("/refresh", {"stream": "main", "next": "/?view=reader"})
    assert response["Location"] == "/?view=reader#refreshed"


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"stream": "category", "id": "x"}, 400),
        ({"stream": "category", "id": "99999"}, 404),
        ({"stream": "nowhere"}, 404),
    ],
)
def test_refresh_with_a_damaged_form_is_a_4xx(
    client: Client, alice: User, form: dict[str, str], status: int
) -> None:
    client.force_login(alice)
    assert client.post("/refresh", form).status_code == status
    assert client.get("/refresh").status_code == 405


def test_the_order_link_shows_the_order_and_says_what_it_changes_to(
    client: Client, alice: User
) -> None:
    followed_feed(alice)
    client.force_login(alice)

    def order_link(path: str) -> str:
        found = re.search(r'<a class="order" href="([^"]*)">(.*?)</a>', page(client, path))
        assert found is not None
        return found.group(1).replace("&amp;", "&") + " " + re.sub(r"<[^>]+>", "", found.group(2))

    assert order_link("/") == "?order=oldest Newest first: show the oldest first ⇅"
    assert order_link("/?order=oldest") == "?order=newest Oldest first: show the newest first ⇅"
