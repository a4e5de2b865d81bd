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


def _identity_key(entry: ParsedEntry) -> tuple[str, ...]:
    guid = (entry.guid or "").strip()
    if guid:
        return ("guid", guid)
    link = (entry.link or "").strip()
    if link:
        return ("link", link)
    return ("text", entry.title, entry.content or entry.summary)


def entry_identities(entries: Sequence[ParsedEntry]) -> list[str]:
    """A stable identity for each entry of one document, in the same order.

    From the guid, else the link, else the title and content. When several entries share
    a guid (or link), that guid names none of them: each is told apart by its content, and
    exact copies are numbered in document order. Parsing the same document again gives the
    same identities, and no entry is lost to a publisher's copy-paste.

    Not "the first keeps the plain identity": in a feed whose every item has one guid (the
    site's address, say), the first is the newest, so each new post took the identity of the
    previous newest and overwrote its row, read flag, star and labels included.
    """
    keys = [_identity_key(entry) for entry in entries]
    shared = {key for key, count in Counter(keys).items() if count > 1}
    seen_copies: Counter[tuple[str, ...]] = Counter()
    identities = []
    for entry, key in zip(entries, keys, strict=True):
        if key not in shared:
            identities.append(_digest("entry", *key))
            continue
        copy_key = (*key, content_hash(entry))
        seen_copies[copy_key] += 1
        identities.append(_digest("repeat", *copy_key, str(seen_copies[copy_key])))
    return identities


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
    # True when the feed gave no usable date and `published` is the time we first saw the entry.
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


def fix_dates(entry: ParsedEntry, *, now: datetime) -> tuple[ParsedEntry, bool]:
    """`entry` with dates a list can be sorted by, and whether `published` is a guess.

    A `published` date that is missing, a placeholder (before PLACEHOLDER_BEFORE) or further in
    the future than FUTURE_TOLERANCE is taken from `updated` (Atom only requires the latter),
    else it is `now`: first seen, and a guess, which an update of the entry keeps rather than
    replaces with the time of that later fetch (the entry would jump to the top of the list
    at every change). An `updated` date in the future becomes `now`; a placeholder, None.
    """
    now = _as_utc(now)
    updated = _usable(entry.updated, now)
    published = _usable(entry.published, now) or updated
    guessed = published is None
    published = published or now
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
    Unchanged and tombstoned entries are left out. `identities` and `hashes`, when given, are
    `entry_identities(entries)` and each entry's `content_hash`, computed beforehand (the
    refresh computes them beside the parser, off the network loop).
    """
    _check_aware(now)
    if identities is None:
        identities = entry_identities(entries)
    if hashes is None:
        hashes = [content_hash(entry) for entry in entries]
    decisions = []
    for identity, new_hash, entry in zip(identities, hashes, entries, strict=True):
        if identity in stored:
            old_hash = stored[identity]
            if old_hash is None or old_hash == new_hash:
                continue
            kind: Literal["new", "updated"] = "updated"
        else:
            kind = "new"
        fixed, guessed = fix_dates(entry, now=now)
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


def _rhythm(now: datetime, entry_times: Sequence[datetime], config: ScheduleConfig) -> timedelta:
    """How often this feed seems to publish, slowed down once it has gone quiet."""
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
) -> datetime:
    """When this feed should be fetched next.

    Healthy feed: its own rhythm (the median gap between its newest entries' dates, longer if it
    has gone quiet), plus a little jitter, bounded to [min_interval, max_interval]. After
    failures: an exponential back-off instead. Either way, never before what the server asked
    for (Cache-Control / Expires as `not_before`, RSS ttl, Retry-After), up to server_delay_cap.
    """
    _check_aware(now)
    now = _as_utc(now)
    if error_count >= 1:
        # The floor holds after errors too: it is the instance's "never more often than", or a
        # follower's, or a WebSub feed's slow safety net, and a failing feed is no reason to
        # ask it more often than a healthy one.
        wait = max(error_backoff(error_count, config), config.min_interval)
    else:
        rhythm = _rhythm(now, entry_times, config)
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
