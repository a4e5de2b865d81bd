from __future__ import annotations

import pytest
from django.test import Client

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
