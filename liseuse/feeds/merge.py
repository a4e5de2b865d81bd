"""Two feed rows become one when one of them moves for good to the other's address.

Feeds are shared: a person who follows `http://example.org/feed` and another who follows
`https://example.org/feed` have two rows, each fetched on its own. When the first answers with a
confirmed permanent redirect to the second (`pipeline.fetch`'s `permanent_url`), the first row
cannot take the address (it is unique); kept as it was, both rows were fetched for ever, and
whoever followed both read every entry twice. So the moved feed's followers move onto the other
row, with what they had:

- a follower keeps their subscription (its category, own title, visibility, refresh floor),
  now of the other feed; one who followed both keeps the one they had of the other feed;
- an entry both rows hold (the same identity) is the other row's: a person's state of the
  moved row's copy becomes theirs of it (read, starred, labels; merged with the state they
  had of it, read or starred if either was);
- an entry only the moved row holds that the document fetched at the other address lists
  (the other row's feed published it since its own last fetch) is left to the other row's own
  fetch, made due at once, which gives it to every follower once and knows what that feed
  purged (its tombstones); unless someone read, starred or labelled it already;
- an entry only the moved row holds otherwise (older than the other row, say) goes over with
  its states, under an identity of its own (`moved_identity`): an identity the other row's
  feed could list one day would be the moved row's way to decide what the other row's
  followers get (they get no state of an entry stored already). It is for the people who had
  it: newcomers to the feed are not given it, nor does the feed's retention rank it, since it
  came from whoever ran the moved feed's server, not from the feed's address. If that feed
  lists it again one day, its followers from the moved row read it twice: the price of that
  safety, for entries its feed had dropped;
- what named the moved row names the other: saved searches (`f:12`), the retention limits set
  for its address (where the other has none); the people's kept pages are made again;
- the moved row then holds nothing anyone reads, and is deleted with its tombstones.

The two addresses are compared as addresses, not as text (`urls.address_key`): a redirect
spells `https://bücher.example` in ASCII, `/naïve` percent-encoded, drops `:443`.

Only on the server's word that the feed moved for good (every hop a 301 or 308, and a feed
there), and only to a row not being refreshed by another worker (else the next refresh of the
moved row tries again); a row disabled by a 410 is back, since its address just answered. Or
on the word of the moved row's only follower, who changes its address in its settings
(`subscribe.change_url`). Neither word puts anything before the other row's own followers, nor
before those who follow it later: they read only what came from the other row's address.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.db import connection
from django.db import transaction
from django.db.models import Model
from django.db.models import Q
from django.utils import timezone
from yarl import URL

from liseuse.accounts.changes import count_change
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import SavedQuery
from liseuse.feeds.models import Subscription
from liseuse.feeds.models import feed_host
from liseuse.feeds.urls import address_key

log = logging.getLogger(__name__)

# Rows per statement: within SQLite's and PostgreSQL's limits on parameters.
_CHUNK = 500


def feed_at(url: str, *, other_than: int) -> int | None:
    """The id of the feed stored at `url` however either spells it (`urls.address_key`),
    other than feed `other_than`; None if there is none."""
    key = address_key(url)
    if key is None:
        return None
    parsed = URL(url)
    hosts = {feed_host(url), (parsed.host or "").lower(), (parsed.raw_host or "").lower()}
    same_host = Feed.objects.filter(host__in=hosts - {""}).exclude(id=other_than)
    for feed_id, stored in same_host.values_list("id", "url").order_by("id"):
        if address_key(stored) == key:
            return int(feed_id)
    return None


# Identities of entries that went over in a merge start so (no feed's entry has a colon in
# its identity, pipeline.decide's hex), and they are not `Entry.fetched`: newcomers are not
# given them (subscribe.follow), the feed's retention does not rank them (feeds.retention),
# for they never came from the feed's address.
MOVED_PREFIX = "merged:"


def moved_identity(source_id: int, identity: str) -> str:
    """The identity an entry of feed `source_id` takes in the feed it is merged into: none
    its new feed's document could give."""
    digest = hashlib.sha256(f"merged from feed {source_id}\n{identity}".encode()).hexdigest()
    return MOVED_PREFIX + digest[:32]


def merge_feed(
    source_id: int,
    target_id: int,
    *,
    lease_owner: str = "",
    listed: Collection[str] = (),
    answered: bool = False,
) -> bool:
    """Move feed `source_id`'s followers, their reading states and its entries onto feed
    `target_id`, then delete it (see the module's docstring). Returns whether it was done: not
    when the target is being refreshed by a worker other than `lease_owner`, nor when it is
    disabled (gone, 410) unless its address `answered` just now, through the redirect: then it
    is back, and enabled as its own answer would enable it.

    `listed`: the identities of the document just fetched at the target's address (through
    the redirect). Those of the source's entries the target does not hold yet are the target
    feed's newest: they are left to the target's own fetch, made due now, which gives them to
    every follower once (they go over with the others if someone read, starred or labelled
    one already)."""
    with transaction.atomic():
        feeds = Feed.objects.filter(id__in=(source_id, target_id))
        if connection.vendor == "postgresql":
            # As `subscribe.follow` and the store's new entries lock a feed's row: a newcomer
            # or a refresh of either feed waits for the merge, or the merge for them. In the
            # order of the ids; but a refresh's write may hold the source's row already, so
            # two merges crossing at once could still deadlock: PostgreSQL then fails one,
            # which the store writes again alone (store.write_together), and a person's
            # change of address is refused with a reason (subscribe.change_url).
            list(feeds.select_for_update().order_by("id").values_list("id", flat=True))
        target = feeds.filter(id=target_id).first()
        if target is None or target_id == source_id or not feeds.filter(id=source_id).exists():
            return False
        if target.disabled and not answered:
            return False
        if (
            target.lease_until is not None
            and target.lease_until > timezone.now()
            and target.lease_owner != lease_owner
        ):
            return False
        people = _people_of(source_id)
        left_to_fetch = _move_states_and_entries(source_id, target, set(listed))
        _move_subscriptions(source_id, target_id)
        _keep_retention_limits(source_id, target)
        _repoint_saved_searches(people, source_id, target_id)
        changes: dict[str, object] = {"unfollowed_at": None}
        if answered:
            changes.update(_answered_at(source_id, target))
        if left_to_fetch:
            changes["next_fetch_at"] = timezone.now()
        Feed.objects.filter(id=target_id).update(**changes)
        Feed.objects.filter(id=source_id).delete()
        # Their pages, kept by the page cache, showed the moved feed (accounts.changes).
        count_change(*people)
    log.info("feed %s merged into feed %s, whose address it moved to", source_id, target_id)
    return True


def _answered_at(source_id: int, target: Feed) -> dict[str, object]:
    """The target's health after its address answered the source's fetch: fetched and well
    then (the source's times, just written), and back if it was gone (410)."""
    fetched, success = (
        Feed.objects.filter(id=source_id).values_list("last_fetched_at", "last_success_at").get()
    )
    changes: dict[str, object] = {}
    if fetched is not None and (target.last_fetched_at is None or fetched > target.last_fetched_at):
        changes["last_fetched_at"] = fetched
    if success is not None and (target.last_success_at is None or success > target.last_success_at):
        changes["last_success_at"] = success
    if target.disabled:
        changes.update(disabled=False, last_error="", error_count=0)
    return changes


def _people_of(feed_id: int) -> set[int]:
    """Who follows the feed, or has a state of one of its entries."""
    followers = Subscription.objects.filter(feed_id=feed_id).values_list("user_id", flat=True)
    readers = EntryState.objects.filter(feed_id=feed_id).values_list("user_id", flat=True)
    return {*followers, *readers.distinct()}


def _move_states_and_entries(source_id: int, target: Feed, listed: set[str]) -> bool:
    """A few statements per 500 entries, whatever the feeds hold: the merge is one transaction,
    and on SQLite every other writer waits for it. Returns whether entries were left for the
    target's own fetch (see `merge_feed`)."""
    target_entries = {
        identity: (entry_id, published)
        for identity, entry_id, published in Entry.objects.filter(feed=target).values_list(
            "identity", "id", "published"
        )
    }
    matched: dict[int, tuple[int, datetime]] = {}
    alone: dict[int, str] = {}
    fresh: list[int] = []
    rows = Entry.objects.filter(feed_id=source_id).values_list("id", "identity")
    for entry_id, identity in rows:
        there = target_entries.get(identity)
        if there is not None:
            matched[entry_id] = there
            continue
        if identity in listed:
            fresh.append(entry_id)
        new_identity = moved_identity(source_id, identity)
        if new_identity not in target_entries:  # else, two hashing alike: left to be deleted
            alone[entry_id] = new_identity
    # The target's newest, which its own fetch brings to everyone, is left to it: unless
    # someone did something with it already (a merge put off while the target was refreshed).
    kept = Q(is_read=True) | Q(is_starred=True) | Q(labels__isnull=False)
    left_to_fetch = False
    for chunk in _chunks(fresh):
        touched = set(
            EntryState.objects.filter(kept, entry_id__in=chunk).values_list("entry_id", flat=True)
        )
        for entry_id in chunk:
            if entry_id not in touched:
                alone.pop(entry_id, None)  # deleted with the moved feed
                left_to_fetch = True
    _update_rows(
        Entry,
        ["feed_id", "identity", "fetched"],
        [(target.id, new, False, old) for old, new in alone.items()],
    )
    for chunk in _chunks(list(alone)):
        EntryState.objects.filter(entry_id__in=chunk).update(feed=target)
    for chunk in _chunks(list(matched)):
        _move_states({entry_id: matched[entry_id] for entry_id in chunk}, target.id)
    return left_to_fetch


# `f:12`, `f:12,13` or `f:"12"` in a saved search (liseuse.feeds.search), at a term's start.
_FEED_IDS = re.compile(r"(?<![^\s(!-])([fF]:)(\"?)([0-9]+(?:,[0-9]*)*)(\2)")


def _repoint_saved_searches(people: set[int], source_id: int, target_id: int) -> None:
    """The people's saved searches that name the moved feed (`f:12`) name the other one."""

    def repointed(match: re.Match[str]) -> str:
        # As the search reads them: "012" is feed 12, empty parts are skipped.
        ids = [i for i in match[3].split(",") if i]
        ids = [str(target_id) if int(i) == source_id else i for i in ids]
        return match[1] + match[2] + ",".join(dict.fromkeys(ids)) + match[4]

    for saved in SavedQuery.objects.filter(user_id__in=people, query__contains=str(source_id)):
        query = _FEED_IDS.sub(repointed, saved.query)
        if query != saved.query:
            SavedQuery.objects.filter(id=saved.id).update(query=query)


def _keep_retention_limits(source_id: int, target: Feed) -> None:
    """The moved feed's own retention limits, where the target has none of its own."""
    source = Feed.objects.filter(id=source_id).values("keep_max", "keep_min", "keep_days").get()
    kept = {
        name: value
        for name, value in source.items()
        if value is not None and getattr(target, name) is None
    }
    if kept:
        Feed.objects.filter(id=target.id).update(**kept)


def _move_states(matched: dict[int, tuple[int, datetime]], target_id: int) -> None:
    """Every state of the moved feed's entries in `matched` made the same person's state of
    the other feed's copy (`matched`: the entry's id → its copy's id and date)."""
    states = list(EntryState.objects.filter(entry_id__in=list(matched)))
    copies = [entry_id for entry_id, _ in matched.values()]
    theirs = {
        (state.user_id, state.entry_id): state
        for state in EntryState.objects.filter(
            entry_id__in=copies, user_id__in={s.user_id for s in states}
        )
    }
    now = timezone.now()
    moved: list[EntryState] = []
    merged: dict[int, int] = {}  # a moved feed's state → the state it merges into
    changed: list[EntryState] = []
    for state in states:
        copy, published = matched[state.entry_id]
        kept = theirs.get((state.user_id, copy))
        if kept is None:
            # A new entry to the person's apps (another id): it arrives now, for those that
            # sync what arrived since their last look.
            state.entry_id, state.feed_id, state.sort_date = copy, target_id, published
            state.arrived_at = now
            moved.append(state)
            continue
        merged[state.pk] = kept.pk
        # Read or starred if either copy was: only what the person's own copy lacks changes.
        gains_read = state.is_read and not kept.is_read
        gains_star = state.is_starred and not kept.is_starred
        if gains_read:
            kept.is_read, kept.read_at = True, state.read_at
        if gains_star:
            kept.is_starred, kept.starred_at = True, state.starred_at
        if gains_read or gains_star:
            changed.append(kept)
    at = _datetime_param
    _update_rows(
        EntryState,
        ["entry_id", "feed_id", "sort_date", "arrived_at"],
        [(s.entry_id, s.feed_id, at(s.sort_date), at(s.arrived_at), s.pk) for s in moved],
    )
    _update_rows(
        EntryState,
        ["is_read", "read_at", "is_starred", "starred_at"],
        [(s.is_read, at(s.read_at), s.is_starred, at(s.starred_at), s.pk) for s in changed],
    )
    links = EntryState.labels.through
    labels = links.objects.filter(entrystate_id__in=list(merged)).values_list(
        "entrystate_id", "label_id"
    )
    links.objects.bulk_create(
        [links(entrystate_id=merged[state_id], label_id=label_id) for state_id, label_id in labels],
        ignore_conflicts=True,  # the label was on both
    )
    EntryState.objects.filter(id__in=list(merged)).delete()


def _update_rows(model: type[Model], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Each row's `columns` set to its values, found by its id (the last value): one statement
    run for many rows, where Django's bulk_update wrote a CASE per column over 500 rows (a
    feed of 5,000 entries took 15 s to merge)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE id = %s", rows
        )


def _datetime_param(value: datetime | None) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _move_subscriptions(source_id: int, target_id: int) -> None:
    """The source's subscriptions become the target's; who follows both keeps the target's."""
    following_target = Subscription.objects.filter(feed_id=target_id).values("user_id")
    Subscription.objects.filter(feed_id=source_id, user_id__in=following_target).delete()
    Subscription.objects.filter(feed_id=source_id).update(feed_id=target_id)
