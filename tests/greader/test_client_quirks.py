"""What real Google Reader clients send that a strict server would refuse (reference/clients.md)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from liseuse.accounts.models import User
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Subscription
from liseuse.greader import ids
from tests.greader.conftest import GReader
from tests.greader.conftest import add_entry
from tests.greader.conftest import subscribe

pytestmark = pytest.mark.django_db

READ = "user/-/state/com.google/read"
KEPT_UNREAD = "user/-/state/com.google/kept-unread"


@pytest.fixture
def news(reader: User) -> Subscription:
    sub = subscribe(reader, "http://news.example/feed.php?lang=fr&cat=2", title="News")
    for n in range(1, 4):
        add_entry(sub.feed, f"news {n}", minutes=n)
    return sub


def is_read(user: User, title: str) -> bool:
    return EntryState.objects.get(user=user, entry__title=title).is_read


def test_newsboat_logs_in_with_its_extra_fields_and_an_encoded_space(
    client: Client, reader: User
) -> None:
    body = (
        "service=reader&Email=alice&Passwd=an%20api%20password&source=newsboat0.000000"
        "&accountType=HOSTED_OR_GOOGLE&continue=http://www.google.com/"
    )
    response = client.generic(
        "POST", "/accounts/ClientLogin", body, "application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and "\nAuth=alice/" in response.content.decode()


def test_newsboat_edit_tag_body_is_not_percent_encoded_and_t_ends_in_a_newline(
    gr: GReader, reader: User, news: Subscription
) -> None:
    entry = Entry.objects.get(title="news 2")
    body = f"i={ids.long_id(entry.pk)}&a={READ}&r={KEPT_UNREAD}&ac=edit&T={gr.edit_token()}\n"
    assert gr.post("reader/api/0/edit-tag", raw=body).content == b"OK"
    assert is_read(reader, "news 2")
    unread = f"i={ids.long_id(entry.pk)}&r={READ}&a={KEPT_UNREAD}&a=user/-/state/com.google/tracking-kept-unread&ac=edit&T=x"
    assert gr.post("reader/api/0/edit-tag", raw=unread).content == b"OK"
    assert not is_read(reader, "news 2")


def test_newsboat_marks_a_feed_read_by_its_raw_url_with_a_query_string_and_no_ts(
    gr: GReader, reader: User, news: Subscription
) -> None:
    body = f"s=feed/{news.feed.url}&T={gr.edit_token()}\n"
    assert gr.post("reader/api/0/mark-all-as-read", raw=body).content == b"OK"
    assert EntryState.objects.filter(user=reader, is_read=True).count() == 3


def test_newsboat_asks_for_atom_with_the_stream_id_percent_encoded_whole(
    gr: GReader, news: Subscription
) -> None:
    encoded = "feed%2Fhttp%3A%2F%2Fnews.example%2Ffeed.php%3Flang%3Dfr%26cat%3D2"
    response = gr.client.get(f"/reader/atom/{encoded}", {"n": 20}, headers=gr.headers())
    assert response.status_code == 200 and response.content.count(b"<entry ") == 3


def test_reeder_sends_t_as_x(gr: GReader, reader: User, news: Subscription) -> None:
    entry = Entry.objects.get(title="news 1")
    assert gr.post("reader/api/0/edit-tag", {"i": entry.pk, "a": READ, "T": "x"}).content == b"OK"
    assert is_read(reader, "news 1")


def test_feedme_sends_an_empty_t(gr: GReader, reader: User, news: Subscription) -> None:
    response = gr.post("reader/api/0/mark-all-as-read", {"s": f"feed/{news.feed_id}", "T": ""})
    assert response.content == b"OK" and is_read(reader, "news 3")


def test_vienna_rss_reads_three_lines_with_lsid(client: Client, reader: User) -> None:
    response = GReader(client).login("alice")
    assert [line.split("=")[0] for line in response.content.decode().splitlines()] == [
        "SID",
        "LSID",
        "Auth",
    ]


def test_bazqux_style_clients_name_the_stream_in_s_rather_than_the_path(
    gr: GReader, news: Subscription
) -> None:
    body = gr.json("reader/api/0/stream/contents", s=f"feed/{news.feed_id}", n=2)
    assert [item["title"] for item in body["items"]] == ["news 3", "news 2"]


def test_google_reader_client_sends_short_decimal_ids_with_long_ones_mixed(
    gr: GReader, news: Subscription
) -> None:
    one, two = Entry.objects.get(title="news 1"), Entry.objects.get(title="news 2")
    response = gr.post(
        "reader/api/0/stream/items/contents", {"i": [str(one.pk), ids.long_id(two.pk)]}
    )
    assert [item["title"] for item in response.json()["items"]] == ["news 1", "news 2"]


def test_a_json_body_under_a_form_content_type_is_read_as_json(
    gr: GReader, reader: User, news: Subscription
) -> None:
    # newsboat's Miniflux and TT-RSS sources send JSON as application/x-www-form-urlencoded;
    # Google Reader clients built on the same HTTP helpers can do the same.
    entry = Entry.objects.get(title="news 3")
    body = json.dumps({"i": [str(entry.pk)], "a": READ, "T": gr.edit_token()})
    assert gr.post("reader/api/0/edit-tag", raw=body).content == b"OK"
    assert is_read(reader, "news 3")
    assert gr.post("reader/api/0/edit-tag", raw="{not json").status_code == 400


def test_clients_that_add_a_trailing_slash_get_no_redirect(gr: GReader, news: Subscription) -> None:
    entry = Entry.objects.get(title="news 1")
    response = gr.post("reader/api/0/edit-tag/", {"i": entry.pk, "a": READ})
    assert response.status_code == 200 and response.content == b"OK"
