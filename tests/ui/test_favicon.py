"""Icons: the feeds' (served by liseuse for its followers) and liseuse's own."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds.models import Favicon
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription

pytestmark = pytest.mark.django_db

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def test_a_follower_gets_the_icon_from_liseuse_under_a_sandboxing_csp(
    client: Client, alice: User
) -> None:
    icon = Favicon.objects.create(digest="d", content_type="image/svg+xml", data=SVG)
    feed = Feed.objects.create(url="https://a.example/feed", favicon=icon)
    Subscription.objects.create(user=alice, feed=feed)
    client.force_login(alice)
    response = client.get(f"/favicons/{feed.id}")
    assert response.status_code == 200 and response.content == SVG
    assert response["Content-Type"] == "image/svg+xml"
    assert "sandbox" in response["Content-Security-Policy"]


def test_someone_elses_feed_icon_is_a_404(client: Client, alice: User, bob: User) -> None:
    icon = Favicon.objects.create(digest="d", content_type="image/png", data=b"\x89PNG")
    feed = Feed.objects.create(url="https://a.example/feed", favicon=icon)
    Subscription.objects.create(user=alice, feed=feed)
    client.force_login(bob)
    assert client.get(f"/favicons/{feed.id}").status_code == 404
    assert Client().get(f"/favicons/{feed.id}").status_code == 302  # to the login page


@override_settings(LISEUSE_PUBLIC_READER="alice")
def test_every_page_names_liseuses_own_icon(client: Client, alice: User) -> None:
    # Else the browser asks for /favicon.ico, which is a 404, on every page.
    pages = ["/login/", "/public/"]
    client.force_login(alice)
    pages += ["/", "/manage/subscriptions/", "/search/?q=x"]
    for address in pages:
        html = client.get(address).content.decode()
        found = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
        assert found is not None, address
        icon = client.get(found.group(1))
        assert icon.status_code == 200 and icon["Content-Type"].startswith("image/svg+xml")
        assert b"<svg" in b"".join(icon.streaming_content)  # type: ignore[attr-defined]
