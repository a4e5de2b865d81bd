"""Rows for the reading pages' tests: a feed, its entries, and a person's states."""

from __future__ import annotations

from datetime import datetime

from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription


def followed_feed(
    user: User, url: str = "https://news.example/feed", *, title: str = "News", category: str = ""
) -> Feed:
    feed, _ = Feed.objects.get_or_create(url=url, defaults={"title": title})
    folder = Category.objects.get_or_create(user=user, name=category)[0] if category else None
    Subscription.objects.create(user=user, feed=feed, category=folder)
    return feed


def add_entry(
    feed: Feed,
    title: str,
    published: datetime,
    *,
    author: str = "",
    content: str = "<p>Body</p>",
    readers: list[User] | None = None,
) -> Entry:
    entry = Entry.objects.create(
        feed=feed,
        identity=f"{feed.id}-{title}",
        content_hash=title,
        title=title,
        author=author,
        url=f"https://news.example/{Entry.objects.count()}",
        content=content,
        published=published,
    )
    for user in readers if readers is not None else list(User.objects.all()):
        EntryState.objects.create(user=user, entry=entry, feed=feed, sort_date=published)
    return entry
