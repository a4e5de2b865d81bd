"""Fever fixtures: people with an API password, feeds with entries, and a caller."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Favicon
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription

API_PASSWORD = "fever api password"
T0 = datetime(2024, 1, 15, tzinfo=UTC)
URL = "/api/fever.php"


def fever_key(username: str, password: str = API_PASSWORD) -> str:
    return hashlib.md5(f"{username}:{password}".encode()).hexdigest()


def with_api_password(user: User) -> User:
    user.set_api_password(API_PASSWORD)
    user.save()
    return user


def make_feed(
    name: str,
    *followers: User,
    entries: int = 3,
    category: str = "",
    favicon: Favicon | None = None,
) -> Feed:
    """A feed followed by these people, its entries one hour apart (dated and arrived).

    Each entry's states are made in turn for each follower: with two followers, a person's
    item ids (their state ids) are not the entry ids."""
    feed = Feed.objects.create(
        url=f"https://{name}.example/feed",
        title=name,
        site_url=f"https://{name}.example/",
        favicon=favicon,
        last_success_at=T0 + timedelta(days=1),
    )
    for user in followers:
        folder = Category.objects.get_or_create(user=user, name=category)[0] if category else None
        Subscription.objects.create(user=user, feed=feed, category=folder)
    for i in range(entries):
        moment = T0 + timedelta(hours=i)
        entry = Entry.objects.create(
            feed=feed,
            identity=f"{name}{i}",
            content_hash="h",
            title=f"{name} {i}",
            author=f"{name}'s author",
            url=f"https://{name}.example/{i}",
            content=f"<p>{name} {i}</p>",
            published=moment,
            first_seen=moment,
        )
        for user in followers:
            EntryState.objects.create(
                user=user, entry=entry, feed=feed, sort_date=entry.published, arrived_at=moment
            )
    return feed


def entry_ids(feed: Feed) -> list[int]:
    return list(Entry.objects.filter(feed=feed).order_by("id").values_list("id", flat=True))


def item_ids(user: User, feed: Feed | None = None) -> list[int]:
    """The person's Fever item ids (their state ids), of one feed or of all, ascending."""
    states = EntryState.objects.filter(user=user)
    if feed is not None:
        states = states.filter(feed=feed)
    return list(states.order_by("id").values_list("id", flat=True))


Caller = Callable[..., dict[str, Any]]


@pytest.fixture
def fever(client: Client) -> Caller:
    """POST to the endpoint as a Fever client does: `?api&<query>` with api_key in the body.

    `query` goes in the query string, `data` in the form body; the JSON answer is returned and
    the status is checked against `status`.
    """

    def call(
        user: User | str,
        query: str = "",
        data: dict[str, str] | None = None,
        status: int = 200,
    ) -> dict[str, Any]:
        key = fever_key(user.username) if isinstance(user, User) else user
        response = client.post(f"{URL}?api&{query}", {"api_key": key, **(data or {})})
        assert response.status_code == status, response.content
        assert response["Content-Type"] == "application/json"
        answer: dict[str, Any] = response.json()
        return answer

    return call


@pytest.fixture
def reader(alice: User) -> User:
    """alice, with an API password."""
    return with_api_password(alice)
