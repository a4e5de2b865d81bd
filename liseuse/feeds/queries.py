"""The read side shared by the web pages and both client APIs.

One implementation of "the entries of this stream, in this state, in this order, from here",
of unread counts and of marking as read, so that the UI, Google Reader and Fever agree.
Every query starts from `EntryState` rows of one person: another person's data is unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from typing import Literal

from django.db.models import Count
from django.db.models import Q
from django.db.models import QuerySet
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Subscription

State = Literal["unread", "all", "starred", "read"]


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Which entries: a stream (main, a category, a feed, starred, a label) and a state."""

    state: State = "unread"
    feed_id: int | None = None
    category_id: int | None = None
    label_id: int | None = None
    oldest_first: bool = False
    # Only entries up to this instant: "mark all as read" never touches what arrived after the
    # page was loaded, and a paging client sees a stable list.
    until: datetime | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class StreamPage:
    entries: list[EntryState]
    # Opaque position of the next page, as (sort_date, entry_id) of the last row; None at the end.
    next_after: tuple[datetime, int] | None


def _states(user: User, flt: StreamFilter) -> QuerySet[EntryState]:
    qs = EntryState.objects.filter(user=user)
    if flt.state == "unread":
        qs = qs.filter(is_read=False)
    elif flt.state == "read":
        qs = qs.filter(is_read=True)
    elif flt.state == "starred":
        qs = qs.filter(is_starred=True)
    if flt.feed_id is not None:
        qs = qs.filter(feed_id=flt.feed_id)
    elif flt.category_id is not None:
        qs = qs.filter(
            feed_id__in=Subscription.objects.filter(user=user, category_id=flt.category_id)
            .exclude(visibility=Subscription.Visibility.HIDDEN)
            .values("feed_id")
        )
    elif flt.label_id is not None:
        qs = qs.filter(labels__id=flt.label_id)
    elif flt.state != "starred":
        # The main stream leaves out feeds their follower keeps out of it.
        hidden = Subscription.objects.filter(user=user).exclude(
            visibility=Subscription.Visibility.MAIN
        )
        if hidden.exists():
            qs = qs.exclude(feed_id__in=hidden.values("feed_id"))
    if flt.until is not None:
        qs = qs.filter(sort_date__lte=flt.until)
    if flt.since is not None:
        qs = qs.filter(sort_date__gte=flt.since)
    return qs


def stream(
    user: User,
    flt: StreamFilter,
    *,
    limit: int = 50,
    after: tuple[datetime, int] | None = None,
) -> StreamPage:
    """One page of a stream, with its entries loaded, in a stable (date, id) order."""
    qs = _states(user, flt)
    if after is not None:
        date, entry_id = after
        if flt.oldest_first:
            qs = qs.filter(Q(sort_date__gt=date) | Q(sort_date=date, entry_id__gt=entry_id))
        else:
            qs = qs.filter(Q(sort_date__lt=date) | Q(sort_date=date, entry_id__lt=entry_id))
    order = ["sort_date", "entry_id"] if flt.oldest_first else ["-sort_date", "-entry_id"]
    rows = list(qs.select_related("entry", "feed").order_by(*order)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = (rows[-1].sort_date, rows[-1].entry_id) if more and rows else None
    return StreamPage(entries=rows, next_after=next_after)


def unread_counts_by_feed(user: User) -> dict[int, int]:
    rows = (
        EntryState.objects.filter(user=user, is_read=False)
        .values("feed_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["feed_id"]: row["n"] for row in rows}


def unread_total(user: User) -> int:
    return _states(user, StreamFilter(state="unread")).count()


def mark_read(user: User, flt: StreamFilter, *, read: bool = True) -> int:
    """Mark a whole stream (bounded by `flt.until`) read or unread; returns how many changed."""
    qs = _states(user, replace(flt, state="unread" if read else "read"))
    return qs.update(is_read=read, read_at=timezone.now() if read else None)
