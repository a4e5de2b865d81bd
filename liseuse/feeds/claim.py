"""Which feeds are due, and which worker fetches them.

A worker takes a lease on each feed it will fetch (`lease_owner`, `lease_until`). Any number of
workers on any number of machines share the work: on PostgreSQL the candidates are locked with
`SELECT … FOR UPDATE SKIP LOCKED`, so two workers never pick the same row; on SQLite the whole
claim is one IMMEDIATE transaction (settings.py), which holds the database's write lock, so claims
are serialized. A dead worker's feeds are claimable again once its lease has ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta

from django.db import connection
from django.db import transaction
from django.db.models import Exists
from django.db.models import Max
from django.db.models import OuterRef
from django.db.models import Q

from liseuse.accounts.models import User
from liseuse.feeds import websub
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryTombstone
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.pipeline.refresh import FeedToRefresh

# A site without an icon is asked again after this long, not on every fetch.
ICON_RECHECK = timedelta(days=7)


def _followed(user: User | None) -> Exists:
    """Feeds someone follows (`user`, when given): what a pass refreshes."""
    followed = Subscription.objects.filter(feed_id=OuterRef("pk"))
    if user is not None:
        followed = followed.filter(user=user)
    return Exists(followed)


def held_elsewhere(*, now: datetime, user: User | None = None) -> int:
    """How many followed feeds (of `user`'s) another process holds right now: a pass leaves
    them to it, and `liseuse refresh` says so rather than count fewer feeds without a word."""
    return Feed.objects.filter(_followed(user), lease_until__gt=now).count()


def claim_feeds(
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    due_only: bool = True,
    user: User | None = None,
    feed_ids: list[int] | None = None,
    after_id: int | None = None,
    even_disabled: bool = False,
) -> list[FeedToRefresh]:
    """Lease up to `limit` feeds to `owner`; due ones by default, else by id after `after_id`.

    Disabled feeds (410 Gone) only with `even_disabled`: a person's "Refresh now"."""
    candidates = Feed.objects.filter(_followed(user))
    if not even_disabled:
        candidates = candidates.filter(disabled=False)
    candidates = candidates.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    if feed_ids is not None:
        candidates = candidates.filter(id__in=feed_ids)
    if due_only:
        candidates = candidates.filter(next_fetch_at__lte=now).order_by("next_fetch_at", "id")
    else:
        # Every feed once, in id order, batch after batch: due or not, but never before its
        # server said to come back (429 / 503 with Retry-After), as the README promises; it
        # was asked again by `liseuse refresh --all`. A person's "Refresh now" says why it
        # waits (worker.refresh_feed_now); a WebSub push brings its own content.
        if feed_ids is None:
            candidates = candidates.filter(
                Q(retry_after_until__isnull=True) | Q(retry_after_until__lte=now)
            )
        if after_id is not None:
            candidates = candidates.filter(id__gt=after_id)
        candidates = candidates.order_by("id")

    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Feed.objects.filter(id__in=ids).update(lease_owner=owner, lease_until=now + lease)
        floors = dict(
            Subscription.objects.filter(feed_id__in=ids)
            .values("feed_id")
            .annotate(floor=Max("refresh_floor_minutes"))
            .values_list("feed_id", "floor")
        )
        rows = (
            Feed.objects.filter(id__in=ids, lease_owner=owner)
            .annotate(
                # A feed with nothing stored yet (its first fetch): the pipeline need not ask.
                has_stored=Exists(Entry.objects.filter(feed_id=OuterRef("pk")))
                | Exists(EntryTombstone.objects.filter(feed_id=OuterRef("pk")))
            )
            .values_list(
                "id",
                "url",
                "etag",
                "last_modified",
                "error_count",
                "fetch_interval_minutes",
                "ttl_minutes",
                "favicon_id",
                "favicon_checked_at",
                "has_stored",
            )
        )
        icon_recheck = now - ICON_RECHECK
        # A feed its hub pushes is polled only as a safety net: slowly (feeds.websub).
        for feed_id, minutes in websub.poll_floor_minutes(ids).items():
            floors[feed_id] = max(floors.get(feed_id) or 0, minutes)
        return [
            FeedToRefresh(
                id=feed_id,
                url=url,
                etag=etag or None,
                last_modified=last_modified or None,
                error_count=error_count,
                refresh_floor_minutes=floors.get(feed_id) or 0,
                interval_minutes=interval,
                ttl_minutes=ttl,
                wants_icon=icon_id is None
                and (icon_checked is None or icon_checked < icon_recheck),
                has_stored_entries=has_stored,
            )
            for (
                feed_id,
                url,
                etag,
                last_modified,
                error_count,
                interval,
                ttl,
                icon_id,
                icon_checked,
                has_stored,
            ) in rows
        ]


def release_feeds(owner: str, *, feed_ids: Sequence[int] | None = None) -> None:
    """Give back the leases a worker still holds (on a clean stop), or those of `feed_ids`."""
    held = Feed.objects.filter(lease_owner=owner)
    if feed_ids is not None:
        held = held.filter(id__in=feed_ids)
    held.update(lease_owner="", lease_until=None)


def renew_leases(owner: str, *, now: datetime, lease: timedelta) -> int:
    """Extend the leases `owner` still holds (the feeds of its batch not stored yet) to
    `now + lease`; returns how many. A feed the store has given back, or that another worker
    took after this one's lease ended, is not this owner's any more and is left alone."""
    return Feed.objects.filter(lease_owner=owner).update(lease_until=now + lease)
