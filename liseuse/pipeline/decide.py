"""The pipeline's decisions, as pure functions: which entries to store, when to fetch again.

Nothing here does I/O or reads the clock: the caller passes `now` and what the store knows,
and gets plain data back. That keeps the rules that are easy to get subtly wrong (duplicate
guids, feeds that only bump their dates, back-off) testable in isolation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from json.encoder import encode_basestring  # json.dumps's own, in C
from typing import Literal

from liseuse.pipeline.types import ParsedEntry

# A publisher's clock may run a little ahead of ours; beyond this, a future date is a mistake
# (or a trick to stay on top of the list) and is replaced by the time we saw the entry.
FUTURE_TOLERANCE = timedelta(minutes=10)

# Before this, a date is what a feed generator writes for "no date": the Unix epoch (time 0,
# shifted up to a day by a time zone) or the year 1 (Go's zero time, .NET's DateTime.MinValue).
# Taken at its word, such an entry sorts below everything a person will ever scroll to, and the
# year 1 cannot even be shown in a time zone west of UTC (it would fall in the year 0).
PLACEHOLDER_BEFORE = datetime(1970, 1, 2, tzinfo=UTC)

_HASH_LENGTH = 32  # hex digits: 128 bits, plenty to tell entries apart within one feed


# What a hash is taken of, and must stay (every stored identity and content hash depends on it):
# the UTF-8 bytes of json.dumps(parts, ensure_ascii=False, separators=(",", ":")), lone surrogates
# passed through. JSON keeps the parts apart: ("ab", "c") and ("a", "bc") never hash alike.
# They are built here part by part, long parts without the JSON encoder: its escaping of
# non-ASCII text cost more than twice the UTF-8 encoding and the SHA-256 together, and this way
# the hashing of a first refresh (35,186 entries) takes 0.6 s of CPU instead of 1.1.
# tests/pipeline/test_decide.py checks that both ways give the same bytes.

# The controls JSON escapes other than \t, \n and \r: rare, left to the JSON encoder.
_RARE_CONTROLS = bytes(c for c in range(0x20) if c not in b"\t\n\r")
# Below this length, the JSON encoder is as fast as the way around it.
_LONG_PART = 256


def _json_utf8(part: str) -> bytes:
    """`part` as a JSON string, in the bytes _digest hashes."""
    if len(part) >= _LONG_PART:
        data = part.encode("utf-8", "surrogatepass")
        # The bytes JSON escapes are ASCII, and in UTF-8 an ASCII byte is always that character
        # (never part of a longer one): so the escaping can be done on the bytes.
        if len(data.translate(None, _RARE_CONTROLS)) == len(data):
            escaped = data.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
            escaped = escaped.replace(b"\n", b"\\n").replace(b"\r", b"\\r").replace(b"\t", b"\\t")
            return b'"' + escaped + b'"'
    return encode_basestring(part).encode("utf-8", "surrogatepass")


def _digest_json(parts: list[bytes]) -> str:
    data = b"[" + b",".join(parts) + b"]"
    return hashlib.sha256(data).hexdigest()[:_HASH_LENGTH]


def _digest(*parts: str) -> str:
    return _digest_json([_json_utf8(part) for part in parts])


# Identity
#
# The store knows an entry by its identity, so an item must keep its identity from one fetch to
# the next, whatever else the document lists around it: an item whose identity changes comes
# back as a new entry, and an identity that passes to another item hands it the first one's
# row, read flag, star and labels.
#
# An item's key is its guid, else its link, else its title and content. A key that one item of
# the document has names that item (its "plain" identity). A key that several different items
# have names none of them: each is named by its key and something of its own, its link when the
# key is a guid and no other item of the document has that link, else its content hash.
#
# Which of these an item has cannot be read from the document alone: a key goes from one item
# to several and back (a site's address as every guid; a feed listing one post, then two). Read
# from the document alone, an item's identity flipped with that count, and the entry stored
# under the plain identity was taken by the next item alone with that key: a star moved to
# another post. So `Identities` asks the store for every name an item can have and keeps the
# one it is stored under; and when a key becomes shared, the entry stored under its plain
# identity is renamed to a name of its own (its item gone or changed: a name no item will
# have), so that an item alone with that key later is new, not a change of that entry. A key
# that was never shared works as ever: same key, same entry, changed or not.
#
# Exact copies (same key, same content hash) are one item: one identity, one entry.

_MISSING = object()  # not stored (a stored value is a content hash, or None for a tombstone)


def _identity_key(entry: ParsedEntry) -> tuple[str, ...]:
    guid = (entry.guid or "").strip()
    if guid:
        return ("guid", guid)
    link = (entry.link or "").strip()
    if link:
        return ("link", link)
    return ("text", entry.title, entry.content or entry.summary)


@dataclass(frozen=True, slots=True)
class ResolvedIdentities:
    """The identities of a document's entries, given what the store holds."""

    identities: tuple[str, ...]  # one per entry, in document order; exact copies share one
    # (identity stored, identity it takes): entries kept, with their states, under a new name.
    renames: tuple[tuple[str, str], ...]
    # The stored hashes as they are once the renames are done: what `decide_entries` compares.
    stored: Mapping[str, str | None]


class Identities:
    """The identities of one document's entries, to resolve against what the store holds.

    `first` is what they are with nothing stored (a feed's first fetch). Otherwise: ask the
    store for `to_look_up()`, then for `to_look_up_after(stored)` (when not empty), and
    `against(stored)` gives each entry's identity and the renames to apply. Computed once
    per document beside the parser; the usual document (no key twice, every entry stored
    unchanged) costs a digest per entry and one dictionary look-up per entry.
    """

    __slots__ = (
        "_computed",
        "_copy_of",
        "_entries",
        "_groups",
        "_hashes",
        "_keys",
        "_owns",
        "_plain",
        "first",
    )

    def __init__(self, entries: Sequence[ParsedEntry], hashes: Sequence[str] | None = None) -> None:
        self._entries = entries
        self._hashes = hashes  # each entry's content hash, when the caller has them
        self._computed: dict[int, str] = {}  # else those needed, computed here
        self._owns: dict[int, tuple[str | None, str]] = {}  # see _own
        keys = [_identity_key(entry) for entry in entries]
        self._keys = keys
        self._plain = [_digest("entry", *key) for key in keys]
        # A later exact copy's index → the index of the first; a shared key → the index of the
        # first of each of its different items, in document order.
        self._copy_of: dict[int, int] = {}
        self._groups: dict[tuple[str, ...], list[int]] = {}
        repeated = {key for key, count in Counter(keys).items() if count > 1}
        if repeated:
            firsts: dict[tuple[str, ...], dict[str, int]] = {}
            for index, key in enumerate(keys):
                if key in repeated:
                    by_hash = firsts.setdefault(key, {})
                    first = by_hash.setdefault(self._hash(index), index)
                    if first != index:
                        self._copy_of[index] = first
            self._groups = {
                key: list(by_hash.values()) for key, by_hash in firsts.items() if len(by_hash) > 1
            }
        self.first = self.against({}).identities

    def _hash(self, index: int) -> str:
        if self._hashes is not None:
            return self._hashes[index]
        found = self._computed.get(index)
        if found is None:
            found = self._computed[index] = content_hash(self._entries[index])
        return found

    def _own(self, index: int) -> tuple[str | None, str]:
        """The identities of an item among others with its key: by its link (when its key is a
        guid; None otherwise) and by its content."""
        found = self._owns.get(index)
        if found is None:
            key = self._keys[index]
            link = (self._entries[index].link or "").strip()
            found = self._owns[index] = (
                # Items that share a guid with each its own link (a site's address as every
                # guid): a correction of an item's text leaves its link as it is.
                _digest("shared", *key, "link", link) if key[0] == "guid" and link else None,
                # The previous scheme's name for the first item with this key and content:
                # entries it stored are found again under it.
                _digest("repeat", *key, self._hash(index), "1"),
            )
        return found

    def _alone(self) -> Iterable[int]:
        """The items alone with their key (exact copies aside)."""
        for index, key in enumerate(self._keys):
            if index not in self._copy_of and key not in self._groups:
                yield index

    def to_look_up(self) -> list[str]:
        """What to ask the store first: every key's plain identity, and every identity an item
        with a shared key can have."""
        wanted = dict.fromkeys(self._plain)
        for members in self._groups.values():
            for index in members:
                wanted.update(dict.fromkeys(i for i in self._own(index) if i is not None))
        return list(wanted)

    def to_look_up_after(self, stored: Mapping[str, str | None]) -> list[str]:
        """What to ask the store next: the identities of their own of the items alone with
        their key that `stored` (the answer to `to_look_up()`) does not hold unchanged. Such
        an item may have been stored while its key was shared."""
        wanted: list[str] = []
        for index in self._alone():
            if stored.get(self._plain[index], _MISSING) != self._hash(index):
                wanted.extend(i for i in self._own(index) if i is not None)
        return wanted

    def against(self, stored: Mapping[str, str | None]) -> ResolvedIdentities:
        """Each entry's identity given `stored` (identity → content hash, None for a tombstone,
        for the identities looked up), and the renames this calls for."""
        identities = list(self._plain)
        renames: list[tuple[str, str]] = []
        if stored:
            for index in self._alone():
                identities[index] = self._alone_identity(index, stored)
        for members in self._groups.values():
            self._resolve_group(members, stored, identities, renames)
        for index, first in self._copy_of.items():
            identities[index] = identities[first]
        if renames:
            after = dict(stored)
            for old, new in renames:
                after[new] = after.pop(old)
            stored = after
        return ResolvedIdentities(tuple(identities), tuple(renames), stored)

    def _alone_identity(self, index: int, stored: Mapping[str, str | None]) -> str:
        plain, own_hash = self._plain[index], self._hash(index)
        if stored.get(plain, _MISSING) == own_hash:
            return plain  # the usual case: stored, unchanged
        own = [identity for identity in self._own(index) if identity is not None]
        for identity in own:
            if stored.get(identity, _MISSING) == own_hash:
                return identity  # stored while its key was shared
        for identity in own:
            if identity in stored:
                return identity  # changed since (its link kept), or purged
        return plain  # new, or a change of the entry stored under its key alone

    def _resolve_group(
        self,
        members: list[int],
        stored: Mapping[str, str | None],
        identities: list[str],
        renames: list[tuple[str, str]],
    ) -> None:
        # A link names an item only when no other item of the document has it too: several
        # items with one link (the site's address again) are told apart by their content only.
        own = {index: self._own(index) for index in members}
        links = Counter(by_link for by_link, _ in own.values())
        named = {
            index: [by_content] if by_link is None or links[by_link] > 1 else [by_link, by_content]
            for index, (by_link, by_content) in own.items()
        }
        taken: set[str] = set()

        def pick(
            index: int, names: Iterable[str | None], usable: Callable[[int, str], bool]
        ) -> bool:
            for identity in names:
                if identity is not None and identity not in taken and usable(index, identity):
                    identities[index] = identity
                    taken.add(identity)
                    return True
            return False

        def unchanged(index: int, identity: str) -> bool:
            return stored.get(identity) == self._hash(index)

        def known(index: int, identity: str) -> bool:
            return identity in stored

        def free(index: int, identity: str) -> bool:
            return identity not in stored

        # Unchanged items first, so that a changed one never takes an unchanged one's row.
        left = [i for i in members if not pick(i, own[i], unchanged)]
        # The entry stored while it was alone with this key, if it is still here unchanged.
        plain = self._plain[members[0]]
        alone_hash = stored.get(plain)
        was_alone = next((i for i in left if self._hash(i) == alone_hash), None)
        # Changed items (under their link), and purged ones (which stay purged).
        left = [i for i in left if i == was_alone or not pick(i, named[i], known)]
        # New items: the first of their names that nothing holds. Their content hashes tell
        # them apart, so the last is always free, unless stored: then it was purged.
        for index in left:
            if not pick(index, named[index], free):
                identities[index] = named[index][-1]
        if alone_hash is not None:  # an entry, not a tombstone or nothing
            if was_alone is not None and identities[was_alone] not in stored:
                renames.append((plain, identities[was_alone]))
            else:
                # Its item is gone or changed: a name no item will ever have again.
                renames.append((plain, _digest("retired", plain, alone_hash)))


def entry_identities(
    entries: Sequence[ParsedEntry], hashes: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The identity of each entry of one document, in the same order, with nothing stored:
    `Identities(entries).first`."""
    return Identities(entries, hashes).first


_CONTENT_PART = _json_utf8("content")


def _json_list(items: Iterable[str]) -> str:
    """json.dumps(list, ensure_ascii=False) of a list whose items are given in JSON already:
    the JSON of a list of strings without a new JSONEncoder for each (json.dumps makes one
    whenever an argument is not the default)."""
    return "[" + ", ".join(items) + "]"


def content_hash(entry: ParsedEntry) -> str:
    """A hash of what a reader sees of the entry; its dates are left out on purpose.

    Feeds that rewrite every `updated` or `lastBuildDate` on each build would otherwise
    look changed at every fetch. Categories are a set: their order does not matter. The
    thumbnail is left out too: a new still is no news, and entries stored before thumbnails
    were kept would all have looked changed once.
    """
    enclosures = _json_list(
        _json_list(
            map(encode_basestring, (e.url, e.mime_type, "" if e.length is None else str(e.length)))
        )
        for e in entry.enclosures
    )
    content = _json_utf8(entry.content)
    # Many feeds give one text as both (RSS with a description only): escape it once.
    summary = content if entry.summary == entry.content else _json_utf8(entry.summary)
    return _digest_json(
        [
            _CONTENT_PART,
            _json_utf8(entry.title),
            _json_utf8(entry.link or ""),
            content,
            summary,
            _json_utf8(entry.author),
            _json_utf8(enclosures),
            _json_utf8(_json_list(encode_basestring(c) for c in sorted(entry.categories))),
        ]
    )


# Which entries to store


@dataclass(frozen=True, slots=True)
class EntryDecision:
    """An entry to write: a new one, or a new version of one already stored."""

    identity: str
    content_hash: str
    kind: Literal["new", "updated"]
    entry: ParsedEntry  # with its dates fixed (see `fix_dates`)
    # True when the feed gave no usable date and `published` is the time we first saw the entry
    # (less its place in the document, in microseconds: see `fix_dates`).
    # For an update, the store should then keep the published date it already has.
    published_is_first_seen: bool = False


def _as_utc(moment: datetime) -> datetime:
    # types.py promises aware datetimes; a naive one slipping through would make every
    # comparison below raise, so it is read as UTC rather than trusted to never happen.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _usable(moment: datetime | None, now: datetime) -> datetime | None:
    """`moment` in UTC, or None when it says nothing: missing, a placeholder, or in the future."""
    if moment is None:
        return None
    moment = _as_utc(moment)
    if moment < PLACEHOLDER_BEFORE or moment > now + FUTURE_TOLERANCE:
        return None
    return moment


def fix_dates(entry: ParsedEntry, *, now: datetime, position: int = 0) -> tuple[ParsedEntry, bool]:
    """`entry` with dates a list can be sorted by, and whether `published` is a guess.

    A `published` date that is missing, a placeholder (before PLACEHOLDER_BEFORE) or further in
    the future than FUTURE_TOLERANCE is taken from `updated` (Atom only requires the latter),
    else it is `now`: first seen, and a guess, which an update of the entry keeps rather than
    replaces with the time of that later fetch (the entry would jump to the top of the list
    at every change). An `updated` date in the future becomes `now`; a placeholder, None.

    `position` is the entry's place in its document: a guessed date is `position`
    microseconds before `now`. Feeds list their newest entry first, and the entries a fetch
    finds undated, all first seen at once, keep that order in a list sorted by date (on one
    date, the tie was broken by the order they were stored in: the oldest on top).
    """
    now = _as_utc(now)
    updated = _usable(entry.updated, now)
    published = _usable(entry.published, now) or updated
    guessed = published is None
    published = published or now - timedelta(microseconds=position)
    if updated is None and entry.updated is not None and _as_utc(entry.updated) > now:
        updated = now
    if published is entry.published and updated is entry.updated:
        return entry, guessed  # the usual case, dates already right: no copy of the entry
    return dataclasses.replace(entry, published=published, updated=updated), guessed


def decide_entries(
    entries: Sequence[ParsedEntry],
    stored: Mapping[str, str | None],
    *,
    now: datetime,
    identities: Sequence[str] | None = None,
    hashes: Sequence[str] | None = None,
) -> list[EntryDecision]:
    """The entries of one fetched document that must be written, in document order.

    `stored` maps the identity of each entry the store has for this feed to its content hash,
    or to None for a tombstone: an entry purged on purpose, which must never come back.
    Unchanged and tombstoned entries are left out, and so are exact copies of an entry listed
    before them. `identities` and `hashes`, when given, are the entries' identities resolved
    against the store (`Identities.against(…)`, with `stored` the mapping it gives back) and
    each entry's `content_hash`, computed beforehand (the refresh computes them beside the
    parser, off the network loop). Without `identities`: `entry_identities(entries)`, right
    for a document whose entries were never stored under other identities.
    """
    _check_aware(now)
    if hashes is None:
        hashes = [content_hash(entry) for entry in entries]
    if identities is None:
        identities = entry_identities(entries, hashes)
    decisions = []
    decided: set[str] = set()
    for position, (identity, new_hash, entry) in enumerate(
        zip(identities, hashes, entries, strict=True)
    ):
        if identity in stored:
            old_hash = stored[identity]
            if old_hash is None or old_hash == new_hash:
                continue
            kind: Literal["new", "updated"] = "updated"
        else:
            kind = "new"
        if identity in decided:
            continue  # an exact copy of an entry listed before
        decided.add(identity)
        fixed, guessed = fix_dates(entry, now=now, position=position)
        decisions.append(EntryDecision(identity, new_hash, kind, fixed, guessed))
    return decisions


# When to fetch again


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    min_interval: timedelta = timedelta(minutes=15)
    max_interval: timedelta = timedelta(hours=24)
    # A feed with no rhythm to read yet (fewer than two dated entries).
    default_interval: timedelta = timedelta(hours=1)
    error_base: timedelta = timedelta(minutes=15)
    error_cap: timedelta = timedelta(hours=24)
    # The most a server's own "not before" (Cache-Control, Expires, ttl, Retry-After) can
    # delay us: a misconfigured "max-age=31536000" must not silence a feed for a year.
    server_delay_cap: timedelta = timedelta(days=7)
    # How many of the newest entries make up the feed's current rhythm.
    rhythm_window: int = 20
    # Up to this share of the interval is added, derived from `jitter_key`, so that feeds
    # added together (an OPML import) do not stay due together forever.
    jitter_ratio: float = 0.1
    manual_refresh_gap: timedelta = timedelta(minutes=1)


def _check_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")


def feed_rhythm(
    now: datetime, entry_times: Sequence[datetime], config: ScheduleConfig
) -> timedelta:
    """How often this feed seems to publish, slowed down once it has gone quiet.

    Read from its entries' dates alone: before jitter, bounds and whatever the server asked.
    `next_fetch_at` starts from it, and a refresh keeps it for the feed's next 304s
    (`FeedUpdate.interval_minutes`). With no usable date: `config.default_interval`.
    """
    _check_aware(now)
    now = _as_utc(now)
    times = sorted(
        {t for t in map(_as_utc, entry_times) if PLACEHOLDER_BEFORE <= t <= now + FUTURE_TOLERANCE}
    )
    times = times[-config.rhythm_window :]
    if not times:
        return config.default_interval
    # A feed silent for longer than its usual gap is probably slowing down or dead: waiting
    # half of the silence keeps a dead feed near max_interval without missing its return long.
    silence = (now - times[-1]) / 2
    if len(times) < 2:
        return max(config.default_interval, silence)
    gaps = sorted(later - earlier for earlier, later in itertools.pairwise(times))
    middle = len(gaps) // 2
    median = gaps[middle] if len(gaps) % 2 else (gaps[middle - 1] + gaps[middle]) / 2
    return max(median, silence)


def _jitter(interval: timedelta, key: str | None, ratio: float) -> timedelta:
    if not key or ratio <= 0:
        return timedelta(0)
    # A fraction in [0, 1) that depends on the key only, never on a random source or the clock.
    fraction = int(hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8], 16)
    return interval * ratio * (fraction / 0x1_0000_0000)


def error_backoff(error_count: int, config: ScheduleConfig) -> timedelta:
    """The wait after `error_count` failures in a row: base, 2·base, 4·base… up to the cap."""
    if error_count < 1:
        return timedelta(0)
    # Doubling past the cap is pointless, and timedelta overflows not far beyond it.
    factor: int = 1 << min(error_count - 1, 20)
    return min(config.error_base * factor, config.error_cap)


def next_fetch_at(
    *,
    now: datetime,
    entry_times: Sequence[datetime],
    ttl_minutes: int | None,
    not_before: datetime | None,
    retry_after: datetime | None,
    error_count: int,
    config: ScheduleConfig,
    jitter_key: str | None = None,
    rhythm: timedelta | None = None,
) -> datetime:
    """When this feed should be fetched next.

    Healthy feed: its own rhythm (`feed_rhythm`: the median gap between its newest entries'
    dates, longer if it has gone quiet; or `rhythm` when given, found at an earlier fetch),
    plus a little jitter, bounded to [min_interval, max_interval]. After failures: an
    exponential back-off instead. Either way, never before what the server asked for
    (Cache-Control / Expires as `not_before`, RSS ttl, Retry-After), up to server_delay_cap.
    """
    _check_aware(now)
    now = _as_utc(now)
    if error_count >= 1:
        # The floor holds after errors too: it is the instance's "never more often than", or a
        # follower's, or a WebSub feed's slow safety net, and a failing feed is no reason to
        # ask it more often than a healthy one.
        wait = max(error_backoff(error_count, config), config.min_interval)
    else:
        if rhythm is None:
            rhythm = feed_rhythm(now, entry_times, config)
        wait = rhythm + _jitter(rhythm, jitter_key, config.jitter_ratio)
        wait = min(max(wait, config.min_interval), config.max_interval)
    earliest = [now + wait]
    if ttl_minutes is not None and ttl_minutes > 0:
        # The feed's own number: one past the cap is as good as any larger, and a larger one
        # (a <ttl> of twenty digits) would overflow timedelta or datetime and end the refresh.
        cap_minutes = config.server_delay_cap // timedelta(minutes=1) + 1
        earliest.append(now + timedelta(minutes=min(ttl_minutes, cap_minutes)))
    earliest.extend(_as_utc(t) for t in (not_before, retry_after) if t is not None)
    latest_allowed = now + max(wait, config.server_delay_cap)
    return min(max(earliest), latest_allowed)


def manual_refresh_allowed(
    *, last_fetch: datetime | None, now: datetime, config: ScheduleConfig
) -> bool:
    """Whether a person may ask for this feed now: at most one manual fetch per gap.

    A `last_fetch` in the future (a worker's clock running ahead) does not block anyone.
    """
    if last_fetch is None:
        return True
    elapsed = _as_utc(now) - _as_utc(last_fetch)
    return elapsed < timedelta(0) or elapsed >= config.manual_refresh_gap
