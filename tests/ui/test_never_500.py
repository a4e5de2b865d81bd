"""What anyone can type into an address or a search box is a 4xx with words, never a 500."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime

import pytest
from django.test import Client
from django.test import override_settings

from liseuse.accounts.models import User
from tests.ui.reading_data import add_entry
from tests.ui.reading_data import followed_feed

pytestmark = pytest.mark.django_db

# One past what SQLite's INTEGER holds, and much more: each was an OverflowError (500).
BIG = "99999999999999999999999"
JAN_15 = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/f/{BIG}/"),
        ("get", f"/c/{BIG}/"),
        ("get", f"/l/{BIG}/"),
        ("get", f"/favicons/{BIG}"),
        ("post", f"/entries/{BIG}/read"),
        ("post", f"/entries/{BIG}/star"),
        ("post", f"/entries/{BIG}/labels"),
        ("get", f"/manage/subscriptions/{BIG}/"),
        ("get", f"/unread.json?stream=feed&id={BIG}&after=0"),
        ("get", f"/unread.json?after={BIG}"),
        ("get", "/unread.json?after=%C2%B2"),  # "²": isdigit() says yes, int() no
        ("get", f"/search/?q=f:{BIG}"),
        ("get", "/search/?q=f:%C2%B2"),
        ("get", "/search/?q=pubdate:P99999999Y"),
        ("get", "/search/?q=date:P99999999Y/2024"),
        ("get", "/search/?q=date:2014-02/%C2%B2%C2%B2"),
        ("get", "/?after=%C2%B2.1"),  # the next page's cursor: <microseconds>.<entry id>
        ("get", "/?after=1.%C2%B2"),
        ("get", f"/?after=1.{BIG}"),
    ],
)
def test_a_number_out_of_range_is_a_4xx(
    client: Client, alice: User, method: str, path: str
) -> None:
    client.force_login(alice)
    response = getattr(client, method)(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)


@override_settings(LISEUSE_PUBLIC_READER="alice")
def test_the_public_reader_too(client: Client, alice: User) -> None:
    assert client.get(f"/public/f/{BIG}/").status_code == 404
    for cursor in ("%C2%B2_1", "1_%C2%B2", f"1_{BIG}", f"{'9' * 20}_1"):
        assert client.get(f"/public/?after={cursor}").status_code == 400, cursor


@pytest.mark.parametrize("label", ["%C2%B2", "１", BIG])
def test_a_label_number_that_is_no_number_is_a_4xx(client: Client, alice: User, label: str) -> None:
    feed = followed_feed(alice)
    entry = add_entry(feed, "An entry", JAN_15)
    client.force_login(alice)

    response = client.post(
        f"/entries/{entry.id}/labels",
        f"label={label}",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400


def test_the_new_articles_banner_counts_only_what_the_pages_search_shows(
    client: Client, alice: User
) -> None:
    # The poll ignored the page's search: "new articles" was announced on /?search=zebra for
    # an entry that the reload did not show.
    feed = followed_feed(alice)
    add_entry(feed, "Before", JAN_15)
    client.force_login(alice)
    seen = re.search(r'data-watermark="(\d+)"', client.get("/?search=zebra").content.decode())
    assert seen
    add_entry(feed, "Une girafe", JAN_15)
    add_entry(feed, "Un zèbre", JAN_15)
    poll = f"/unread.json?after={seen.group(1)}&stream=main&state=unread"
    assert client.get(poll).json()["arrived"] == 2
    assert client.get(poll + "&search=zebre").json()["arrived"] == 1
    assert client.get(poll + "&search=%22").status_code == 400


def test_a_damaged_address_is_a_page_with_a_way_back(client: Client, alice: User) -> None:
    # It was a bare line of text, with no layout and no link.
    feed = followed_feed(alice)
    client.force_login(alice)

    page = client.get(f"/f/{feed.id}/?view=bogus")

    assert page.status_code == 400
    html = page.content.decode()
    assert '<header class="top">' in html
    assert "Unknown view: choose normal, reader or global." in html
    assert f'<a href="/f/{feed.id}/">Back</a>' in html


def test_the_pages_script_still_gets_the_reason_as_text(client: Client, alice: User) -> None:
    feed = followed_feed(alice)
    entry = add_entry(feed, "An entry", JAN_15)
    client.force_login(alice)

    answer = client.post(
        f"/entries/{entry.id}/read", {"read": "maybe"}, HTTP_ACCEPT="application/json"
    )

    assert answer.status_code == 400
    assert answer.content.decode() == "Say read=1 or read=0."
