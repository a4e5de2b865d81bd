"""A person with an API password, feeds and entries made directly, and an API-speaking client."""

from __future__ import annotations

import hashlib
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from liseuse.accounts.models import User
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import follow

API_PASSWORD = "an api password"
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def with_api_password(user: User) -> User:
    user.set_api_password(API_PASSWORD)
    user.save()
    return user


def subscribe(
    user: User, url: str, *, title: str = "", category: str | None = None
) -> Subscription:
    sub = follow(user, url, category=category, title=title)
    if not sub.feed.title:
        Feed.objects.filter(pk=sub.feed_id).update(
            title=f"Feed {url.rsplit('/', 1)[-1]}", site_url=url.rsplit("/", 1)[0] + "/"
        )
        sub.feed.refresh_from_db()
    return sub


def add_entry(
    feed: Feed, title: str, *, minutes: int = 0, content: str = "<p>Body</p>", **extra: Any
) -> Entry:
    """An entry `minutes` after BASE, with a state for every follower of its feed; it reached
    them when it was published (`arrived_at`, what `ot` / `nt` filter on)."""
    published = BASE + timedelta(minutes=minutes)
    extra.setdefault("url", f"https://example.org/{feed.pk}/{title.replace(' ', '-')}")
    entry = Entry.objects.create(
        feed=feed,
        identity=hashlib.sha256(f"{feed.pk}:{title}".encode()).hexdigest(),
        content_hash="x",
        guid=f"urn:{feed.pk}:{title}",
        title=title,
        content=content,
        published=published,
        **extra,
    )
    EntryState.objects.bulk_create(
        [
            EntryState(
                user_id=uid, entry=entry, feed=feed, sort_date=published, arrived_at=published
            )
            for uid in Subscription.objects.filter(feed=feed).values_list("user_id", flat=True)
        ]
    )
    return entry


class GReader:
    """Speaks to the API in process, the way a client would: log in once, then send the token."""

    def __init__(self, client: Client, prefix: str = "/api/greader.php") -> None:
        self.client = client
        self.prefix = prefix
        self.auth = ""

    def login(self, username: str, password: str = API_PASSWORD) -> Any:
        response = self.client.post(
            f"{self.prefix}/accounts/ClientLogin", {"Email": username, "Passwd": password}
        )
        if response.status_code == 200:
            lines = dict(line.split("=", 1) for line in response.content.decode().splitlines())
            self.auth = lines["Auth"]
        return response

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"GoogleLogin auth={self.auth}"} if self.auth else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"{self.prefix}/{path}", params, headers=self.headers())

    def post(
        self,
        path: str,
        data: Any = None,
        *,
        raw: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> Any:
        if raw is not None:
            return self.client.generic(
                "POST", f"{self.prefix}/{path}", raw.encode(), content_type, headers=self.headers()
            )
        from urllib.parse import urlencode

        body = urlencode(data or {}, doseq=True)
        return self.client.generic(
            "POST", f"{self.prefix}/{path}", body.encode(), content_type, headers=self.headers()
        )

    def json(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.content
        return response.json()

    def edit_token(self) -> str:
        return str(self.get("reader/api/0/token").content.decode().strip())


@pytest.fixture
def reader(alice: User) -> User:
    return with_api_password(alice)


@pytest.fixture
def gr(client: Client, reader: User) -> GReader:
    api = GReader(client)
    assert api.login("alice").status_code == 200
    return api
