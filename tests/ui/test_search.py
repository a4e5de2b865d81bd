"""The search page (/search/): what it searches, where its results lead, how it pages and what it
shows of each result. (Its syntax is tested in tests/feeds; saving a search in test_labels.py.)"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from django.test import Client

from liseuse.accounts.models import User
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Subscription
from tests.ui.reading_data import add_entry
from tests.ui.reading_data import followed_feed

pytestmark = pytest.mark.django_db

JAN_15 = datetime(2024, 1, 15, 2, 9, tzinfo=UTC)  # 03:09 in Paris


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def result_links(html: str) -> list[str]:
    found = html.split('<ul class="search-results">', 1)[1].split("</ul>", 1)[0]
    return [link.replace("&amp;", "&") for link in re.findall(r'<a href="([^"]+)"', found)]


def test_it_searches_the_feeds_kept_out_of_the_main_stream_too(alice: User) -> None:
    for visibility in Subscription.Visibility:
        feed = followed_feed(alice, f"https://{visibility}.example/feed", title=visibility)
        Subscription.objects.filter(feed=feed).update(visibility=visibility)
        add_entry(feed, f"Soleil ({visibility})", JAN_15)
    hidden = Subscription.objects.get(visibility=Subscription.Visibility.HIDDEN).feed_id
    client = logged_in(alice)
    html = client.get("/search/", {"q": "soleil"}).content.decode()
    assert all(f"Soleil ({v})" in html for v in Subscription.Visibility)
    html = client.get("/search/", {"q": f"f:{hidden} soleil"}).content.decode()
    assert "Soleil (hidden)" in html and "Soleil (main)" not in html


def test_a_result_opens_a_page_that_shows_it_even_when_read(alice: User) -> None:
    feed = followed_feed(alice)
    wanted = add_entry(feed, "Le bon article", JAN_15 - timedelta(days=30))
    for day in range(5):
        add_entry(feed, f"Plus récent {day}", JAN_15 + timedelta(days=day))
    EntryState.objects.filter(user=alice).update(is_read=True)
    alice.page_size = 3  # the entry is not on the feed's first page
    alice.default_view = User.View.GLOBAL  # which lists no entries
    alice.save()
    client = logged_in(alice)
    (link,) = result_links(client.get("/search/", {"q": "bon article"}).content.decode())
    page = client.get(link)
    assert page.status_code == 200
    assert f'id="e{wanted.id}"' in page.content.decode()
    # To the entry's title, inside its fold: the browser opens the fold (it was shut).
    assert link.endswith(f"#t{wanted.id}")
    assert f'id="t{wanted.id}"' in page.content.decode()


def test_results_come_a_page_at_a_time(alice: User) -> None:
    feed = followed_feed(alice)
    for day in range(5):
        add_entry(feed, f"Soleil {day}", JAN_15 + timedelta(days=day))
    alice.page_size = 2
    alice.save()
    client = logged_in(alice)
    address, seen = "/search/?q=soleil", []
    for _ in range(3):
        html = client.get(address).content.decode()
        seen += re.findall(r">Soleil (\d)<", html)
        more = re.search(r'<a href="([^"]+)" rel="next">Load more articles</a>', html)
        if more is None:
            break
        address = "/search/" + more.group(1).replace("&amp;", "&")
    assert seen == ["4", "3", "2", "1", "0"]
    assert more is None  # the last page links to no other
    assert client.get("/search/?q=soleil&after=oops").status_code == 400


def test_a_result_shows_the_persons_name_for_its_feed_and_the_reading_pages_date(
    alice: User,
) -> None:
    feed = followed_feed(alice, title="Le titre du flux")
    Subscription.objects.filter(feed=feed).update(title="Mon nom <pour> lui")
    add_entry(feed, "Soleil", JAN_15)
    alice.timezone = "Europe/Paris"
    alice.save()
    html = logged_in(alice).get("/search/", {"q": "soleil"}).content.decode()
    assert "Mon nom &lt;pour&gt; lui · " in html and "Le titre du flux" not in html
    assert ">January 15, 2024 at 03:09</time>" in html
    alice.language = "fr"
    alice.save()
    html = logged_in(alice).get("/search/", {"q": "soleil"}).content.decode()
    assert ">15 janvier 2024 à 03:09</time>" in html
