"""The public reader (`LISEUSE_PUBLIC_READER`): how it reads, in a browser and without one.

What it lets anyone see (and not change) is in tests/security/test_public.py."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds.models import Subscription
from tests.ui.conftest import logged_in_context
from tests.ui.reading_data import add_entry
from tests.ui.reading_data import followed_feed

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from pytest_django.live_server_helper import LiveServer

JAN_15 = datetime(2024, 1, 15, 2, 9, tzinfo=UTC)
LONG = "<p>" + "Un texte assez long pour remplir plusieurs lignes de la colonne. " * 12 + "</p>"


@pytest.fixture
def public_alice(alice: User) -> User:
    feed = followed_feed(alice, title="Le titre du flux", category="Libre")
    Subscription.objects.filter(user=alice, feed=feed).update(title="Mon nom pour lui")
    for day in range(3):
        add_entry(feed, f"Article {day}", JAN_15 - timedelta(days=day), content=LONG)
    return alice


@override_settings(LISEUSE_PUBLIC_READER="alice")
@pytest.mark.django_db(transaction=True)
def test_every_public_entry_reads_across_the_whole_column(
    browser: Browser, live_server: LiveServer, public_alice: User
) -> None:
    context = logged_in_context(browser, live_server.url, public_alice)
    context.clear_cookies()  # a visitor, not logged in
    page = context.new_page()
    page.goto("/public/")
    column = page.locator("main h1").bounding_box()
    assert column is not None
    contents = page.locator("article.entry .content")
    assert contents.count() == 3
    for index in range(3):
        box = contents.nth(index).bounding_box()
        assert box is not None
        # Once, the text stood beside its header, in what width the header left it.
        assert box["width"] >= 0.9 * column["width"], (index, box, column)
    context.close()


@override_settings(LISEUSE_PUBLIC_READER="alice")
@pytest.mark.django_db
def test_an_entry_shows_the_readers_name_for_its_feed_and_the_reading_pages_date(
    client: Client, public_alice: User
) -> None:
    Subscription.objects.filter(user=public_alice).update(title="Mon nom <à moi>")
    html = client.get("/public/").content.decode()
    assert '<p class="feed-name">Mon nom &lt;à moi&gt;</p>' in html
    assert "Le titre du flux" not in html
    assert ">January 15, 2024 at 02:09</time>" in html  # in UTC, the site's time zone
    html = client.get("/public/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert ">15 janvier 2024 à 02:09</time>" in html


@override_settings(LISEUSE_PUBLIC_READER="alice")
@pytest.mark.django_db
def test_dates_are_in_the_readers_time_zone(client: Client, public_alice: User) -> None:
    # As FreshRSS's anonymous reading shows its default user's settings; it was the server's UTC.
    public_alice.timezone = "America/New_York"
    public_alice.save(update_fields=["timezone"])

    html = client.get("/public/").content.decode()

    assert ">January 14, 2024 at 21:09</time>" in html  # 02:09 UTC, the day before there
