"""The parts of a Fever answer, each built from what `feeds.queries` returns.

Shapes follow the Fever API (https://feedafever.com/api, archived): ids are JSON integers, as
Fever itself sent them (FreshRSS sends item ids as strings because its ids, microsecond
timestamps, pass what a JavaScript number holds; an item id here, the person's
`EntryState.id`, never will, and clients read both), booleans are 0/1, times are Unix seconds,
id lists are comma-separated strings. Titles and authors are the plain text liseuse stores;
entry HTML is the sanitized content it stores.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from liseuse.feeds import media
from liseuse.feeds.models import Category
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Favicon
from liseuse.feeds.models import Subscription
from liseuse.lib import links

Json = dict[str, Any]


def unix(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment is not None else 0


def ids_string(ids: Sequence[int]) -> str:
    return ",".join(map(str, ids))


# Titles (of items, feeds and groups) and authors are stored as plain text, and Fever apps show
# them as HTML: "a < b" or "AT&T" would be read as markup or as a broken entity. FreshRSS's
# Fever API gives `&`, `<` and `>` as their full-width look-alikes, which apps already live
# with; so does Google Reader's.
_FULL_WIDTH = str.maketrans({"&": "＆", "<": "＜", ">": "＞"})


def _plain(text: str) -> str:
    return text.translate(_FULL_WIDTH)


def groups(categories: Sequence[Category]) -> list[Json]:
    """`groups`: the person's categories, the empty ones too. Fever's "Kindling" (everything)
    and "Sparks" are not listed: clients show them without being told."""
    return [{"id": c.pk, "title": _plain(c.name)} for c in categories]


def feeds_groups(subscriptions: Sequence[Subscription]) -> list[Json]:
    """`feeds_groups`: which feeds each group holds. A feed outside any category is in no group
    (it is still in Kindling, which holds every feed)."""
    by_group: dict[int, list[int]] = {}
    for sub in subscriptions:
        if sub.category_id is not None:
            by_group.setdefault(sub.category_id, []).append(sub.feed_id)
    return [
        {"group_id": group_id, "feed_ids": ids_string(feed_ids)}
        for group_id, feed_ids in sorted(by_group.items())
    ]


def feeds(subscriptions: Sequence[Subscription]) -> list[Json]:
    """`feeds`: one per followed feed, under the person's own title for it.

    `favicon_id` is the stored icon's id, shared by the feeds of one site, so that `favicons`
    sends each image once; 0 (an id no icon has) when the feed has none yet.
    """
    return [
        {
            "id": sub.feed_id,
            "favicon_id": sub.feed.favicon_id or 0,
            "title": _plain(sub.display_title),
            "url": links.for_apps(sub.feed.url),
            "site_url": links.for_apps(sub.feed.site_url),
            "is_spark": 0,
            "last_updated_on_time": unix(sub.feed.last_success_at),
        }
        for sub in subscriptions
    ]


def favicons(icons: Sequence[Favicon]) -> list[Json]:
    """`favicons`: "<mime type>;base64,<data>" — a data URI without its `data:` scheme, which
    Fever clients add themselves."""
    return [
        {
            "id": icon.pk,
            "data": f"{icon.content_type};base64,{base64.b64encode(bytes(icon.data)).decode()}",
        }
        for icon in icons
    ]


def items(states: Sequence[EntryState]) -> list[Json]:
    """`items`: each under the person's own id for it, their state's (`feeds.queries`)."""
    return [
        {
            "id": state.pk,
            "feed_id": state.feed_id,
            "title": _plain(state.entry.title),
            "author": _plain(state.entry.author),
            # Fever has one HTML field: the full content when the feed gave one, else its
            # summary, and the attachments after it (Google Reader has a field for those).
            "html": media.for_apps(state.entry.display_content),
            "url": links.for_apps(state.entry.url),
            "is_saved": int(state.is_starred),
            "is_read": int(state.is_read),
            "created_on_time": unix(state.entry.published),
        }
        for state in states
    ]
