"""What a refresh hands the store for one fetched document: for tests that call the store."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from liseuse.pipeline.decide import decide_entries
from liseuse.pipeline.decide import entry_identities
from liseuse.pipeline.refresh import FeedUpdate
from liseuse.pipeline.types import ParsedEntry
from liseuse.pipeline.types import ParsedFeed


def feed_update(
    feed_id: int, entries: Sequence[ParsedEntry], stored: Mapping[str, str | None]
) -> FeedUpdate:
    """The update of feed `feed_id` after fetching `entries`, having read `stored` (identity →
    content hash) from the database."""
    now = datetime.now(UTC)
    return FeedUpdate(
        feed_id=feed_id,
        fetched_at=now,
        feed=ParsedFeed(format="rss20", title="F", entries=tuple(entries)),
        decisions=tuple(decide_entries(entries, stored, now=now)),
        identities=tuple(entry_identities(entries)),
        etag=None,
        last_modified=None,
        permanent_url=None,
        next_fetch_at=now + timedelta(hours=1),
        interval_minutes=60,
    )
