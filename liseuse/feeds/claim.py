"""Which feeds are due, and which worker fetches them.

A worker takes a lease on each feed it will fetch (`lease_owner`, `lease_until`). Any number of
workers on any number of machines share the work: on PostgreSQL the candidates are locked with
`SELECT … FOR UPDATE SKIP LOCKED`, so two workers never pick the same row; on SQLite the whole
claim is one IMMEDIATE transaction (settings.py), which holds the database's write lock, so claims
are serialized. A dead worker's feeds are claimable again once its lease has ended.

Politeness holds across workers: a pass claims no feed of a host whose feeds another worker
holds (`Feed.host`), so the per-host limit of one process (`pipeline.fetch`) is the limit for the
whole installation. A batch spreads over as few hosts as keep its fetches busy rather than
over every host (`_spread_over_hosts`), so that the other workers find hosts left to take. On
PostgreSQL such claims take turns (an advisory lock): two at once would each see a host free and
both take it.

Times are the database's (`database_now`): a worker whose clock ran ahead would see live leases
of others as ended, and take their feeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db import transaction
from django.db.models import Count
from django.db.models import Exists
from django.db.models import F
from django.db.models import Max
from django.db.models import Min
from django.db.models import OuterRef
from django.db.models import Q
from django.db.models import QuerySet
from django.db.models import Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import websub
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryTombstone
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.pipeline.refresh import FeedToRefresh

# A site without an icon is asked again after this long, not on every fetch.
ICON_RECHECK = timedelta(days=7)

# A batch holds at most this many rounds of its fetch limit: a worker fetching 4 at a time took
# 500 feeds of 30 hosts, every host, and left the other workers nothing for 78 s.
_ROUNDS = 10

# PostgreSQL's advisory lock key for claims that keep hosts apart (any number no other lock of
# liseuse uses; cli's migration lock is another).
_CLAIM_LOCK_KEY = 0x6C69_7365_7573_66


def database_now() -> datetime:
    """The database's time: what leases are compared with, whichever machine asks. SQLite is
    on this machine, so its time is this machine's."""
    if connection.vendor != "postgresql":
        return timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        row = cursor.fetchone()
    assert row is not None
    now: datetime = row[0]
    return now


def database_clock() -> Callable[[], datetime]:
    """A clock that tells the database's time, read once: this machine's clock plus how far
    it is from the database's now. What a batch stores (`last_fetched_at`, `next_fetch_at`)
    is then on the clock that claims compare with: a worker whose clock ran an hour ahead
    stored feeds as fetched an hour from now, polled them an hour late, and a person's
    "Refresh" took them for just fetched."""
    offset = database_now() - timezone.now()
    return lambda: timezone.now() + offset


def _of_busy_hosts(*, now: datetime, owner: str) -> Q:
    """Feeds of a host another owner fetches from, holding a live lease on a feed of that host
    or on one whose URL redirected there (`Feed.redirect_host`): not ours to fetch."""
    held = Feed.objects.filter(lease_until__gte=now).exclude(lease_owner=owner)
    touched = Q()
    for column in ("host", "redirect_host"):
        # "": no host to be polite to (no redirect; raw inserts of old benchmarks).
        hosts = held.exclude(**{column: ""}).values_list(column, flat=True)
        touched |= Q(host__in=hosts) | Q(redirect_host__in=hosts)
    return touched


def _followed(user: User | None) -> Exists:
    """Feeds someone follows (`user`, when given): what a pass refreshes."""
    followed = Subscription.objects.filter(feed_id=OuterRef("pk"))
    if user is not None:
        followed = followed.filter(user=user)
    return Exists(followed)


def held_elsewhere(*, now: datetime, user: User | None = None, due_only: bool = True) -> int:
    """How many followed feeds (of `user`'s) a pass would leave to another process right now:
    those it holds, and those (due, with `due_only`) of the hosts it is fetching from.
    `liseuse refresh` says so rather than count fewer feeds without a word."""
    of_busy_host = _of_busy_hosts(now=now, owner="")
    if due_only:
        of_busy_host &= Q(next_fetch_at__lte=now, disabled=False)
    return (
        Feed.objects.filter(_followed(user)).filter(Q(lease_until__gt=now) | of_busy_host).count()
    )


def any_due(*, now: datetime) -> bool:
    """Whether a followed feed is due and free: what wakes an idle refresh loop before its
    pause ends (a person's "Refresh", `worker.refresh_soon`)."""
    return (
        Feed.objects.filter(_followed(None), disabled=False, next_fetch_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .exists()
    )


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

    # A person's "Refresh now" and a WebSub push name their feed: one request (or none), let
    # through whoever fetches from its host.
    keep_hosts_apart = feed_ids is None
    with transaction.atomic():
        if keep_hosts_apart:
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CLAIM_LOCK_KEY])
            candidates = candidates.exclude(_of_busy_hosts(now=now, owner=owner))
            if due_only:
                candidates = candidates.filter(id__in=_spread_over_hosts(candidates, limit))
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
                "redirect_host",
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
                redirect_host=redirect_host,
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
                redirect_host,
            ) in rows
        ]


def _spread_over_hosts(candidates: QuerySet[Feed], limit: int) -> list[int]:
    """Up to `limit` of `candidates` (in their order), from as few hosts as keep a batch's
    fetches busy, and no more of each than that takes.

    A batch of the `limit` feeds due first would span most hosts, and leave the other workers
    none to fetch from; a batch of a few whole hosts would fetch from too few at a time (two
    requests a host). So: as many hosts as fill the fetch limit at the per-host limit (100 / 2
    = 50 by default), in the order their feeds have waited, and `limit` / that many feeds of
    each. When there are fewer hosts than that, a batch takes what they have. And no more than
    `_ROUNDS` times the fetch limit: the rest is the next batch's, or another worker's."""
    per_host, overall = settings.LISEUSE_FETCH_PER_HOST, settings.LISEUSE_FETCH_CONCURRENCY
    limit = min(limit, overall * _ROUNDS)
    cap = max(per_host, math.ceil(limit * per_host / overall))
    by_host = candidates.order_by().values("host").annotate(first=Min("next_fetch_at"))
    # Ordered by host too: hosts due at the same instant (all made due at once) are taken in
    # turn, not all together.
    last: tuple[datetime, str] | None = None
    total = 0
    for first, host, feeds in (
        by_host.annotate(feeds=Count("id"))
        .order_by("first", "host")
        .values_list("first", "host", "feeds")
    ):
        last = (first, host)
        total += min(feeds, cap)
        if total >= limit:
            break
    else:
        cap = limit  # every host is in: no reason to leave any of their feeds out
    if last is None:
        return []
    first, host = last
    hosts = by_host.filter(Q(first__lt=first) | Q(first=first, host__lte=host)).values("host")
    ranked = candidates.filter(host__in=hosts).annotate(
        rank=Window(RowNumber(), partition_by=[F("host")], order_by=[F("next_fetch_at"), F("id")])
    )
    return list(ranked.filter(rank__lte=cap).values_list("id", flat=True)[:limit])


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
