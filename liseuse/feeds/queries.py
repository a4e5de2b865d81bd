"""The read side shared by the web pages and both client APIs, and the reading-state writes.

One implementation of "the entries of this stream, in this state, in this order, from here",
of unread counts, and of marking read / starred / labelled, so that the web pages, Google Reader
and Fever agree to the entry. Every query starts from one person's `EntryState` rows or
`Subscription` rows: another person's data is unreachable from here, and an id that is not
theirs simply matches nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from typing import Literal

from django.db import transaction
from django.db.models import Count
from django.db.models import Q
from django.db.models import QuerySet
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Label
from liseuse.feeds.models import Subscription

State = Literal["unread", "all", "starred", "read"]

# The most entries one call returns, whatever a client asks for: pages, not out-of-memory.
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Which entries: a stream (main, a category, a feed, a label, starred) and a state."""

    state: State = "unread"
    feed_id: int | None = None
    category_id: int | None = None
    label_id: int | None = None
    oldest_first: bool = False
    # Only entries up to this instant: "mark all as read" never touches what arrived after the
    # page was loaded, and a paging client sees a stable list.
    until: datetime | None = None
    since: datetime | None = None
    # Leave out starred entries / entries of this label (Google Reader's `xt`).
    exclude_starred: bool = False
    exclude_label_id: int | None = None
    # Only entries whose id is above / at most this (Fever's since_id / max_id).
    min_id: int | None = None
    max_id: int | None = None


@dataclass(frozen=True, slots=True)
class StreamPage:
    entries: list[EntryState]
    # Where the next page starts, as (sort_date, entry_id) of the last row; None at the end.
    next_after: tuple[datetime, int] | None


def states(user: User, flt: StreamFilter) -> QuerySet[EntryState]:
    """The person's entry states of a stream, unordered (callers order and bound them)."""
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
        # The main stream leaves out the feeds their follower keeps out of it.
        kept_out = Subscription.objects.filter(user=user).exclude(
            visibility=Subscription.Visibility.MAIN
        )
        if kept_out.exists():
            qs = qs.exclude(feed_id__in=kept_out.values("feed_id"))
    if flt.until is not None:
        qs = qs.filter(sort_date__lte=flt.until)
    if flt.since is not None:
        qs = qs.filter(sort_date__gte=flt.since)
    if flt.exclude_starred:
        qs = qs.filter(is_starred=False)
    if flt.exclude_label_id is not None:
        qs = qs.exclude(labels__id=flt.exclude_label_id)
    if flt.min_id is not None:
        qs = qs.filter(entry_id__gt=flt.min_id)
    if flt.max_id is not None:
        qs = qs.filter(entry_id__lte=flt.max_id)
    return qs


def _after(
    qs: QuerySet[EntryState], after: tuple[datetime, int] | None, oldest_first: bool
) -> QuerySet[EntryState]:
    if after is None:
        return qs
    date, entry_id = after
    if oldest_first:
        return qs.filter(Q(sort_date__gt=date) | Q(sort_date=date, entry_id__gt=entry_id))
    return qs.filter(Q(sort_date__lt=date) | Q(sort_date=date, entry_id__lt=entry_id))


def _order(oldest_first: bool) -> list[str]:
    return ["sort_date", "entry_id"] if oldest_first else ["-sort_date", "-entry_id"]


def stream(
    user: User,
    flt: StreamFilter,
    *,
    limit: int = 50,
    after: tuple[datetime, int] | None = None,
) -> StreamPage:
    """One page of a stream with its entries and feeds loaded, in a stable (date, id) order."""
    limit = max(1, min(limit, MAX_PAGE))
    qs = _after(states(user, flt), after, flt.oldest_first)
    rows = list(qs.select_related("entry", "feed").order_by(*_order(flt.oldest_first))[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = (rows[-1].sort_date, rows[-1].entry_id) if more and rows else None
    return StreamPage(entries=rows, next_after=next_after)


def stream_ids(
    user: User,
    flt: StreamFilter,
    *,
    limit: int = MAX_PAGE,
    after: tuple[datetime, int] | None = None,
) -> list[tuple[int, datetime]]:
    """(entry id, date) of a stream, without loading entries: for APIs that list ids only."""
    limit = max(1, min(limit, 100_000))
    qs = _after(states(user, flt), after, flt.oldest_first)
    return list(qs.order_by(*_order(flt.oldest_first)).values_list("entry_id", "sort_date")[:limit])


def by_ids(user: User, entry_ids: Iterable[int]) -> list[EntryState]:
    """The person's states for these entries (others' and unknown ids are left out)."""
    ids = list(dict.fromkeys(entry_ids))[:MAX_PAGE]
    rows = EntryState.objects.filter(user=user, entry_id__in=ids).select_related("entry", "feed")
    found = {row.entry_id: row for row in rows}
    return [found[i] for i in ids if i in found]


def unread_counts_by_feed(user: User) -> dict[int, int]:
    rows = (
        EntryState.objects.filter(user=user, is_read=False)
        .values("feed_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["feed_id"]: row["n"] for row in rows}


def unread_total(user: User) -> int:
    return states(user, StreamFilter(state="unread")).count()


def starred_count(user: User) -> int:
    return EntryState.objects.filter(user=user, is_starred=True).count()


def subscriptions(user: User) -> list[Subscription]:
    return list(
        Subscription.objects.filter(user=user)
        .select_related("feed", "category")
        .order_by("category__position", "category__name", "title", "feed__title", "feed_id")
    )


def categories(user: User) -> list[Category]:
    return list(Category.objects.filter(user=user))


def labels(user: User) -> list[Label]:
    return list(Label.objects.filter(user=user))


# --- writes to reading state --------------------------------------------------------------------


def mark_stream_read(user: User, flt: StreamFilter, *, read: bool = True) -> int:
    """Mark a whole stream (bounded by `flt.until`) read or unread; returns how many changed."""
    qs = states(user, replace(flt, state="unread" if read else "read"))
    return qs.update(is_read=read, read_at=timezone.now() if read else None)


def set_read(user: User, entry_ids: Sequence[int], read: bool) -> int:
    """Mark these entries of the person's read or unread; returns how many changed state."""
    return EntryState.objects.filter(
        user=user, entry_id__in=list(entry_ids), is_read=not read
    ).update(is_read=read, read_at=timezone.now() if read else None)


def set_starred(user: User, entry_ids: Sequence[int], starred: bool) -> int:
    return EntryState.objects.filter(
        user=user, entry_id__in=list(entry_ids), is_starred=not starred
    ).update(is_starred=starred, starred_at=timezone.now() if starred else None)


def label_named(user: User, name: str, *, create: bool = True) -> Label | None:
    name = name.strip()[:255]
    if not name:
        return None
    if create:
        label, _ = Label.objects.get_or_create(user=user, name=name)
        return label
    return Label.objects.filter(user=user, name=name).first()


@transaction.atomic
def set_label(user: User, entry_ids: Sequence[int], label: Label, on: bool) -> int:
    if label.user_id != user.pk:
        return 0
    rows = list(EntryState.objects.filter(user=user, entry_id__in=list(entry_ids)))
    through = EntryState.labels.through
    if on:
        through.objects.bulk_create(
            [through(entrystate_id=row.pk, label_id=label.pk) for row in rows],
            ignore_conflicts=True,
        )
        return len(rows)
    deleted, _ = through.objects.filter(
        entrystate_id__in=[row.pk for row in rows], label_id=label.pk
    ).delete()
    return deleted
