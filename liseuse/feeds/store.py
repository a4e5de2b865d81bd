"""Apply the pipeline's results to the database: the `pipeline.refresh.Store` protocol.

Each feed's result is written in one short transaction. The store is idempotent: an entry is
unique per (feed, identity), states per (person, entry), so a worker killed half-way through a
batch leaves either a feed's whole result or none of it, never a duplicate, and never touches
anyone's read state except as the pipeline decided (or to carry it over when a feed that moved
becomes one with another, feeds.merge).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import AbstractContextManager
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.db import connection
from django.db import models
from django.db import transaction

from liseuse.feeds.merge import feed_at
from liseuse.feeds.merge import merge_feed
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import EntryTombstone
from liseuse.feeds.models import Favicon
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.models import feed_host
from liseuse.feeds.urls import FeedUrlError
from liseuse.feeds.urls import normalize_feed_url
from liseuse.pipeline.decide import EntryDecision
from liseuse.pipeline.favicon import Icon
from liseuse.pipeline.refresh import FeedUpdate
from liseuse.pipeline.types import FetchResult
from liseuse.pipeline.types import ParsedEntry

# SQLite's page cache for a refresh's writes, in KiB. Its default, 2 MB, is smaller than the
# indexes a first refresh writes into (the states' seven alone are 9 MB at 35,000 entries): their
# pages were dropped and read back again and again, and changed ones written to the WAL before
# their transaction ended, then again at its end (docs/benchmarks.md).
STORE_CACHE_KIB = 8192

# SQLite allows 32766 variables per statement in recent versions but 999 in old ones; PostgreSQL
# 65535. Chunks of 500 rows keep every statement well under both.
_CHUNK = 500

# The largest value an IntegerField (PositiveIntegerField) holds on PostgreSQL.
_INTEGER_MAX = 2**31 - 1


def _entry_fields(decision: EntryDecision) -> dict[str, object]:
    entry = decision.entry
    assert entry.published is not None  # decide gives every entry a date
    return {
        "content_hash": decision.content_hash,
        "guid": (entry.guid or "")[:2048],
        "url": (entry.link or "")[:2048],
        "title": entry.title,
        "author": entry.author,
        "content": entry.content,
        # An RSS item with a <description> only has it as both (pipeline.parse): kept once.
        # Everything that shows an entry shows its content, else its summary.
        "summary": "" if entry.summary == entry.content else entry.summary,
        "categories": list(entry.categories),
        "enclosures": _enclosures(entry),
        "published": entry.published,
        "updated": entry.updated,
    }


def _enclosures(entry: ParsedEntry) -> list[dict[str, object]]:
    """The entry's attachments as stored, its thumbnail last as an image of type "image" (a
    medium, not a MIME type: feeds do not say which), as FreshRSS lists thumbnails to apps."""
    found: list[dict[str, object]] = [
        {"url": e.url, "type": e.mime_type, "length": e.length} for e in entry.enclosures
    ]
    if entry.thumbnail and all(e.url != entry.thumbnail for e in entry.enclosures):
        found.append({"url": entry.thumbnail, "type": "image", "length": None})
    return found


def _confirm_fetched(feed_id: int, identities: Sequence[str]) -> int:
    """Entries a backup import or a merge put in the feed (`Entry.fetched` false) that the
    document just fetched lists: from now on the feed's own, and given to each follower who
    has none, as a new entry would be. Without that, whoever made the file or ran the other
    server could hold back the feed's next article from its followers by storing its identity
    first. Returns how many such entries there were."""
    if not identities:
        return 0
    # Asked at every fetch that brings a document, almost always of an empty index: written
    # out, the ORM's exists() took ten times the query (0.2 to 0.4 s per 1,000 feeds).
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {Entry._meta.db_table} WHERE feed_id = %s AND NOT fetched LIMIT 1",
            [feed_id],
        )
        if cursor.fetchone() is None:
            return 0
    unfetched = Entry.objects.filter(feed_id=feed_id, fetched=False)
    listed: list[tuple[int, datetime]] = []
    for start in range(0, len(identities), _CHUNK):
        chunk = identities[start : start + _CHUNK]
        listed += unfetched.filter(identity__in=chunk).values_list("id", "published")
    if not listed:
        return 0
    followers = Subscription.objects.filter(feed_id=feed_id).values_list("user_id", flat=True)
    EntryState.objects.bulk_create(
        [
            EntryState(user_id=user_id, entry_id=entry_id, feed_id=feed_id, sort_date=published)
            for entry_id, published in listed
            for user_id in followers
        ],
        batch_size=_CHUNK,
        ignore_conflicts=True,  # whoever imported it has theirs
    )
    Entry.objects.filter(id__in=[entry_id for entry_id, _ in listed]).update(fetched=True)
    return len(listed)


class DjangoStore:
    def __init__(
        self,
        lease_owner: str = "",
        write_lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self.lease_owner = lease_owner
        # Held around each transaction by the processes of one split refresh
        # (worker.refresh_split): they take turns at once, where SQLite's busy handler would
        # have them sleep and poll.
        self.write_lock = write_lock or nullcontext()
        self._cache_set_on: object = None  # the SQLite connection given STORE_CACHE_KIB

    def _set_cache(self) -> None:
        """The store's own SQLite connection gets STORE_CACHE_KIB; the web's connections keep
        SQLite's default."""
        raw = connection.connection
        if connection.vendor == "sqlite" and raw is not None and raw is not self._cache_set_on:
            raw.execute(f"PRAGMA cache_size = -{STORE_CACHE_KIB}")
            self._cache_set_on = raw

    def stored_hashes(self, feed_id: int, identities: Sequence[str]) -> Mapping[str, str | None]:
        # Asked for every fetched feed that has entries already: written out, the two queries
        # take 0.08 ms where the ORM took 0.55 to build them.
        known: dict[str, str | None] = {}
        entries, tombstones = Entry._meta.db_table, EntryTombstone._meta.db_table
        with connection.cursor() as cursor:
            for start in range(0, len(identities), _CHUNK):
                chunk = identities[start : start + _CHUNK]
                among = f"feed_id = %s AND identity IN ({', '.join(['%s'] * len(chunk))})"
                cursor.execute(
                    f"SELECT identity, content_hash FROM {entries} WHERE {among}", [feed_id, *chunk]
                )
                known.update(cursor.fetchall())
                cursor.execute(
                    f"SELECT identity FROM {tombstones} WHERE {among}", [feed_id, *chunk]
                )
                for (identity,) in cursor.fetchall():
                    known[identity] = None
        return known

    def _update_feed(
        self,
        feed_id: int,
        fields: Mapping[str, object],
        *,
        give_back_lease: bool = True,
        count_error: bool = False,
    ) -> None:
        """`Feed.objects.filter(id=feed_id).update(**fields)` in SQL written here: every fetched
        feed ends with this statement, inside the transaction the refresh processes take turns
        at, and through the ORM it took 0.5 ms, written out 0.06 (a tenth of the store's time
        in a first refresh). `fields` are named as Feed's columns (`favicon_id` for the icon).

        With `give_back_lease`, the lease is cleared if it is still ours: a worker that outlived
        its lease must not end the lease another worker has taken since (a third could then
        fetch the feed again while the second still is). With `count_error`, one more error."""
        quote = connection.ops.quote_name
        values: list[Any] = [
            value if prepare is None or value is None else prepare(value)
            for value, prepare in zip(fields.values(), _preparers(Feed, list(fields)), strict=True)
        ]
        assignments = [f"{quote(name)} = %s" for name in fields]
        if count_error:
            errors = quote("error_count")
            assignments.append(f"{errors} = {errors} + 1")
        if give_back_lease:
            owner, until = quote("lease_owner"), quote("lease_until")
            # Both tests read the row as it was before this statement.
            assignments.append(f"{until} = CASE WHEN {owner} = %s THEN NULL ELSE {until} END")
            assignments.append(f"{owner} = CASE WHEN {owner} = %s THEN '' ELSE {owner} END")
            values += [self.lease_owner, self.lease_owner]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(Feed._meta.db_table)} SET {', '.join(assignments)} WHERE id = %s",
                [*values, feed_id],
            )

    def write_together(self, calls: Sequence[Callable[[], object]]) -> list[object]:
        """All the calls in one transaction; if one fails, all again, each in its own.

        Not a savepoint per call: while a savepoint is open, SQLite copies every page a write
        changes for the first time into a journal of the savepoint, which spills to a
        temporary file. A first refresh of 35,000 entries wrote 1.5 GB there for 250 MB of
        database (docs/benchmarks.md). Writes rarely fail, so the slow way is taken rarely.
        """
        with self.write_lock:
            try:
                with transaction.atomic():
                    self._set_cache()
                    return [call() for call in calls]
            except Exception:
                # Undone as a whole: now each on its own, so that a failure stays alone. Not
                # only DatabaseError: a value the driver cannot send (OverflowError) fails a
                # call before the database sees it, and it too must fail that call alone.
                pass
            results: list[object] = []
            for call in calls:
                # The result counts once the transaction has committed: a foreign key is
                # checked at COMMIT (deferred), after the call returned. Appended inside, a
                # write that failed there was listed twice, and every later feed was given the
                # result of the one before it (a feed deleted while it was fetched blamed the
                # next feed of the batch for its IntegrityError).
                try:
                    with transaction.atomic():
                        result = call()
                except Exception as exc:
                    results.append(exc)
                else:
                    results.append(result)
            return results

    def save_update(self, update: FeedUpdate) -> int:
        # All or nothing, in the caller's transaction when there is one (no savepoint: see
        # write_together).
        with transaction.atomic(savepoint=False):
            if update.renames:
                _rename_entries(update.feed_id, update.renames)
            new = self._save_entries(update.feed_id, update.decisions, update.fetched_at)
            new += _confirm_fetched(update.feed_id, update.identities)
            parsed = update.feed
            fields: dict[str, object] = {
                "etag": update.etag or "",
                "last_modified": update.last_modified or "",
                "next_fetch_at": update.next_fetch_at,
                "last_fetched_at": update.fetched_at,
                "last_success_at": update.fetched_at,
                "last_error": "",
                "error_count": 0,
                "disabled": False,  # a gone feed back (asked by hand: claim's even_disabled)
                "retry_after_until": None,
                # The feed's own number, which may be any length: kept within what the column
                # holds on both databases (PostgreSQL's integer; SQLite's 64 bits raise
                # OverflowError beyond), far beyond any delay the schedule honours anyway.
                "ttl_minutes": None
                if parsed.ttl_minutes is None
                else min(parsed.ttl_minutes, _INTEGER_MAX),
                # The feed's rhythm, before the server's hints: what its next 304s start from.
                "fetch_interval_minutes": update.interval_minutes,
                # What the feed lists now: retention keeps these (feeds.retention).
                "listed_identities": list(update.identities),
            }
            if parsed.title:
                fields["title"] = parsed.title
            if parsed.link:
                fields["site_url"] = parsed.link[:2048]
            if parsed.description:
                fields["description"] = parsed.description
            fields["redirect_host"] = update.redirect_host[:255]
            fields["hub_url"] = (parsed.hub_url or "")[:2048]
            fields["language"] = parsed.language  # a feed that stops saying it: not known
            if parsed.icon_url:
                fields["icon_url"] = parsed.icon_url[:2048]
            self._update_feed(update.feed_id, fields)
        if update.permanent_url:
            self._move_feed(update.feed_id, update.permanent_url, update.identities)
        return new

    def _save_entries(self, feed_id: int, decisions: Sequence[EntryDecision], now: datetime) -> int:
        new = [d for d in decisions if d.kind == "new"]
        updated = [d for d in decisions if d.kind == "updated"]
        if new and connection.vendor == "postgresql":
            # The feed's row, locked until this write commits, is what a new follower waits
            # for too (subscribe.follow): either they follow first and are among the followers
            # read below, or they follow after and get these entries with the recent ones.
            # Otherwise both could miss each other. SQLite writes one transaction at a time.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id FROM {Feed._meta.db_table} WHERE id = %s FOR UPDATE", [feed_id]
                )
        inserted, created = _insert_entries(feed_id, new, now)
        # Written out for the same reason as _update_feed: the ORM's query cost more than the
        # database's work.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT user_id FROM {Subscription._meta.db_table} WHERE feed_id = %s", [feed_id]
            )
            followers = [user_id for (user_id,) in cursor.fetchall()]
        if created and followers:
            # One state per follower and new entry, created in batches with the entry itself.
            _insert_states(feed_id, created, followers)
        for decision in updated:
            fields = _entry_fields(decision)
            if decision.published_is_first_seen:
                # Still no date from the feed: keep the first-seen date the entry was stored with.
                del fields["published"]
            Entry.objects.filter(feed_id=feed_id, identity=decision.identity).update(**fields)
            if "published" in fields:
                EntryState.objects.filter(
                    entry__feed_id=feed_id, entry__identity=decision.identity
                ).update(sort_date=fields["published"])
            # People who asked for it see a changed entry again as unread.
            EntryState.objects.filter(
                entry__feed_id=feed_id,
                entry__identity=decision.identity,
                user__mark_updated_unread=True,
            ).update(is_read=False, read_at=None)
        return inserted

    def _move_feed(self, feed_id: int, new_url: str, listed: Sequence[str] = ()) -> None:
        """Follow a confirmed permanent redirect; to the address of another feed row, become
        one with it (feeds.merge). `listed`: the identities of the document fetched there."""
        target = feed_at(new_url, other_than=feed_id)
        if target is not None:
            # Not merged (that feed refreshed elsewhere right now): both rows are kept, this
            # one at its old address, and its next refresh tries again.
            merge_feed(feed_id, target, lease_owner=self.lease_owner, listed=listed, answered=True)
            return
        try:
            # As people's addresses are stored ("http://host" with its "/").
            url = normalize_feed_url(new_url)[:2048]
        except FeedUrlError:
            url = new_url[:2048]
        try:
            with transaction.atomic():
                # Its host is where it answered from: no other host to hold now.
                Feed.objects.filter(id=feed_id).update(
                    url=url, host=feed_host(url), redirect_host=""
                )
        except IntegrityError:
            pass  # a feed of that address was made meanwhile: merged at the next refresh

    def save_not_modified(
        self,
        feed_id: int,
        *,
        fetched_at: datetime,
        next_fetch_at: datetime,
        result: FetchResult,
        redirect_host: str = "",
    ) -> None:
        fields: dict[str, object] = {
            "next_fetch_at": next_fetch_at,
            "last_fetched_at": fetched_at,
            "last_success_at": fetched_at,
            "last_error": "",
            "error_count": 0,
            "disabled": False,
            "retry_after_until": None,
            "redirect_host": redirect_host[:255],
        }
        # A server may hand out new validators with a 304.
        if result.etag:
            fields["etag"] = result.etag
        if result.last_modified:
            fields["last_modified"] = result.last_modified
        self._update_feed(feed_id, fields)
        # The validators went along every hop: a 304 at the end of a permanent redirect says the
        # new URL serves the feed we hold. Left unmoved, a feed that never changes would be
        # asked at its old URL for good.
        if result.permanent_url:
            self._move_feed(feed_id, result.permanent_url)

    def save_icon(self, feed_id: int, icon: Icon | None, *, checked_at: datetime) -> None:
        favicon_id = None
        if icon is not None:
            digest = hashlib.sha256(icon.data).hexdigest()
            favicon, _ = Favicon.objects.get_or_create(
                digest=digest, defaults={"content_type": icon.content_type, "data": icon.data}
            )
            favicon_id = favicon.pk
        fields: dict[str, object] = {"favicon_checked_at": checked_at}
        if favicon_id is not None:
            fields["favicon_id"] = favicon_id
        self._update_feed(feed_id, fields, give_back_lease=False)

    def save_error(
        self,
        feed_id: int,
        *,
        fetched_at: datetime,
        reason: str,
        next_fetch_at: datetime,
        gone: bool,
        retry_after: datetime | None = None,
    ) -> None:
        fields: dict[str, object] = {
            "next_fetch_at": next_fetch_at,
            "last_fetched_at": fetched_at,
            "last_error": reason[:2000],
            "retry_after_until": retry_after,
        }
        # Only a 410 disables, and only an answer enables again (`save_update`,
        # `save_not_modified`): a gone feed tried by hand that fails otherwise (a 500, a
        # time-out) is not back.
        if gone:
            fields["disabled"] = True
        self._update_feed(feed_id, fields, count_error=True)


def _rename_entries(feed_id: int, renames: Sequence[tuple[str, str]]) -> None:
    """Give stored entries the identities the pipeline found for them (`decide.Identities`):
    each keeps its row, so its states, labels and search terms. Rare (a key one item had is
    shared by several now): a statement each.

    A rename whose new identity some entry has already (another worker stored this document
    meanwhile) is left undone: that entry stays as it is, and so does the renamed one."""
    table = connection.ops.quote_name(Entry._meta.db_table)
    with connection.cursor() as cursor:
        for old, new in renames:
            cursor.execute(
                f"UPDATE {table} SET identity = %s WHERE feed_id = %s AND identity = %s "
                f"AND NOT EXISTS (SELECT 1 FROM {table} AS other "
                "WHERE other.feed_id = %s AND other.identity = %s)",
                [new, feed_id, old, feed_id, new],
            )


# --- the hot path of a first refresh ----------------------------------------------------------
# A first refresh stores tens of thousands of entries: building model instances and letting
# bulk_create assemble the SQL took more time than SQLite took to write them (measured with
# py-spy). These two functions send the rows with executemany, each value prepared as its model
# field would (`get_db_prep_save`), so SQLite and PostgreSQL get exactly what the ORM would send.

_ENTRY_COLUMNS = (
    "feed_id",
    "identity",
    "content_hash",
    "guid",
    "url",
    "title",
    "author",
    "content",
    "summary",
    "categories",
    "enclosures",
    "published",
    "updated",
    "first_seen",
)
_STATE_COLUMNS = ("user_id", "entry_id", "feed_id", "sort_date", "is_read", "is_starred")


def _preparers(model: type[models.Model], columns: Sequence[str]) -> list[Any]:
    """For each column, how to turn a Python value into what the database takes: None for
    values sent as they are (text, numbers, ids), else a function of the value. Text needs
    none, and asking every field for every value cost more than SQLite's own work."""
    preparers: list[Any] = []
    for column in columns:
        field = None if column.endswith("_id") else model._meta.get_field(column)
        if isinstance(field, models.DateTimeField):
            preparers.append(_datetime_preparer(field))
        elif isinstance(field, models.JSONField):
            preparers.append(_json_preparer(field))
        else:
            preparers.append(None)
    return preparers


# On SQLite, the two preparations that the fields would make, done directly: through the
# fields they took a third of the store's time in a first refresh. A test checks that they
# give exactly what the fields give (tests/feeds/test_store_rows.py).


def _datetime_preparer(field: models.DateTimeField[Any, Any]) -> Callable[[Any], Any]:
    def by_field(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    if connection.vendor != "sqlite" or not settings.USE_TZ:
        return by_field
    zone = connection.timezone

    def on_sqlite(value: Any) -> Any:
        # What DatabaseOperations.adapt_datetimefield_value does with an aware datetime.
        if isinstance(value, datetime) and value.tzinfo is not None:
            return str(value.astimezone(zone).replace(tzinfo=None))
        return by_field(value)

    return on_sqlite


def _json_preparer(field: models.JSONField[Any, Any]) -> Callable[[Any], Any]:
    def by_field(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    if connection.vendor != "sqlite" or field.encoder is not None:
        return by_field
    return json.dumps  # what SQLite's adapt_json_value does without an encoder


def _row(
    values: list[Any], prepared: Sequence[tuple[int, Callable[[Any], Any]]]
) -> tuple[Any, ...]:
    """The row of `values`, those at the `prepared` places (column index, preparer) prepared.
    Only a few columns need it: looping over these alone took a third less time than over all."""
    for index, prepare in prepared:
        value = values[index]
        if value is not None:
            values[index] = prepare(value)
    return tuple(values)


_FIRST_SEEN = _ENTRY_COLUMNS.index("first_seen")


def _insert_entries(
    feed_id: int, decisions: Sequence[EntryDecision], now: datetime
) -> tuple[int, list[tuple[int, Any]]]:
    """Insert new entries; returns how many were inserted, and (id, prepared published date)
    of each.

    An entry already there is left as it is: another worker may have stored this document
    since this one read what was stored (its lease ended while it fetched). Its copy and the
    states made with it, read ones included, stay; this write then adds nothing."""
    if not decisions:
        return 0, []
    preparers = _preparers(Entry, _ENTRY_COLUMNS)
    # The same for every row: prepared once, and left out of the preparations per row.
    first_seen = preparers[_FIRST_SEEN](now)
    prepared = [
        (index, prepare)
        for index, prepare in enumerate(preparers)
        if prepare is not None and index != _FIRST_SEEN
    ]
    # Last listed first: lists break a tie of dates by entry id, newest first, and a feed lists
    # its newest entry first (a day's items, when the feed gives a day without a time). The
    # first listed gets the highest id, and a list keeps the feed's order.
    decisions = decisions[::-1]
    rows: list[tuple[Any, ...]] = []
    for decision in decisions:
        values = {"feed_id": feed_id, "identity": decision.identity, "first_seen": first_seen}
        values.update(_entry_fields(decision))
        rows.append(_row([values[c] for c in _ENTRY_COLUMNS], prepared))
    table = Entry._meta.db_table
    columns = ", ".join(_ENTRY_COLUMNS)
    marks = ", ".join(["%s"] * len(_ENTRY_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows
        )
        # Both drivers sum the rows each statement inserted.
        inserted = cursor.rowcount
        ids: dict[str, int] = {}
        identities = [d.identity for d in decisions]
        for start in range(0, len(identities), _CHUNK):
            chunk = identities[start : start + _CHUNK]
            cursor.execute(
                f"SELECT identity, id FROM {table} WHERE feed_id = %s AND identity IN "
                f"({', '.join(['%s'] * len(chunk))})",
                [feed_id, *chunk],
            )
            ids.update(cursor.fetchall())
    published_at = _ENTRY_COLUMNS.index("published")
    return inserted, [
        (ids[d.identity], row[published_at]) for d, row in zip(decisions, rows, strict=True)
    ]


def _insert_states(feed_id: int, created: list[tuple[int, Any]], followers: list[int]) -> None:
    rows: list[tuple[Any, ...]] = [
        (user_id, entry_id, feed_id, published, False, False)
        for entry_id, published in created
        for user_id in followers
    ]
    table = EntryState._meta.db_table
    marks = ", ".join(["%s"] * len(_STATE_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(
            # A state already there (see _insert_entries) keeps the person's flags.
            f"INSERT INTO {table} ({', '.join(_STATE_COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT DO NOTHING",
            rows,
        )
