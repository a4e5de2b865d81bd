"""Retention: old entries go, in small batches, under FreshRSS's rules.

For each feed, newest first (by date):
- the newest `keep_min` entries always stay;
- beyond them, an entry may go when it is past `keep_max` (counting from the newest) or older
  than `keep_days`;
- it stays whatever its age or rank if the feed still lists it (`Feed.listed_identities`: it
  would come straight back), if anyone starred it or gave it a label, and, with `keep_unread`,
  if anyone has not read it yet.

A purged entry leaves a tombstone (`EntryTombstone`), which `store.stored_hashes` honours, so
that an older copy of the feed served again never brings it back. Tombstones go after
`LISEUSE_RETENTION_TOMBSTONE_DAYS` (unless the feed lists the entry again): a stale copy turns
up within days, not months, and the table must not grow for as long as the instance lives.

The limits are the instance's (`LISEUSE_RETENTION_…`), overridden per feed by `Feed.keep_max`,
`keep_min`, `keep_days`; they decide which entries go. Entries are shared by everyone who follows
a feed, so a person's own limits (`RetentionRule`, for all their feeds or for one category) only
remove that person's reading states, by the same rules; an entry nobody has a state for any more
then goes as well.

A feed nobody follows (its last follower unsubscribed, or their account was deleted) goes
whole, entries, tombstones and URL (private feed URLs often carry a token), `UNFOLLOWED_GRACE`
after a pass first found it so: unsubscribing and subscribing again the same day keeps it. A
feed of which someone still keeps an entry (starred, imported from a backup without its
subscription) is not "nobody's".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db import transaction
from django.db.models import Exists
from django.db.models import OuterRef
from django.db.models import Q
from django.utils import timezone

from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import EntryTombstone
from liseuse.feeds.models import Feed
from liseuse.feeds.models import RetentionRule
from liseuse.feeds.models import Subscription

_CHUNK = 500

# How long a feed nobody follows is kept (docs/configuration.md, "Retention").
UNFOLLOWED_GRACE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Policy:
    keep_max: int  # 0: no limit on the count
    keep_min: int
    keep_days: int  # 0: no limit on the age
    keep_unread: bool

    @property
    def limits_anything(self) -> bool:
        return bool(self.keep_max or self.keep_days)


def policy_for(feed: Feed) -> Policy:
    def pick(own: int | None, default: int) -> int:
        return default if own is None else own

    return Policy(
        keep_max=pick(feed.keep_max, settings.LISEUSE_RETENTION_KEEP_MAX),
        keep_min=pick(feed.keep_min, settings.LISEUSE_RETENTION_KEEP_MIN),
        keep_days=pick(feed.keep_days, settings.LISEUSE_RETENTION_KEEP_DAYS),
        keep_unread=settings.LISEUSE_RETENTION_KEEP_UNREAD,
    )


def older_than(now: datetime, days: int) -> datetime | None:
    """The moment `days` before `now`, or None (no limit) when that is before any date: a limit
    of a million days (which the rules accept) raised OverflowError, and that feed's pass failed
    at every turn, stopping retention for every feed after it."""
    try:
        return now - timedelta(days=days)
    except OverflowError:
        return None


def purgeable(feed: Feed, *, now: datetime) -> list[int]:
    """The ids of the feed's entries the rules let go, oldest last."""
    policy = policy_for(feed)
    if not policy.limits_anything:
        return []
    listed = set(feed.listed_identities or ())
    too_old = older_than(now, policy.keep_days) if policy.keep_days else None
    candidates = []
    # Entries no fetch brought (Entry.fetched: a backup import's, a merge's) take no rank:
    # their dates are whatever their file or server said, and would push the feed's own out.
    rows = Entry.objects.filter(feed=feed, fetched=True).order_by("-published", "-id")
    for rank, (entry_id, identity, published) in enumerate(
        rows.values_list("id", "identity", "published").iterator(chunk_size=2000)
    ):
        if rank < policy.keep_min or identity in listed:
            continue
        over = bool(policy.keep_max) and rank >= policy.keep_max
        old = too_old is not None and published < too_old
        if over or old:
            candidates.append(entry_id)
    if not candidates:
        return []
    keep = Q(is_starred=True) | Q(labels__isnull=False)
    if policy.keep_unread:
        keep |= Q(is_read=False)
    kept: set[int] = set()
    for start in range(0, len(candidates), _CHUNK):
        chunk = candidates[start : start + _CHUNK]
        kept.update(
            EntryState.objects.filter(keep, entry_id__in=chunk)
            .values_list("entry_id", flat=True)
            .distinct()
        )
    return [entry_id for entry_id in candidates if entry_id not in kept]


def purge_entries(
    feed_id: int, entry_ids: list[int], *, now: datetime, keep_unread: bool = False
) -> int:
    """Delete these entries (their states and labels go with them), leaving tombstones.

    Whether someone starred or labelled one (or, with `keep_unread`, has yet to read it) is
    asked again in each batch's transaction: the ids were chosen earlier, from a scan of the
    whole feed, and a star given since must keep its entry.
    """
    keep = Q(is_starred=True) | Q(labels__isnull=False)
    if keep_unread:
        keep |= Q(is_read=False)
    kept = Exists(EntryState.objects.filter(keep, entry_id=OuterRef("pk")))
    deleted = 0
    for start in range(0, len(entry_ids), _CHUNK):
        chunk = entry_ids[start : start + _CHUNK]
        with transaction.atomic():
            going = dict(
                Entry.objects.filter(feed_id=feed_id, id__in=chunk)
                .exclude(kept)
                .values_list("id", "identity")
            )
            Entry.objects.filter(id__in=list(going)).exclude(kept).delete()
            # Tombstones for what is gone, should a star have come in between after all.
            gone = set(going) - set(
                Entry.objects.filter(id__in=list(going)).values_list("id", flat=True)
            )
            EntryTombstone.objects.bulk_create(
                [
                    EntryTombstone(feed_id=feed_id, identity=going[i], purged_at=now)
                    for i in sorted(gone)
                ],
                ignore_conflicts=True,
            )
            deleted += len(gone)
    return deleted


# --- a person's own limits ----------------------------------------------------------------------


def _rules() -> dict[tuple[int, int | None], RetentionRule]:
    return {(rule.user_id, rule.category_id): rule for rule in RetentionRule.objects.all()}


def _person_policy(rule: RetentionRule) -> Policy:
    def pick(own: int | None, default: int) -> int:
        return default if own is None else own

    return Policy(
        keep_max=pick(rule.keep_max, settings.LISEUSE_RETENTION_KEEP_MAX),
        keep_min=pick(rule.keep_min, settings.LISEUSE_RETENTION_KEEP_MIN),
        keep_days=pick(rule.keep_days, settings.LISEUSE_RETENTION_KEEP_DAYS),
        keep_unread=settings.LISEUSE_RETENTION_KEEP_UNREAD,
    )


def purge_people(
    feed: Feed, rules: dict[tuple[int, int | None], RetentionRule], *, now: datetime, limit: int
) -> int:
    """Apply the rules of the feed's followers who have one to their own states of this feed,
    then delete the entries nobody has a state for any more. Returns the rows deleted."""
    listed = set(feed.listed_identities or ())
    deleted = 0
    touched: set[int] = set()
    followers = Subscription.objects.filter(feed=feed).values_list("user_id", "category_id")
    for user_id, category_id in followers:
        rule = rules.get((user_id, category_id)) or rules.get((user_id, None))
        if rule is None or deleted >= limit:
            continue
        policy = _person_policy(rule)
        if not policy.limits_anything:
            continue
        too_old = older_than(now, policy.keep_days) if policy.keep_days else None
        states = (
            EntryState.objects.filter(user_id=user_id, feed=feed)
            .order_by("-sort_date", "-entry_id")
            .values_list("id", "entry_id", "entry__identity", "sort_date", "is_read", "is_starred")
        )
        candidates: dict[int, int] = {}
        for rank, (state_id, entry_id, identity, sort_date, is_read, starred) in enumerate(
            states.iterator(chunk_size=2000)
        ):
            if rank < policy.keep_min or identity in listed or starred:
                continue
            if policy.keep_unread and not is_read:
                continue
            over = bool(policy.keep_max) and rank >= policy.keep_max
            old = too_old is not None and sort_date < too_old
            if over or old:
                candidates[state_id] = entry_id
        labelled = set(
            EntryState.labels.through.objects.filter(
                entrystate_id__in=list(candidates)
            ).values_list("entrystate_id", flat=True)
        )
        ids = [state_id for state_id in candidates if state_id not in labelled][: limit - deleted]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            deleted += (
                EntryState.objects.filter(id__in=chunk).delete()[1].get(EntryState._meta.label, 0)
            )
        touched.update(candidates[state_id] for state_id in ids)
    if touched:
        orphans = list(
            Entry.objects.filter(feed=feed, id__in=touched)
            .exclude(identity__in=listed)
            .filter(~Exists(EntryState.objects.filter(entry_id=OuterRef("pk"))))
            .values_list("id", flat=True)
        )
        deleted += purge_entries(feed.id, orphans, now=now)
    return deleted


def forget_tombstones(feed: Feed, *, now: datetime, limit: int) -> int:
    """Delete at most `limit` of the feed's tombstones older than the setting's days, except
    those of entries it still lists (forgotten, they would come back at the next refresh)."""
    days = settings.LISEUSE_RETENTION_TOMBSTONE_DAYS
    if not days or limit <= 0:
        return 0
    before = older_than(now, days)
    if before is None:
        return 0
    old = EntryTombstone.objects.filter(feed=feed, purged_at__lt=before)
    # The listing is left out here, not in the query: a feed may list any number of items,
    # more than one query takes parameters (SQLite: 32,766), and the pass failed on it.
    listed = set(feed.listed_identities or ())
    ids: list[int] = []
    after = 0
    while len(ids) < limit:
        page = list(old.filter(id__gt=after).order_by("id").values_list("id", "identity")[:_CHUNK])
        if not page:
            break
        ids += [tombstone_id for tombstone_id, identity in page if identity not in listed]
        after = page[-1][0]
    ids = ids[:limit]
    return sum(
        EntryTombstone.objects.filter(id__in=ids[start : start + _CHUNK]).delete()[0]
        for start in range(0, len(ids), _CHUNK)
    )


def _wanted(feed_id: int) -> bool:
    """Whether someone follows the feed, or keeps a state (a star, a label) of one of its
    entries."""
    return (
        Subscription.objects.filter(feed_id=feed_id).exists()
        or EntryState.objects.filter(feed_id=feed_id).exists()
    )


def forget_unfollowed(feed: Feed, *, now: datetime, limit: int) -> int:
    """For a feed nobody followed when the pass looked: note since when, and once that is
    `UNFOLLOWED_GRACE` ago, delete at most `limit` of its entries, and the feed once none is
    left. Returns the entries deleted.

    Each batch asks again, in its transaction, whether anyone follows the feed now: a follow
    since the pass looked keeps it. On PostgreSQL the feed's row is locked first, as `follow`
    locks it, so that a follow and the deletion never cross.
    """
    if feed.unfollowed_at is None:
        Feed.objects.filter(id=feed.id, unfollowed_at__isnull=True).update(unfollowed_at=now)
        return 0
    if feed.unfollowed_at > now - UNFOLLOWED_GRACE:
        return 0
    deleted = 0
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                list(Feed.objects.select_for_update().filter(id=feed.id).values_list("id"))
            if _wanted(feed.id):
                Feed.objects.filter(id=feed.id).update(unfollowed_at=None)
                return deleted
            size = min(_CHUNK, limit - deleted)
            if size <= 0:
                return deleted
            # Entries first, in batches: their states, labels and search index rows go with
            # them (the index's delete trigger), each batch a short transaction.
            ids = list(Entry.objects.filter(feed_id=feed.id).values_list("id", flat=True)[:size])
            if ids:
                deleted += Entry.objects.filter(id__in=ids).delete()[1].get(Entry._meta.label, 0)
                continue
            tombstones = list(
                EntryTombstone.objects.filter(feed_id=feed.id).values_list("id", flat=True)[:_CHUNK]
            )
            if tombstones:  # not counted: as in forget_tombstones
                EntryTombstone.objects.filter(id__in=tombstones).delete()
                continue
            Feed.objects.filter(id=feed.id).delete()
            return deleted


@dataclass
class Cursor:
    """Where the background pass stopped: the next one goes on from there, round the feeds."""

    after_feed_id: int = 0


def run(
    *, max_entries: int | None = None, max_feeds: int = 200, cursor: Cursor | None = None
) -> int:
    """One small pass: at most `max_feeds` feeds looked at, `max_entries` entries deleted.

    With a `cursor`, successive passes go round all the feeds; without, it starts at the first.
    Returns the number of rows deleted: entries, and people's states under their own rules.
    """
    limit = max_entries if max_entries is not None else settings.LISEUSE_RETENTION_BATCH
    cursor = cursor or Cursor()
    now = timezone.now()
    feeds = list(Feed.objects.filter(id__gt=cursor.after_feed_id).order_by("id")[:max_feeds])
    if not feeds:
        cursor.after_feed_id = 0  # round again next time
        return 0
    rules = _rules()
    deleted = forgotten = 0
    followed = set(
        Subscription.objects.filter(feed__in=feeds).values_list("feed_id", flat=True).distinct()
    )
    for feed in feeds:
        if feed.id not in followed and not _wanted(feed.id):
            deleted += forget_unfollowed(feed, now=now, limit=limit - deleted)
            if deleted >= limit:
                cursor.after_feed_id = feed.id - 1
                return deleted
            cursor.after_feed_id = feed.id
            continue
        if feed.unfollowed_at is not None:  # followed again
            Feed.objects.filter(id=feed.id).update(unfollowed_at=None)
        # Not counted in what is returned (entries and states); bounded per pass all the same.
        forgotten += forget_tombstones(feed, now=now, limit=limit - forgotten)
        if rules:
            # People's own limits first: the entries they free may then go as well.
            deleted += purge_people(feed, rules, now=now, limit=limit - deleted)
        ids = purgeable(feed, now=now)[: max(0, limit - deleted)]
        deleted += purge_entries(feed.id, ids, now=now, keep_unread=policy_for(feed).keep_unread)
        if deleted >= limit:
            # Not done with this feed: the next pass comes back to it.
            cursor.after_feed_id = feed.id - 1
            return deleted
        cursor.after_feed_id = feed.id
    return deleted


def run_all() -> int:
    """Every feed, every purgeable entry (the `liseuse retention` command)."""
    cursor = Cursor()
    total = 0
    while True:
        deleted = run(cursor=cursor)
        total += deleted
        if cursor.after_feed_id == 0 and deleted == 0:
            return total
