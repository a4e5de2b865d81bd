"""Anonymous reading: off by default; when on, one person's streams, read-only."""

from __future__ import annotations

import pytest
from django.test import Client
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Subscription
from tests.greader.conftest import add_entry
from tests.greader.conftest import subscribe
from tests.security.conftest import MARKERS
from tests.security.conftest import Alices

pytestmark = pytest.mark.django_db


def test_anonymous_reading_is_off_by_default(world: Alices, client: Client) -> None:
    assert client.get("/public/").status_code == 404
    assert client.get(f"/public/f/{world.sub.feed_id}/").status_code == 404


@override_settings(LISEUSE_PUBLIC_READER="alice")
def test_anyone_reads_the_chosen_persons_streams_and_changes_nothing(
    world: Alices, bob: User, client: Client
) -> None:
    bobs = subscribe(bob, "https://bob-only.example/feed", title="BobOnly feed")
    add_entry(bobs.feed, "BobOnly entry")
    page = client.get("/public/")
    assert page.status_code == 200
    assert b"AliceOnly entry" in page.content and b"BobOnly" not in page.content
    assert b'method="post"' not in page.content  # read-only: nothing to submit
    feed = client.get(f"/public/f/{world.sub.feed_id}/")
    assert feed.status_code == 200 and b"AliceOnly entry" in feed.content
    # bob's feed, and a feed nobody follows, are not alice's to show.
    assert client.get(f"/public/f/{bobs.feed_id}/").status_code == 404
    assert client.get("/public/f/987654/").status_code == 404
    state = EntryState.objects.get(pk=world.state.pk)
    assert not state.is_read and not state.is_starred
    # Her labels and saved searches are never shown.
    assert b"AliceOnly label" not in page.content and b"AliceOnly search" not in page.content


@override_settings(LISEUSE_PUBLIC_READER="alice")
def test_a_hidden_feed_stays_hidden_and_pages_follow_each_other(
    world: Alices, client: Client
) -> None:
    for minute in range(1, 40):
        add_entry(world.sub.feed, f"more {minute}", minutes=minute)
    first = client.get("/public/").content.decode()
    assert "more 39" in first and "more 5<" not in first
    after = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(after.replace("&amp;", "&"))
    assert second.status_code == 200 and b"more 5<" in second.content
    assert client.get("/public/?after=nonsense").status_code == 400
    Subscription.objects.filter(pk=world.sub.pk).update(visibility="hidden")
    assert client.get(f"/public/f/{world.sub.feed_id}/").status_code == 404


@override_settings(LISEUSE_PUBLIC_READER="alice")
def test_a_disabled_public_account_is_no_longer_shown(world: Alices, client: Client) -> None:
    User.objects.filter(pk=world.user.pk).update(is_active=False)
    response = client.get("/public/")
    assert response.status_code == 404
    for marker in MARKERS:
        assert marker not in response.content
