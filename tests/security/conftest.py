"""The three personas of the trust tests: alice owns things, bob tries to reach them, and an
admin manages accounts. `world` gives alice one of every object a URL can name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Favicon
from liseuse.feeds.models import Label
from liseuse.feeds.models import SavedQuery
from liseuse.feeds.models import Subscription
from tests.greader.conftest import add_entry
from tests.greader.conftest import subscribe


@dataclass
class Alices:
    user: User
    sub: Subscription
    category: Category
    label: Label
    saved: SavedQuery
    entry: Entry
    state: EntryState


@pytest.fixture
def admin(db: None) -> User:
    return User.objects.create_user(
        "root", password="correct horse battery", is_staff=True, is_superuser=True
    )


@pytest.fixture
def world(alice: User) -> Alices:
    sub = subscribe(
        alice,
        "https://alice-only.example/feed",
        category="AliceOnly category",
        title="AliceOnly feed",
    )
    icon = Favicon.objects.create(digest="a" * 64, content_type="image/png", data=b"\x89PNG")
    sub.feed.favicon = icon
    sub.feed.save(update_fields=["favicon"])
    entry = add_entry(sub.feed, "AliceOnly entry")
    label = Label.objects.create(user=alice, name="AliceOnly label")
    state = EntryState.objects.get(user=alice, entry=entry)
    state.labels.add(label)
    saved = SavedQuery.objects.create(user=alice, name="AliceOnly search", query="AliceOnly")
    assert sub.category is not None
    return Alices(alice, sub, sub.category, label, saved, entry, state)


# What no page, list or API answer given to bob may contain.
MARKERS = (b"AliceOnly", b"alice-only")


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def bob_client(bob: User) -> Client:
    return logged_in(bob)
