"""Stream ids: which entries `user/-/state/com.google/…`, `user/-/label/NAME` and `feed/…` mean.

Categories and labels share the `user/-/label/` namespace, as in FreshRSS: a name is a category
first, then a label. A feed is `feed/<id>` (what liseuse emits) or `feed/<url>` (what some
clients send back, and what newsboat builds). The `user/<who>/` part is not checked against the
person: the token already says who asks, and another person's streams are unreachable anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Category
from liseuse.feeds.models import Label
from liseuse.feeds.models import Subscription
from liseuse.feeds.queries import StreamFilter
from liseuse.feeds.queries import label_named
from liseuse.feeds.urls import FeedUrlError
from liseuse.feeds.urls import normalize_feed_url
from liseuse.greader.errors import bad_request
from liseuse.greader.errors import not_found
from liseuse.lib.ids import is_row_id

STATE = "user/-/state/com.google/"
READING_LIST = STATE + "reading-list"
READ = STATE + "read"
STARRED = STATE + "starred"
LABEL = "user/-/label/"

Kind = Literal["reading-list", "read", "unread", "starred", "category", "label", "feed"]


@dataclass(frozen=True, slots=True)
class Stream:
    kind: Kind
    category: Category | None = None
    label: Label | None = None
    subscription: Subscription | None = None

    def filter(self) -> StreamFilter:
        """The stream's entries, in every state (the `it`/`xt` parameters narrow it)."""
        if self.kind == "starred":
            return StreamFilter(state="starred")
        if self.kind == "read":
            return StreamFilter(state="read", reading_list=True)
        if self.kind == "unread":
            return StreamFilter(state="unread", reading_list=True)
        if self.category is not None:
            return StreamFilter(state="all", category_id=self.category.pk)
        if self.label is not None:
            return StreamFilter(state="all", label_id=self.label.pk)
        if self.subscription is not None:
            return StreamFilter(state="all", feed_id=self.subscription.feed_id)
        return StreamFilter(state="all", reading_list=True)


def normalize(stream_id: str) -> str:
    """`user/<anyone>/…` as `user/-/…`: clients send their user id, their name, or `-`."""
    stream_id = stream_id.strip()
    if stream_id.startswith("user/"):
        parts = stream_id.split("/", 2)
        if len(parts) == 3:
            return f"user/-/{parts[2]}"
    return stream_id


def state_name(stream_id: str) -> str | None:
    """`read` for `user/-/state/com.google/read`; None when it is not a state."""
    stream_id = normalize(stream_id)
    return stream_id[len(STATE) :] if stream_id.startswith(STATE) else None


def label_name(stream_id: str) -> str | None:
    stream_id = normalize(stream_id)
    return stream_id[len(LABEL) :] if stream_id.startswith(LABEL) else None


def find_subscription(user: User, stream_id: str) -> Subscription:
    """The person's subscription named by `feed/<id>` or `feed/<url>`, else 404."""
    if not stream_id.startswith("feed/"):
        raise bad_request(f"Not a feed stream id: {stream_id[:200]!r}")
    key = stream_id[len("feed/") :]
    found = None
    if is_row_id(key):
        found = queries.subscription(user, feed_id=int(key))
    if found is None and key:
        found = queries.subscription(user, feed_url=key)
        if found is None:
            try:
                found = queries.subscription(user, feed_url=normalize_feed_url(key))
            except FeedUrlError:
                found = None
    if found is None:
        raise not_found(f"No subscription {stream_id[:200]!r}")
    return found


def resolve(user: User, stream_id: str) -> Stream:
    """What a stream id names for this person; 404 for a feed or label they do not have."""
    stream_id = normalize(stream_id)
    if stream_id in ("", READING_LIST):
        return Stream("reading-list")
    state = state_name(stream_id)
    if state is not None:
        if state == "starred":
            return Stream("starred")
        if state == "read":
            return Stream("read")
        if state in ("unread", "kept-unread", "fresh"):
            return Stream("unread")
        raise not_found(f"Unknown state stream {stream_id[:200]!r}")
    name = label_name(stream_id)
    if name is not None:
        category = queries.category(user, name=name)
        if category is not None:
            return Stream("category", category=category)
        label = label_named(user, name, create=False)
        if label is not None:
            return Stream("label", label=label)
        raise not_found(f"No category or label named {name[:200]!r}")
    if stream_id.startswith("feed/"):
        return Stream("feed", subscription=find_subscription(user, stream_id))
    if "/" not in stream_id:
        # FreshRSS reads a single unknown segment (`stream/contents/reading-list`) as the list.
        return Stream("reading-list")
    raise bad_request(f"Unknown stream id {stream_id[:200]!r}")
