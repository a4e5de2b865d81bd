"""Deciding: entry identity and change detection, entry dates, fetch scheduling, manual refresh."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from liseuse.pipeline import decide
from liseuse.pipeline.decide import EntryDecision
from liseuse.pipeline.decide import ScheduleConfig
from liseuse.pipeline.decide import content_hash
from liseuse.pipeline.decide import decide_entries
from liseuse.pipeline.decide import entry_identities
from liseuse.pipeline.decide import feed_rhythm
from liseuse.pipeline.decide import manual_refresh_allowed
from liseuse.pipeline.decide import next_fetch_at
from liseuse.pipeline.types import ParsedEnclosure
from liseuse.pipeline.types import ParsedEntry

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = ScheduleConfig()


def entry(**fields: object) -> ParsedEntry:
    defaults: dict[str, object] = {"guid": "g1", "title": "T", "content": "<p>c</p>"}
    return ParsedEntry(**(defaults | fields))  # type: ignore[arg-type]


# Identity


def test_identity_comes_from_the_guid_first() -> None:
    a = entry(guid="g", link="https://e.com/1", title="A")
    b = entry(guid="g", link="https://e.com/2", title="B")
    assert entry_identities([a]) == entry_identities([b])


def test_identity_comes_from_the_link_when_there_is_no_guid() -> None:
    a = entry(guid=None, link="https://e.com/1", title="A")
    b = entry(guid="  ", link="https://e.com/1", title="B")
    c = entry(guid=None, link="https://e.com/2", title="A")
    assert entry_identities([a]) == entry_identities([b])
    assert entry_identities([a]) != entry_identities([c])


def test_identity_comes_from_title_and_content_without_guid_or_link() -> None:
    a = entry(guid=None, title="A", content="x")
    assert entry_identities([a]) == entry_identities([entry(guid=None, title="A", content="x")])
    assert entry_identities([a]) != entry_identities([entry(guid=None, title="A", content="y")])
    assert entry_identities([a]) != entry_identities([entry(guid=None, title="B", content="x")])


def test_a_guid_and_a_link_with_the_same_text_are_different_identities() -> None:
    by_guid = entry(guid="https://e.com/1", link=None)
    by_link = entry(guid=None, link="https://e.com/1")
    assert entry_identities([by_guid]) != entry_identities([by_link])


def test_identities_are_short_hex_strings() -> None:
    (identity,) = entry_identities([entry()])
    assert len(identity) == 32
    int(identity, 16)


def test_entries_sharing_a_guid_all_get_distinct_identities() -> None:
    entries = [entry(guid="dup", content=f"<p>{i}</p>") for i in range(3)]
    identities = entry_identities(entries)
    assert len(set(identities)) == 3


def test_exact_copies_in_one_document_are_one_entry() -> None:
    # A feed listing an item twice: FreshRSS and Miniflux keep one; two new unread copies of
    # an entry already read were what a person saw here.
    identities = entry_identities([entry(), entry(), entry()])
    assert len(set(identities)) == 1
    assert identities == entry_identities([entry()]) * 3
    decisions = decide_entries([entry(), entry(guid="g2"), entry()], {}, now=NOW)
    assert [d.entry.guid for d in decisions] == ["g1", "g2"]


def test_parsing_the_same_document_again_gives_the_same_identities() -> None:
    entries = [entry(guid="dup", content="a"), entry(guid="dup", content="b"), entry(), entry()]
    assert entry_identities(entries) == entry_identities(list(entries))


def test_a_new_post_on_top_of_a_feed_whose_posts_share_one_guid_is_new() -> None:
    # A generator that gives every item the site's address as guid, newest first. The newest
    # used to take the identity the previous newest was stored with: that entry's row was
    # overwritten with the new post (keeping the read flag, star and labels given to the old
    # one), and the old post came back as a new entry.
    def post(n: int) -> ParsedEntry:
        return entry(guid="https://e.com/", title=f"Post {n}", content=f"<p>{n}</p>")

    first = [post(2), post(1)]
    stored: dict[str, str | None] = {
        d.identity: d.content_hash for d in decide_entries(first, {}, now=NOW)
    }
    decisions = decide_entries([post(3), post(2), post(1)], stored, now=NOW)
    assert [(d.kind, d.entry.title) for d in decisions] == [("new", "Post 3")]


def test_a_guid_seen_once_keeps_its_identity_when_its_copies_go() -> None:
    alone = entry_identities([entry(guid="dup")])
    assert entry_identities([entry(guid="dup"), entry(guid="other")])[0] == alone[0]
    with_copy = entry_identities([entry(guid="dup"), entry(guid="dup", content="other")])
    assert alone[0] not in with_copy  # a shared guid names no entry by itself


# Content hash


def test_content_hash_ignores_dates() -> None:
    a = entry(published=NOW, updated=NOW)
    b = entry(published=NOW - timedelta(days=3), updated=NOW + timedelta(hours=1))
    assert content_hash(a) == content_hash(b)


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Other"},
        {"link": "https://e.com/other"},
        {"content": "<p>other</p>"},
        {"summary": "other"},
        {"author": "Someone"},
        {"categories": ("news",)},
        {"enclosures": (ParsedEnclosure("https://e.com/a.mp3", "audio/mpeg", 1),)},
    ],
)
def test_content_hash_changes_with_what_a_reader_sees(change: dict[str, object]) -> None:
    before = entry()
    assert content_hash(before) != content_hash(dataclasses.replace(before, **change))  # type: ignore[arg-type]


def test_content_hash_ignores_the_order_of_categories() -> None:
    assert content_hash(entry(categories=("a", "b"))) == content_hash(entry(categories=("b", "a")))


def test_content_hash_does_not_confuse_fields() -> None:
    assert content_hash(entry(title="ab", author="")) != content_hash(entry(title="a", author="b"))


# Which entries to store


def test_an_unknown_entry_is_new() -> None:
    (decision,) = decide_entries([entry()], {}, now=NOW)
    assert decision.kind == "new"
    assert decision.identity == entry_identities([entry()])[0]
    assert decision.content_hash == content_hash(entry())


def test_an_unchanged_entry_is_skipped() -> None:
    stored = {entry_identities([entry()])[0]: content_hash(entry())}
    assert decide_entries([entry()], stored, now=NOW) == []


def test_an_entry_whose_only_change_is_its_date_is_skipped() -> None:
    stored = {entry_identities([entry()])[0]: content_hash(entry())}
    bumped = entry(updated=NOW, published=NOW)
    assert decide_entries([bumped], stored, now=NOW) == []


def test_a_changed_entry_is_updated() -> None:
    stored = {entry_identities([entry()])[0]: content_hash(entry())}
    changed = entry(content="<p>fixed a typo</p>")
    (decision,) = decide_entries([changed], stored, now=NOW)
    assert decision.kind == "updated"
    assert decision.content_hash == content_hash(changed)


def test_a_tombstoned_entry_never_comes_back() -> None:
    stored: dict[str, str | None] = {entry_identities([entry()])[0]: None}
    assert decide_entries([entry(content="<p>even changed</p>")], stored, now=NOW) == []


def test_decisions_keep_the_document_order() -> None:
    entries = [entry(guid=str(i)) for i in range(5)]
    decisions = decide_entries(entries, {}, now=NOW)
    assert [d.entry.guid for d in decisions] == ["0", "1", "2", "3", "4"]


def test_a_decision_is_frozen() -> None:
    (decision,) = decide_entries([entry()], {}, now=NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.kind = "updated"  # type: ignore[misc]
    assert isinstance(decision, EntryDecision)


# Entry dates


def test_a_missing_published_date_becomes_now_first_seen() -> None:
    (decision,) = decide_entries([entry()], {}, now=NOW)
    assert decision.entry.published == NOW
    assert decision.published_is_first_seen


def test_undated_entries_first_seen_together_keep_the_document_order_newest_first() -> None:
    # Feeds list their newest entry first. All given the same first-seen time, the tie was
    # broken by the order they were stored in: the oldest came first in a newest-first list.
    dated = NOW - timedelta(days=1)
    entries = [entry(guid="newest"), entry(guid="dated", published=dated), entry(guid="oldest")]
    decisions = decide_entries(entries, {}, now=NOW)
    published = {d.entry.guid: d.entry.published or NOW.min for d in decisions}
    assert published["dated"] == dated  # a feed's own date is left as it is
    assert published["newest"] == NOW
    assert NOW - timedelta(seconds=1) < published["oldest"] < published["newest"]


def test_a_missing_published_date_is_taken_from_updated_when_there_is_one() -> None:
    updated = NOW - timedelta(days=2)
    (decision,) = decide_entries([entry(updated=updated)], {}, now=NOW)
    assert decision.entry.published == updated
    assert not decision.published_is_first_seen


def test_a_published_date_in_the_past_is_kept() -> None:
    published = NOW - timedelta(days=400)
    (decision,) = decide_entries([entry(published=published)], {}, now=NOW)
    assert decision.entry.published == published
    assert not decision.published_is_first_seen


def test_dates_far_in_the_future_are_clamped_to_now() -> None:
    future = NOW + timedelta(days=30)
    (decision,) = decide_entries([entry(published=future, updated=future)], {}, now=NOW)
    assert decision.entry.published == NOW
    assert decision.entry.updated == NOW


def test_dates_slightly_ahead_of_our_clock_are_tolerated() -> None:
    soon = NOW + timedelta(minutes=5)
    (decision,) = decide_entries([entry(published=soon)], {}, now=NOW)
    assert decision.entry.published == soon


def test_dates_are_given_in_utc() -> None:
    paris = datetime(2025, 3, 1, 9, 0, tzinfo=UTC).astimezone()
    (decision,) = decide_entries([entry(published=paris)], {}, now=NOW)
    assert decision.entry.published is not None
    assert decision.entry.published.tzinfo == UTC
    assert decision.entry.published == paris


def test_a_future_date_is_a_guess_that_a_changed_entry_does_not_renew() -> None:
    # An events feed dates each item with its event, weeks ahead. Clamped to the time it was
    # first seen, the date must stay that when the item changes later: as for an undated entry,
    # the store keeps the date it has, rather than moving the entry to the top again.
    future = NOW + timedelta(days=30)
    stored = {entry_identities([entry()])[0]: content_hash(entry())}
    changed = entry(content="<p>now with the venue</p>", published=future)
    (decision,) = decide_entries([changed], stored, now=NOW)
    assert decision.kind == "updated"
    assert decision.published_is_first_seen


def test_a_future_published_date_gives_way_to_a_sane_updated_one() -> None:
    posted = NOW - timedelta(days=1)
    (decision,) = decide_entries(
        [entry(published=NOW + timedelta(days=30), updated=posted)], {}, now=NOW
    )
    assert decision.entry.published == posted
    assert not decision.published_is_first_seen


@pytest.mark.parametrize(
    "placeholder",
    [
        datetime(1, 1, 1, tzinfo=UTC),  # Go's zero time, .NET's DateTime.MinValue
        datetime(1970, 1, 1, tzinfo=UTC),  # the Unix epoch, time 0
        datetime(1970, 1, 1, 1, 0, tzinfo=UTC),  # time 0 read in the wrong time zone
    ],
)
def test_a_placeholder_date_counts_as_no_date(placeholder: datetime) -> None:
    (decision,) = decide_entries([entry(published=placeholder, updated=placeholder)], {}, now=NOW)
    assert decision.entry.published == NOW
    assert decision.entry.updated is None
    assert decision.published_is_first_seen
    # The year 1 could not even be shown west of UTC: it would fall in the year 0.
    assert decision.entry.published.year > 1


def test_a_placeholder_published_date_gives_way_to_the_updated_one() -> None:
    posted = NOW - timedelta(days=3)
    (decision,) = decide_entries(
        [entry(published=datetime(1, 1, 1, tzinfo=UTC), updated=posted)], {}, now=NOW
    )
    assert decision.entry.published == posted


def test_an_old_but_real_date_is_kept() -> None:
    old = datetime(1999, 12, 31, 23, 0, tzinfo=UTC)
    (decision,) = decide_entries([entry(published=old)], {}, now=NOW)
    assert decision.entry.published == old


def test_deciding_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_entries([entry()], {}, now=NOW.replace(tzinfo=None))


# When to fetch again


def schedule(**overrides: object) -> datetime:
    arguments: dict[str, object] = {
        "now": NOW,
        "entry_times": [],
        "ttl_minutes": None,
        "not_before": None,
        "retry_after": None,
        "error_count": 0,
        "config": CONFIG,
    }
    return next_fetch_at(**(arguments | overrides))  # type: ignore[arg-type]


def every(gap: timedelta, count: int = 10, *, last: datetime = NOW) -> list[datetime]:
    return [last - gap * i for i in range(count)]


def test_a_feed_is_fetched_at_its_own_rhythm() -> None:
    assert schedule(entry_times=every(timedelta(hours=3))) == NOW + timedelta(hours=3)


def test_the_rhythm_is_the_median_gap_so_one_long_pause_does_not_count() -> None:
    times = [*every(timedelta(hours=2), 6), NOW - timedelta(days=30)]
    assert schedule(entry_times=times) == NOW + timedelta(hours=2)


def test_a_very_busy_feed_is_not_fetched_more_often_than_the_minimum() -> None:
    assert schedule(entry_times=every(timedelta(minutes=1))) == NOW + CONFIG.min_interval


def test_a_slow_feed_is_still_fetched_at_least_once_a_day() -> None:
    assert schedule(entry_times=every(timedelta(days=7))) == NOW + CONFIG.max_interval


def test_a_feed_that_went_quiet_is_fetched_less_often() -> None:
    hourly_until_yesterday = every(timedelta(hours=1), last=NOW - timedelta(hours=10))
    assert schedule(entry_times=hourly_until_yesterday) == NOW + timedelta(hours=5)


def test_a_known_rhythm_is_used_instead_of_entry_dates() -> None:
    # A 304 brings no entries: the rhythm found at the last parse is what the schedule uses.
    assert schedule(rhythm=timedelta(hours=3)) == NOW + timedelta(hours=3)
    assert schedule(rhythm=timedelta(days=9)) == NOW + CONFIG.max_interval


def test_the_rhythm_leaves_out_what_the_server_asked() -> None:
    times = every(timedelta(hours=3))
    assert feed_rhythm(NOW, times, CONFIG) == timedelta(hours=3)
    # The schedule honours the server's hint; the rhythm it starts from has none of it.
    hinted = schedule(entry_times=times, not_before=NOW + timedelta(days=1))
    assert hinted == NOW + timedelta(days=1)
    assert feed_rhythm(NOW, [], CONFIG) == CONFIG.default_interval


def test_a_feed_without_dated_entries_gets_the_default_interval() -> None:
    assert schedule(entry_times=[]) == NOW + CONFIG.default_interval


def test_entries_dated_in_the_future_do_not_set_the_rhythm() -> None:
    times = [*every(timedelta(hours=4)), NOW + timedelta(days=1), NOW + timedelta(days=2)]
    assert schedule(entry_times=times) == NOW + timedelta(hours=4)


def test_placeholder_dates_do_not_set_the_rhythm() -> None:
    # A generator that writes the year 1 for every entry: no rhythm to read, so the default
    # interval, not a day (the silence since the year 1 looked like a dead feed).
    zero = datetime(1, 1, 1, tzinfo=UTC)
    assert schedule(entry_times=[zero, zero, zero]) == NOW + CONFIG.default_interval
    assert schedule(entry_times=[*every(timedelta(hours=3)), zero]) == NOW + timedelta(hours=3)


def test_an_rss_ttl_of_any_length_gives_the_cap_not_an_overflow() -> None:
    for minutes in (10**10, 10**20):
        assert schedule(ttl_minutes=minutes) == NOW + CONFIG.server_delay_cap


def test_the_rss_ttl_is_honoured() -> None:
    assert schedule(entry_times=every(timedelta(minutes=1)), ttl_minutes=180) == (
        NOW + timedelta(hours=3)
    )


def test_a_ttl_shorter_than_the_rhythm_does_not_hurry_us() -> None:
    assert schedule(entry_times=every(timedelta(hours=3)), ttl_minutes=5) == NOW + timedelta(
        hours=3
    )


def test_cache_control_and_expires_are_honoured() -> None:
    later = NOW + timedelta(hours=6)
    assert schedule(entry_times=every(timedelta(hours=1)), not_before=later) == later


def test_retry_after_is_honoured() -> None:
    later = NOW + timedelta(hours=2)
    assert schedule(retry_after=later, error_count=1) == later


def test_a_server_cannot_delay_us_beyond_the_cap() -> None:
    next_year = NOW + timedelta(days=365)
    assert schedule(not_before=next_year) == NOW + CONFIG.server_delay_cap
    assert schedule(retry_after=next_year, error_count=1) == NOW + CONFIG.server_delay_cap
    assert schedule(ttl_minutes=10**9) == NOW + CONFIG.server_delay_cap


@pytest.mark.parametrize(
    ("errors", "wait"),
    [
        (1, timedelta(minutes=15)),
        (2, timedelta(minutes=30)),
        (3, timedelta(hours=1)),
        (5, timedelta(hours=4)),
        (7, timedelta(hours=16)),
        (8, timedelta(hours=24)),
        (1000, timedelta(hours=24)),
    ],
)
def test_errors_back_off_exponentially_up_to_the_cap(errors: int, wait: timedelta) -> None:
    assert schedule(entry_times=every(timedelta(minutes=1)), error_count=errors) == NOW + wait


def test_after_an_error_a_feed_is_still_never_fetched_more_often_than_the_minimum() -> None:
    # LISEUSE_REFRESH_MIN_MINUTES, a follower's floor or a WebSub feed's slow safety-net
    # polling: "never more often than this" (docs/configuration.md) holds after errors too.
    gentle = dataclasses.replace(CONFIG, min_interval=timedelta(hours=6))
    assert schedule(error_count=1, config=gentle) == NOW + timedelta(hours=6)
    assert schedule(error_count=3, config=gentle) == NOW + timedelta(hours=6)
    assert schedule(error_count=6, config=gentle) == NOW + timedelta(hours=8)
    weekly = dataclasses.replace(CONFIG, min_interval=timedelta(days=3))
    assert schedule(error_count=1000, config=weekly) == NOW + timedelta(days=3)


def test_jitter_is_deterministic_small_and_depends_on_the_key() -> None:
    times = every(timedelta(hours=3))
    base = NOW + timedelta(hours=3)
    a = schedule(entry_times=times, jitter_key="https://a.example/feed")
    b = schedule(entry_times=times, jitter_key="https://b.example/feed")
    assert a == schedule(entry_times=times, jitter_key="https://a.example/feed")
    assert a != b
    for moment in (a, b):
        assert base <= moment < base + timedelta(hours=3) * CONFIG.jitter_ratio


def test_jitter_never_pushes_past_the_maximum() -> None:
    moment = schedule(entry_times=every(timedelta(days=7)), jitter_key="k")
    assert moment == NOW + CONFIG.max_interval


def test_scheduling_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule(now=NOW.replace(tzinfo=None))


# Manual refresh


def test_a_feed_never_fetched_may_be_refreshed() -> None:
    assert manual_refresh_allowed(last_fetch=None, now=NOW, config=CONFIG)


def test_a_manual_refresh_right_after_a_fetch_is_refused() -> None:
    assert not manual_refresh_allowed(
        last_fetch=NOW - timedelta(seconds=20), now=NOW, config=CONFIG
    )


def test_a_manual_refresh_is_allowed_once_the_gap_has_passed() -> None:
    last = NOW - CONFIG.manual_refresh_gap
    assert manual_refresh_allowed(last_fetch=last, now=NOW, config=CONFIG)


def test_a_last_fetch_in_the_future_does_not_block_refreshing() -> None:
    assert manual_refresh_allowed(last_fetch=NOW + timedelta(hours=1), now=NOW, config=CONFIG)


# The bytes hashed: stored identities and content hashes depend on them never changing.


def _digest_as_first_written(*parts: str) -> str:
    data = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# Every character JSON escapes, non-ASCII text, a lone surrogate, characters beyond the BMP.
_TRICKY = [*'"\\\n\r\t\b\f\x00\x1f\x7fé—😀', "\ud800"]
_PART = st.text(
    alphabet=st.one_of(st.sampled_from(_TRICKY), st.characters(codec="utf-8")), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(_PART, min_size=1, max_size=4))
def test_the_digest_is_json_dumps_then_sha256(parts: list[str]) -> None:
    # Each part as it is and repeated past _LONG_PART, which takes the way around the encoder.
    long = [(part or "x") * (decide._LONG_PART // max(1, len(part)) + 1) for part in parts]
    for texts in (parts, long, [*parts, *long]):
        assert decide._digest(*texts) == _digest_as_first_written(*texts)


def _content_hash_as_first_written(e: ParsedEntry) -> str:
    enclosures = [
        [x.url, x.mime_type, "" if x.length is None else str(x.length)] for x in e.enclosures
    ]
    return _digest_as_first_written(
        "content",
        e.title,
        e.link or "",
        e.content,
        e.summary,
        e.author,
        json.dumps(enclosures, ensure_ascii=False),
        json.dumps(sorted(e.categories), ensure_ascii=False),
    )


_LONG_TEXT = st.builds(lambda part, times: part * times, _PART, st.integers(1, 100))
_ENCLOSURE = st.builds(ParsedEnclosure, _PART, _PART, st.one_of(st.none(), st.integers(0, 10**12)))


@settings(max_examples=200, deadline=None)
@given(
    title=_PART,
    link=st.one_of(st.none(), _PART),
    content=_LONG_TEXT,
    summary=st.one_of(st.none(), _LONG_TEXT),
    author=_PART,
    categories=st.lists(_PART, max_size=3),
    enclosures=st.lists(_ENCLOSURE, max_size=2),
)
def test_the_content_hash_is_as_first_written(
    title: str,
    link: str | None,
    content: str,
    summary: str | None,
    author: str,
    categories: list[str],
    enclosures: list[ParsedEnclosure],
) -> None:
    e = entry(
        title=title,
        link=link,
        content=content,
        summary=content if summary is None else summary,
        author=author,
        categories=tuple(categories),
        enclosures=tuple(enclosures),
    )
    assert content_hash(e) == _content_hash_as_first_written(e)


def test_the_content_hash_of_a_known_entry_has_not_changed() -> None:
    long_html = '<p class="x">Été — "quoted" \\ back</p>\n\t\r' * 20
    known = entry(
        title="Un titre",
        link="https://e.com/1",
        content=long_html,
        summary=long_html,
        author="Camille",
        categories=("b", "a"),
        enclosures=(ParsedEnclosure("https://e.com/a.mp3", "audio/mpeg", 1),),
    )
    expected = _digest_as_first_written(
        "content",
        "Un titre",
        "https://e.com/1",
        long_html,
        long_html,
        "Camille",
        '[["https://e.com/a.mp3", "audio/mpeg", "1"]]',
        '["a", "b"]',
    )
    assert content_hash(known) == expected
    assert content_hash(dataclasses.replace(known, summary="court")) == _digest_as_first_written(
        "content",
        "Un titre",
        "https://e.com/1",
        long_html,
        "court",
        "Camille",
        '[["https://e.com/a.mp3", "audio/mpeg", "1"]]',
        '["a", "b"]',
    )


def test_a_new_picture_alone_is_no_change() -> None:
    # Entries stored before pictures were kept must not all look changed once.
    entry = ParsedEntry(guid="1", title="T", content="<p>x</p>")
    assert content_hash(entry) == content_hash(
        dataclasses.replace(entry, thumbnail="https://img.example/1.jpg")
    )
