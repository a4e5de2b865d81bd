"""Icons for Google Reader apps, which load `iconUrl` as a plain image, without the session."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from liseuse.accounts.models import User
from liseuse.feeds.models import Favicon
from liseuse.feeds.models import Feed
from tests.greader.conftest import GReader
from tests.greader.conftest import subscribe

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def with_icon(feed: Feed, digest: str) -> None:
    feed.favicon = Favicon.objects.create(digest=digest, content_type="image/png", data=PNG)
    feed.save()


def icon_paths(gr: GReader) -> dict[str, str]:
    listed = gr.json("reader/api/0/subscription/list")["subscriptions"]
    found = {}
    for sub in listed:
        url = urlsplit(sub["iconUrl"])
        assert url.scheme == "http" and url.netloc == "testserver"
        found[sub["url"]] = f"{url.path}?{url.query}"
    return found


def test_an_app_loads_the_icon_from_its_url_without_a_session(gr: GReader, reader: User) -> None:
    with_icon(subscribe(reader, "https://a.example/feed").feed, "a")
    path = icon_paths(gr)["https://a.example/feed"]
    response = Client().get(path)  # no session, no Authorization header
    assert response.status_code == 200 and response.content == PNG
    assert response["Content-Type"] == "image/png"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_icon_url_opens_no_other_feeds_icon(gr: GReader, reader: User) -> None:
    first = subscribe(reader, "https://a.example/feed").feed
    second = subscribe(reader, "https://b.example/feed").feed
    with_icon(first, "a")
    with_icon(second, "b")
    key = icon_paths(gr)["https://a.example/feed"].split("?")[1]
    anonymous = Client()
    assert anonymous.get(f"/favicons/{second.id}?{key}").status_code == 302  # to the login page
    assert anonymous.get(f"/favicons/{first.id}?key=made-up").status_code == 302
    assert anonymous.get(f"/favicons/{first.id}?key=").status_code == 302
    assert anonymous.get(f"/favicons/{first.id}").status_code == 302
