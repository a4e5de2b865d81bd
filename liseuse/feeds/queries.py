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
from typing import Any
from typing import Literal
from typing import NamedTuple

from django.db import connection
from django.db import transaction
from django.db.models import Count
from django.db.models import F
from django.db.models import Lookup
from django.db.models import Max
from django.db.models import Q
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Favicon
from liseuse.feeds.models import Label
from liseuse.feeds.models import SavedQuery
from liseuse.feeds.models import Subscription
from liseuse.feeds.search import SearchError as SearchError

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
    # Only entries that reached the person in this span (Google Reader's `ot` / `nt`).
    arrived_since: datetime | None = None
    arrived_until: datetime | None = None
    # Leave out starred entries / entries of this label (Google Reader's `xt`).
    exclude_starred: bool = False
    exclude_label_id: int | None = None
    # Only entries whose id is above / at most this (Fever's since_id / max_id).
    min_id: int | None = None
    max_id: int | None = None
    # A query in FreshRSS's search syntax (`liseuse.feeds.search`); a bad one raises SearchError.
    search: str | None = None
    # Only starred entries, on top of the state (Google Reader's starred stream with `xt=read`).
    starred_only: bool = False
    # With no feed, category or label: every feed the person follows, those kept out of the
    # main stream too (the search page searches them all).
    every_feed: bool = False
    # With no feed, category or label: the feeds of Google Reader's reading list, which
    # FreshRSS's API makes of every feed but those shown nowhere (hidden): those kept in their
    # category too. Apps build their whole list of unread entries from it.
    reading_list: bool = False


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
    elif flt.state != "starred" and not flt.every_feed:
        # The main stream leaves out the feeds their follower keeps out of it; the reading list
        # only those hidden.
        kept_out = Subscription.objects.filter(user=user)
        if flt.reading_list:
            kept_out = kept_out.filter(visibility=Subscription.Visibility.HIDDEN)
        else:
            kept_out = kept_out.exclude(visibility=Subscription.Visibility.MAIN)
        if kept_out.exists():
            qs = qs.exclude(feed_id__in=kept_out.values("feed_id"))
    if flt.until is not None:
        qs = qs.filter(sort_date__lte=flt.until)
    if flt.arrived_since is not None:
        qs = qs.filter(arrived_at__gte=flt.arrived_since)
    if flt.arrived_until is not None:
        qs = qs.filter(arrived_at__lte=flt.arrived_until)
    if flt.exclude_starred:
        qs = qs.filter(is_starred=False)
    if flt.starred_only:
        qs = qs.filter(is_starred=True)
    if flt.exclude_label_id is not None:
        qs = qs.exclude(labels__id=flt.exclude_label_id)
    if flt.min_id is not None:
        qs = qs.filter(entry_id__gt=flt.min_id)
    if flt.max_id is not None:
        qs = qs.filter(entry_id__lte=flt.max_id)
    if flt.search:
        qs = qs.filter(search_q(user, flt.search))
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


_FEED_BOOKKEEPING = ("feed__listed_identities", "feed__etag", "feed__last_modified")


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
    order = _order(flt.oldest_first)
    # The page's ids in a subquery, then its rows: ordered with their entries joined, a stream
    # that is not read straight off an index by date (a category, a feed, a search) had every
    # candidate's entry, content included, joined and sorted before the LIMIT (7 of a
    # category page's 20 ms on SQLite, measured with bench/ui_speed.py).
    page = qs.order_by(*order).values("id")[: limit + 1]
    # The feed's refresh bookkeeping (the identities it last listed can be thousands) is never
    # shown with an entry: left unread.
    rows = list(
        EntryState.objects.filter(pk__in=page)
        .select_related("entry", "feed")
        .defer(*_FEED_BOOKKEEPING)
        .order_by(*order)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = (rows[-1].sort_date, rows[-1].entry_id) if more and rows else None
    return StreamPage(entries=rows, next_after=next_after)


def _page_of_ids(entry_ids: Iterable[int]) -> list[int]:
    """Distinct ids in the order given, at most a page of them."""
    return list(dict.fromkeys(entry_ids))[:MAX_PAGE]


def state_of(user: User, entry_id: int) -> EntryState | None:
    """The person's state of one entry; None when it is not theirs (or does not exist)."""
    return EntryState.objects.filter(user=user, entry_id=entry_id).first()


def own_entry_ids(user: User, entry_ids: Sequence[int]) -> list[int]:
    """Those of these entries the person has (in chunks: a client may send thousands)."""
    own: list[int] = []
    for start in range(0, len(entry_ids), MAX_PAGE):
        chunk = entry_ids[start : start + MAX_PAGE]
        own += EntryState.objects.filter(user=user, entry_id__in=chunk).values_list(
            "entry_id", flat=True
        )
    return own


def unread_counts_by_feed(user: User) -> dict[int, int]:
    # COUNT(*), not COUNT(id): the partial unread index holds (user, feed) but not the id, so
    # PostgreSQL can count from the index alone (an index-only scan) instead of the table.
    rows = (
        EntryState.objects.filter(user=user, is_read=False)
        .values("feed_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    return {row["feed_id"]: row["n"] for row in rows}


def unread_total(user: User) -> int:
    return states(user, StreamFilter(state="unread")).count()


def starred_count(user: User) -> int:
    return EntryState.objects.filter(user=user, is_starred=True).count()


# How a person's feeds are listed everywhere: by category, then by name.
_SUBSCRIPTION_ORDER = ("category__position", "category__name", "title", "feed__title", "feed_id")


def subscriptions(user: User) -> list[Subscription]:
    return list(
        Subscription.objects.filter(user=user)
        .select_related("feed", "category")
        .order_by(*_SUBSCRIPTION_ORDER)
    )


class SubscriptionLine(NamedTuple):
    """What a list of followed feeds (the reading pages' sidebar) shows of one, as a plain row."""

    feed_id: int
    category_id: int | None
    title: str  # the person's own title for the feed, "" for none
    visibility: str
    feed_title: str
    feed_url: str
    favicon_id: int | None
    last_error: str

    @property
    def display_title(self) -> str:
        """= Subscription.display_title."""
        return self.title or self.feed_title or self.feed_url


def subscription_lines(user: User) -> list[SubscriptionLine]:
    """`subscriptions`, in the same order, as plain rows: the sidebar lists hundreds of feeds
    on every page, and a Subscription, a Feed and a Category object per row cost five times
    the query (measured: bench/ui_speed.py)."""
    rows = (
        Subscription.objects.filter(user=user)
        .order_by(*_SUBSCRIPTION_ORDER)
        .values_list(
            "feed_id",
            "category_id",
            "title",
            "visibility",
            "feed__title",
            "feed__url",
            "feed__favicon_id",
            "feed__last_error",
        )
    )
    return [SubscriptionLine(*row) for row in rows]


def subscription(
    user: User,
    *,
    feed_id: int | None = None,
    feed_url: str | None = None,
    subscription_id: int | None = None,
) -> Subscription | None:
    """The person's subscription to a feed (by the feed's id or URL), or by its own id; None
    if they have none such. Its feed and category come with it."""
    if subscription_id is None and feed_id is None and feed_url is None:
        raise TypeError("subscription() needs a feed_id, a feed_url or a subscription_id")
    subs = Subscription.objects.filter(user=user).select_related("feed", "category")
    if subscription_id is not None:
        subs = subs.filter(pk=subscription_id)
    if feed_id is not None:
        subs = subs.filter(feed_id=feed_id)
    if feed_url is not None:
        subs = subs.filter(feed__url=feed_url)
    return subs.first()


def categories(user: User) -> list[Category]:
    return list(Category.objects.filter(user=user))


def category(
    user: User, *, category_id: int | None = None, name: str | None = None
) -> Category | None:
    """The person's category with this id or name, None if they have none such."""
    found = Category.objects.filter(user=user)
    if category_id is not None:
        found = found.filter(pk=category_id)
    if name is not None:
        found = found.filter(name=name)
    return found.first()


def label(user: User, label_id: int) -> Label | None:
    """The person's label with this id, None if they have none such."""
    return Label.objects.filter(user=user, pk=label_id).first()


def labels(user: User) -> list[Label]:
    return list(Label.objects.filter(user=user))


# --- writes to reading state --------------------------------------------------------------------


def mark_stream_read(user: User, flt: StreamFilter, *, read: bool = True) -> int:
    """Mark a whole stream (bounded by `flt.until`) read or unread; returns how many changed."""
    qs = states(user, replace(flt, state="unread" if read else "read"))
    return qs.update(is_read=read, read_at=timezone.now() if read else None)


def set_read(user: User, entry_ids: Sequence[int], read: bool) -> int:
    """Mark these entries of the person's read or unread; returns how many changed state.

    One UPDATE that leaves alone the rows already in that state (no new row version, no
    index entries for them) and returns no rows."""
    return EntryState.objects.filter(
        _entry_id_among(entry_ids), user=user, is_read=not read
    ).update(is_read=read, read_at=timezone.now() if read else None)


class _AnyOf(Lookup[int]):
    """`column = ANY(%s)` with the ids as one array parameter (PostgreSQL).

    `entry_id__in` writes one placeholder per id, which Django composes and the server parses
    one by one: marking 10,000 entries read took 163 ms that way and 113 ms with one array
    (same database, vacuumed before each run)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, self.rhs]


def _entry_id_among(entry_ids: Sequence[int]) -> Q | _AnyOf:
    """`entry_id` among these ids, as one array parameter on PostgreSQL (see `_AnyOf`)."""
    ids = [int(i) for i in entry_ids]
    if connection.vendor == "postgresql":
        return _AnyOf(F("entry_id"), ids)
    return Q(entry_id__in=ids)


def set_starred(user: User, entry_ids: Sequence[int], starred: bool) -> int:
    return EntryState.objects.filter(
        _entry_id_among(entry_ids), user=user, is_starred=not starred
    ).update(is_starred=starred, starred_at=timezone.now() if starred else None)


class NameTaken(ValueError):
    """A category or label name that the person's label or category already has. Google
    Reader apps know both as `user/-/label/<name>`: one would hide the other there (FreshRSS
    refuses it too). The message says so, in words."""


def check_category_name(user: User, name: str) -> None:
    """Raise NameTaken if one of the person's labels has this name."""
    if Label.objects.filter(user=user, name=name).exists():
        raise NameTaken(
            _("“%(name)s” is already one of your labels: a category cannot have its name.")
            % {"name": name}
        )


def check_label_name(user: User, name: str) -> None:
    """Raise NameTaken if one of the person's categories has this name."""
    if Category.objects.filter(user=user, name=name).exists():
        raise NameTaken(
            _("“%(name)s” is already one of your categories: a label cannot have its name.")
            % {"name": name}
        )


def label_named(user: User, name: str, *, create: bool = True) -> Label | None:
    """The person's label of that name (None for a blank name), made if `create` (NameTaken
    if a category has the name)."""
    name = name.strip()[:255]
    if not name:
        return None
    found = Label.objects.filter(user=user, name=name).first()
    if found is not None or not create:
        return found
    check_label_name(user, name)
    label, _created = Label.objects.get_or_create(user=user, name=name)
    return label


@transaction.atomic
def set_label(user: User, entry_ids: Sequence[int], label: Label, on: bool) -> int:
    if label.user_id != user.pk:
        return 0
    state_ids = list(
        EntryState.objects.filter(_entry_id_among(entry_ids), user=user).values_list(
            "pk", flat=True
        )
    )
    through = EntryState.labels.through
    if on:
        through.objects.bulk_create(
            [through(entrystate_id=pk, label_id=label.pk) for pk in state_ids],
            ignore_conflicts=True,
        )
        return len(state_ids)
    deleted, _ = through.objects.filter(entrystate_id__in=state_ids, label_id=label.pk).delete()
    return deleted


# --- for the reading pages: what arrived since a page was loaded --------------------------------


def newest_state_id() -> int:
    """The highest entry-state id of anyone, one primary-key lookup. A page keeps it as its
    watermark: states are numbered as entries arrive, so a higher id arrived after the page."""
    newest = EntryState.objects.order_by("-id").values_list("id", flat=True).first()
    return newest or 0


# The attribute under which a person's row loaded with their session carries their newest
# entry (`liseuse.accounts.sessions`), so that a kept page needs no query of its own.
NEWEST_ENTRY = "liseuse_newest_entry_id"


def newest_entry_sql(user_column: str) -> str:
    """The SQL of `newest_entry_id` for the person whose id is in `user_column`, as a value."""
    return (
        f"COALESCE((SELECT entry_id FROM {EntryState._meta.db_table} "
        f"WHERE user_id = {user_column} ORDER BY entry_id DESC LIMIT 1), 0)"
    )


def newest_entry_id(user: User) -> int:
    """The highest entry id among the person's states: it changes when a refresh brings them
    entries (a new entry has a higher id than any before it). One step down the
    (person, entry) unique index, on both databases.

    A person loaded with the request's session carries it already, read with the session as
    the request began (`NEWEST_ENTRY`)."""
    loaded = getattr(user, NEWEST_ENTRY, None)
    if loaded is not None:
        return int(loaded)
    # Plain SQL: asked before every reading page, where the ORM's compiling cost more than
    # the lookup itself.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {newest_entry_sql('%s')}", [user.pk])
        row = cursor.fetchone()
    return int(row[0])


def arrived_after(user: User, flt: StreamFilter, watermark: int) -> int:
    """How many entries of a stream (in its state) arrived after the watermark.

    "Arrived", not "dated": a feed may deliver today an entry it dates last week, and the page
    loaded before it never showed it.
    """
    return states(user, flt).filter(id__gt=watermark).count()


def mark_stream_read_up_to(user: User, flt: StreamFilter, watermark: int) -> int:
    """Mark a stream read, but only the entries that had arrived by the watermark: "mark all
    as read" from a page never touches what the page did not show (FreshRSS's idMax).
    `flt.until` still bounds the entries' dates ("older than one day")."""
    qs = states(user, replace(flt, state="unread")).filter(id__lte=watermark)
    return qs.update(is_read=True, read_at=timezone.now())


# --- for the client APIs ------------------------------------------------------------------------


def unread_by_feed_with_newest(user: User) -> dict[int, tuple[int, datetime]]:
    """Per feed: (unread count, date of the newest unread entry), in one grouped index scan."""
    rows = (
        EntryState.objects.filter(user=user, is_read=False)
        .values("feed_id")
        .annotate(n=Count("id"), newest=Max("sort_date"))
        .order_by()
    )
    return {row["feed_id"]: (row["n"], row["newest"]) for row in rows}


def unread_by_label(user: User) -> dict[int, tuple[int, datetime]]:
    """Per label of the person: (unread count, date of the newest unread entry)."""
    through = EntryState.labels.through
    rows = (
        through.objects.filter(label__user=user, entrystate__is_read=False)
        .values("label_id")
        .annotate(n=Count("id"), newest=Max("entrystate__sort_date"))
        .order_by()
    )
    return {row["label_id"]: (row["n"], row["newest"]) for row in rows}


def label_names_of(state_ids: Sequence[int]) -> dict[int, list[str]]:
    """The label names of each of these states (by state id), in one query."""
    through = EntryState.labels.through
    names: dict[int, list[str]] = {}
    pairs = (
        through.objects.filter(entrystate_id__in=list(state_ids))
        .order_by("label__name")
        .values_list("entrystate_id", "label__name")
    )
    for state_id, name in pairs:
        names.setdefault(state_id, []).append(name)
    return names


def label_ids_of(state_ids: Sequence[int]) -> dict[int, set[int]]:
    """The label ids of each of these states (by state id), in one query."""
    through = EntryState.labels.through
    ids: dict[int, set[int]] = {}
    pairs = through.objects.filter(entrystate_id__in=list(state_ids)).values_list(
        "entrystate_id", "label_id"
    )
    for state_id, label_id in pairs:
        ids.setdefault(state_id, set()).add(label_id)
    return ids


# --- for Fever: every followed feed, in the order entries reached the person --------------------
# Fever has no streams, visibility or dates to page by: it pages by item id, a client asking for
# the items above the highest id it has, so the ids must grow as entries reach the person. A
# person's item ids are their `EntryState` ids, not `Entry.id`: an entry is shared, and when
# someone follows a feed others already did, its entries (lower entry ids than what their app
# has seen) reach them then, with new state ids. Its clients sync everything a person follows,
# so these read all of the person's states, whatever each feed's visibility.


def states_by_state_id(
    user: User,
    *,
    above: int | None = None,
    below: int | None = None,
    ids: Sequence[int] | None = None,
    feed_ids: Sequence[int] | None = None,
    newest_first: bool = False,
    limit: int = 50,
) -> list[EntryState]:
    """Up to `limit` of the person's states, state ids strictly between `above` and `below` (or
    among `ids`: another person's are left out), in state-id order, with their entries loaded."""
    qs = EntryState.objects.filter(user=user)
    if ids is not None:
        qs = qs.filter(id__in=list(ids)[:MAX_PAGE])
    if above is not None:
        qs = qs.filter(id__gt=above)
    if below is not None:
        qs = qs.filter(id__lt=below)
    if feed_ids is not None:
        qs = qs.filter(feed_id__in=list(feed_ids))
    order = "-id" if newest_first else "id"
    limit = max(1, min(limit, MAX_PAGE))
    # The page's ids in a subquery, then its rows, as `stream` does: within some feeds (a
    # group), SQLite joined every candidate's entry before the sort and the LIMIT (a group's
    # first page: 28 ms, 4 ms this way, on the database bench/fever_speed.py builds).
    page = qs.order_by(order).values("id")[:limit]
    return list(EntryState.objects.filter(pk__in=page).select_related("entry").order_by(order))


def state_ids_with(user: User, state: Literal["unread", "starred"]) -> list[int]:
    """Every state id of the person's that is unread (or starred), ascending, unbounded: a Fever
    client takes an id missing from this list as read (or not saved)."""
    flag = Q(is_read=False) if state == "unread" else Q(is_starred=True)
    # Unordered, SQLite reads the ids from a partial unread (starred) index alone: the state id
    # is the rowid, which every index holds. In id order, it scans the whole table instead,
    # everyone's states (25 ms against 10 ms for 12,000 unread ids among 180,000 states of five
    # people). PostgreSQL's indexes do not hold the id: it reads the rows either way.
    return sorted(
        EntryState.objects.filter(flag, user=user).order_by().values_list("id", flat=True)
    )


def entry_id_of_state(user: User, state_id: int) -> int | None:
    """The entry of one of the person's states; None when the state is not theirs (or does not
    exist), so that a Fever mark with another person's item id changes nothing."""
    found: int | None = (
        EntryState.objects.filter(user=user, pk=state_id).values_list("entry_id", flat=True).first()
    )
    return found


def entry_count(user: User) -> int:
    return EntryState.objects.filter(user=user).count()


def category_feed_ids(user: User, category_ids: Sequence[int]) -> list[int]:
    """The feeds the person files under these categories of theirs (another's category: none)."""
    return sorted(
        Subscription.objects.filter(user=user, category_id__in=list(category_ids)).values_list(
            "feed_id", flat=True
        )
    )


def mark_feeds_read_arrived_by(
    user: User, feed_ids: Sequence[int] | None, arrived_by: datetime | None
) -> int:
    """Mark read the person's unread entries of these feeds (None: of every feed) that had
    reached them by `arrived_by` (None: all). Arrival to the person (`arrived_at`), neither the
    feed's date nor the entry's first fetch: the moment a client gives is when it last synced,
    and an entry that reached the person later, whatever its date, it never saw; nor the old
    entries of a feed someone else followed first, which reach the person as they follow it."""
    qs = EntryState.objects.filter(user=user, is_read=False)
    if feed_ids is not None:
        qs = qs.filter(feed_id__in=list(feed_ids))
    if arrived_by is not None:
        qs = qs.filter(arrived_at__lte=arrived_by)
    return qs.update(is_read=True, read_at=timezone.now())


def last_refreshed(user: User) -> datetime | None:
    """When a feed the person follows was last fetched successfully."""
    found: datetime | None = Subscription.objects.filter(user=user).aggregate(
        at=Max("feed__last_success_at")
    )["at"]
    return found


def feed_icon(feed_id: int, *, follower_id: int | None) -> Favicon | None:
    """The stored icon of a feed: of one `follower_id` follows, or (None) of any feed, for an
    app holding the feed's icon key (feeds.icons)."""
    if follower_id is None:
        return Favicon.objects.filter(feed__id=feed_id).first()
    # One filter() on the same feed row: chained, the second joined any feed sharing the icon,
    # and a feed's icon came back to anyone following another feed of the same site.
    return Favicon.objects.filter(feed__id=feed_id, feed__subscriptions__user=follower_id).first()


def favicons_of(user: User) -> list[Favicon]:
    """The icons of the feeds the person follows, each once however many feeds share it."""
    return list(Favicon.objects.filter(feed__subscriptions__user=user).distinct().order_by("pk"))


# --- search and saved queries -------------------------------------------------------------------


def search_q(user: User, query: str) -> Q:
    """The filter of a search over the person's entry states; raises `SearchError` (readable)
    when the query cannot be understood. Dates in the query are in the person's time zone."""
    import zoneinfo

    from liseuse.feeds.search import INDEX_ON_SEARCH
    from liseuse.feeds.search import compile_query
    from liseuse.feeds.search import index_pending

    # What the last refresh stored may still wait for the index: take a bounded bite first.
    index_pending(INDEX_ON_SEARCH)
    try:
        tz: zoneinfo.ZoneInfo = zoneinfo.ZoneInfo(user.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    return compile_query(query, user_id=user.pk, tz=tz)


def saved_queries(user: User) -> list[SavedQuery]:
    """The person's saved searches, in sidebar order."""
    return list(SavedQuery.objects.filter(user=user))


def stream_rows(
    user: User,
    flt: StreamFilter,
    fields: Sequence[str],
    *,
    limit: int = 50,
    after: tuple[datetime, int] | None = None,
) -> tuple[list[dict[str, Any]], tuple[datetime, int] | None]:
    """`stream`, as plain rows of these EntryState fields (`entry__title`…) and its next page.

    For the APIs, which serialise up to a thousand entries per call: building three model
    objects per row costs more than the query itself.
    """
    limit = max(1, min(limit, MAX_PAGE))
    qs = _after(states(user, flt), after, flt.oldest_first)
    wanted = list(dict.fromkeys(["entry_id", "sort_date", *fields]))
    rows = list(qs.order_by(*_order(flt.oldest_first)).values(*wanted)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = (rows[-1]["sort_date"], rows[-1]["entry_id"]) if more and rows else None
    return rows, next_after


def rows_by_ids(
    user: User, entry_ids: Iterable[int], fields: Sequence[str]
) -> list[dict[str, Any]]:
    """The person's states for these entries (others' and unknown ids are left out), as plain
    rows of these EntryState fields, in the order asked."""
    ids = _page_of_ids(entry_ids)
    wanted = list(dict.fromkeys(["entry_id", *fields]))
    found = {
        row["entry_id"]: row
        for row in EntryState.objects.filter(user=user, entry_id__in=ids).values(*wanted)
    }
    return [found[i] for i in ids if i in found]


SUBSCRIPTION_ROW_FIELDS = (
    "feed_id",
    "title",
    "visibility",
    "created_at",
    "category__name",
    "feed__title",
    "feed__url",
    "feed__site_url",
    "feed__favicon_id",
)


def subscription_rows(user: User) -> list[dict[str, Any]]:
    """`subscriptions` as plain rows of SUBSCRIPTION_ROW_FIELDS, for APIs that list hundreds
    of feeds on every call (a whole Feed object per row costs more than the query)."""
    return list(
        Subscription.objects.filter(user=user)
        .order_by("category__position", "category__name", "title", "feed__title", "feed_id")
        .values(*SUBSCRIPTION_ROW_FIELDS)
    )


def stream_entry_ids(
    user: User,
    flt: StreamFilter,
    *,
    limit: int = MAX_PAGE,
    after: tuple[datetime, int] | None = None,
) -> tuple[list[int], tuple[datetime, int] | None]:
    """The entry ids of a stream and where the next page starts (None at the end).

    Only the ids are read (tens of thousands of dates cost more to convert than to find); the
    last row's date is looked up on its own when there is a next page.
    """
    limit = max(1, min(limit, 100_000))
    qs = _after(states(user, flt), after, flt.oldest_first)
    found = list(
        qs.order_by(*_order(flt.oldest_first)).values_list("entry_id", flat=True)[: limit + 1]
    )
    if len(found) <= limit:
        return found, None
    found = found[:limit]
    last = EntryState.objects.filter(user=user, entry_id=found[-1]).values_list(
        "sort_date", flat=True
    )
    return found, (last[0], found[-1])
