"""The one orchestrator: refresh a batch of feeds, top to bottom.

    for each feed, concurrently (the fetcher bounds the concurrency, globally and per host):
        fetch  ─ 304 ───────────────────────────────→ store.save_not_modified
           │  ─ error ─────────────────────────────→ store.save_error (backs off)
           └→ parse + sanitize (CPU, on the network loop)
                  └→ store.stored_hashes (stored_for) → decide → store.save_update

The store is passed in, shaped by the `Store` protocol, so that this module imports no ORM and
tests drive it with fakes. Store calls run on one thread of their own (`store_executor`): the
database sees one writer, and the network loop never waits on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import Protocol
from typing import TypeVar
from urllib.parse import urlsplit

from liseuse.pipeline import reasons
from liseuse.pipeline.decide import EntryDecision
from liseuse.pipeline.decide import Identities
from liseuse.pipeline.decide import ScheduleConfig
from liseuse.pipeline.decide import content_hash
from liseuse.pipeline.decide import decide_entries
from liseuse.pipeline.decide import feed_rhythm
from liseuse.pipeline.decide import next_fetch_at
from liseuse.pipeline.favicon import Icon
from liseuse.pipeline.favicon import IconSearch
from liseuse.pipeline.parse import parse_feed
from liseuse.pipeline.sanitize import sanitize_feed
from liseuse.pipeline.types import FetchError
from liseuse.pipeline.types import FetchRequest
from liseuse.pipeline.types import FetchResult
from liseuse.pipeline.types import ParsedFeed
from liseuse.pipeline.types import PipelineError
from liseuse.pipeline.urls import host_of

log = logging.getLogger("liseuse.refresh")

# Writes of this many feeds at most share one transaction: few commits, short lock holds.
MAX_WRITES_TOGETHER = 50

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FeedToRefresh:
    """What the store tells the pipeline about a feed it claimed."""

    id: int
    url: str
    etag: str | None = None
    last_modified: str | None = None
    error_count: int = 0
    # The followers' floor on the fetch interval, in minutes (0: none).
    refresh_floor_minutes: int = 0
    # The feed's rhythm found at its last successful parse (`FeedUpdate.interval_minutes`),
    # which a 304 does not give anew.
    interval_minutes: int | None = None
    ttl_minutes: int | None = None
    # No icon yet, and none looked for lately: look for one after a successful fetch.
    wants_icon: bool = False
    # False when the store holds no entry nor tombstone of this feed (its first fetch): then
    # there is nothing to compare with, and the store is not asked.
    has_stored_entries: bool = True
    # The other host its URL redirected to at its last answer ("" if none): a batch keeps the
    # feed with that host's feeds, for the per-host limit (`worker.split_by_host`).
    redirect_host: str = ""


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """Everything the store writes after a successful fetch and parse of one feed."""

    feed_id: int
    fetched_at: datetime
    feed: ParsedFeed  # sanitized; `entries` is what the document listed
    decisions: tuple[EntryDecision, ...]  # only new and changed entries
    identities: tuple[str, ...]  # every entry the document lists, for retention
    etag: str | None
    last_modified: str | None
    permanent_url: str | None
    next_fetch_at: datetime
    # The feed's rhythm as read from its entries (`decide.feed_rhythm`), in minutes: before
    # jitter, bounds and the server's hints, which belong to one answer. The next 304s start
    # from it; a delay kept with this answer's hint in it would hold every later 304 to that.
    interval_minutes: int
    # (identity stored, identity it takes), done before the decisions (`Identities.against`).
    renames: tuple[tuple[str, str], ...] = ()
    # The host that answered when the feed's URL redirected to another ("" if none): the
    # store keeps it, and claims keep the feed away from that host's worker too.
    redirect_host: str = ""


def _redirect_host(feed: FeedToRefresh, result: FetchResult) -> str:
    """The host that answered, when the feed's URL led to another one; else ""."""
    answered = host_of(result.url)
    return "" if answered == host_of(feed.url) else answered


class Store(Protocol):
    def stored_hashes(self, feed_id: int, identities: Sequence[str]) -> Mapping[str, str | None]:
        """identity → stored content hash, or None for a tombstone, for those already known."""

    def save_update(self, update: FeedUpdate) -> int:
        """Write entries, states and feed metadata in one transaction; returns new entries."""

    def save_not_modified(
        self,
        feed_id: int,
        *,
        fetched_at: datetime,
        next_fetch_at: datetime,
        result: FetchResult,
        redirect_host: str = "",
    ) -> None: ...

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
        """Keep the failure; `retry_after` is the time the server asked not to be asked again
        before (429 / 503 with Retry-After, within the schedule's cap), None if it did not."""

    def save_icon(self, feed_id: int, icon: Icon | None, *, checked_at: datetime) -> None:
        """Keep the feed's icon (None: none found; look again some days later)."""

    def write_together(self, calls: Sequence[Callable[[], object]]) -> list[object]:
        """Run these writes in one transaction, each isolated: the result of each call, or the
        exception it raised (its own changes undone, the others kept)."""


class Fetcher(Protocol):
    async def fetch_feed(self, request: FetchRequest) -> FetchResult: ...

    async def fetch(
        self, url: str, *, max_bytes: int | None = None, accept: str = "*/*", partial: bool = False
    ) -> FetchResult: ...


@dataclass(frozen=True, slots=True)
class FeedReport:
    feed_id: int
    url: str
    outcome: str  # "updated", "not-modified", "error"
    new_entries: int = 0
    error: str = ""
    duration_ms: int = 0


@dataclass
class RefreshSummary:
    reports: list[FeedReport] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.reports if r.outcome == outcome)

    @property
    def new_entries(self) -> int:
        return sum(r.new_entries for r in self.reports)

    def describe(self) -> str:
        return (
            f"refreshed {len(self.reports)} feed(s) in {self.seconds:.1f} s: "
            f"{self.count('updated')} fetched, {self.count('not-modified')} unchanged, "
            f"{self.count('error')} in error; {self.new_entries} new entries"
        )


@dataclass(frozen=True, slots=True)
class _Parsed:
    feed: ParsedFeed
    identities: Identities
    hashes: tuple[str, ...]


def interleave_by_host(feeds: Sequence[FeedToRefresh]) -> list[FeedToRefresh]:
    """The feeds in round-robin order of their hosts.

    Feeds start in this order as in-flight slots free up; a feed waiting for its host's
    politeness slot holds an in-flight slot meanwhile. In id order, the feeds of one site (often
    imported together) would queue behind each other while other sites sat idle.
    """
    by_host: dict[str, list[FeedToRefresh]] = {}
    for feed in feeds:
        by_host.setdefault(urlsplit(feed.url).hostname or "", []).append(feed)
    queues = list(by_host.values())
    ordered: list[FeedToRefresh] = []
    for depth in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[depth] for q in queues if depth < len(q))
    return ordered


def _home_page(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def schedule_of(feed: FeedToRefresh, schedule: ScheduleConfig) -> ScheduleConfig:
    """`schedule` with the feed's followers' floor on its interval, if they set one."""
    if feed.refresh_floor_minutes <= 0:
        return schedule
    floor = timedelta(minutes=feed.refresh_floor_minutes)
    return replace(schedule, min_interval=max(schedule.min_interval, floor))


def next_fetch_after_error(
    feed: FeedToRefresh,
    *,
    now: datetime,
    schedule: ScheduleConfig,
    retry_after: datetime | None = None,
) -> datetime:
    """When to fetch `feed` again after one more error: later with each error in a row."""
    return next_fetch_at(
        now=now,
        entry_times=(),
        ttl_minutes=feed.ttl_minutes,
        not_before=None,
        retry_after=retry_after,
        error_count=feed.error_count + 1,
        config=schedule_of(feed, schedule),
    )


def parse_and_sanitize(body: bytes, url: str, content_type: str | None) -> _Parsed:
    """The CPU part of a refresh for one feed: parse, sanitize, identities and content hashes."""
    parsed = sanitize_feed(parse_feed(body, url=url, content_type=content_type), feed_url=url)
    hashes = tuple(content_hash(entry) for entry in parsed.entries)
    return _Parsed(parsed, Identities(parsed.entries, hashes), hashes)


def stored_for(store: Store, feed_id: int, identities: Identities) -> Mapping[str, str | None]:
    """What the store holds of the identities a document's entries may have: one query, and a
    second, small one when the document has new or changed entries (`Identities`)."""
    stored = dict(store.stored_hashes(feed_id, identities.to_look_up()))
    more = identities.to_look_up_after(stored)
    if more:
        stored.update(store.stored_hashes(feed_id, more))
    return stored


async def refresh_feeds(
    feeds: Sequence[FeedToRefresh],
    *,
    fetcher: Fetcher,
    store: Store,
    store_executor: Executor,
    now: Callable[[], datetime],
    schedule: ScheduleConfig,
    on_report: Callable[[FeedReport], None] | None = None,
    on_reading: Callable[[int | None], object] | None = None,
    max_in_flight: int = 64,
    max_parsing: int = 8,
) -> RefreshSummary:
    """Refresh `feeds`; at most `max_in_flight` are being fetched or waiting after a fetch, and
    at most `max_parsing` are between parse and store.

    `on_reading` is told a feed's id before its body is parsed and sanitized, and None once
    that is done: a crash of the process in the parser (a C extension's bug, the memory
    killer) then names the feed it was reading to whoever watches the process
    (`feeds.worker`). One feed at a time is read, on the network loop. It must not raise: what
    it raised would count as the parser's failure.

    Parsing runs on the network loop itself. A thread of its own made a first refresh slower, not faster: it held the interpreter lock that the store thread
    needs back after every row SQLite writes, and the store is the part that cannot be shared
    (docs/benchmarks.md). More cores are used by more processes (`feeds.worker.refresh_split`).

    These bounds keep memory flat however many feeds a batch holds: fetched bodies wait for the
    parser in a bounded queue, parsed feeds wait for the database in a smaller one, and a
    pass of 304s (no body) is bounded by the network only.
    """
    loop = asyncio.get_running_loop()
    in_flight = asyncio.Semaphore(max_in_flight)
    parsing = asyncio.Semaphore(max_parsing)
    started = time.monotonic()
    icons = IconSearch(fetcher)

    async def in_store(call: Callable[[], T]) -> T:
        return await loop.run_in_executor(store_executor, call)

    # Writes wait in a queue while the store thread is busy, then go together in one
    # transaction (`Store.write_together`): one commit for many feeds instead of one each, and
    # a feed whose write fails still fails alone.
    queued: list[tuple[Callable[[], object], asyncio.Future[object]]] = []
    writer: asyncio.Task[None] | None = None

    async def drain_writes() -> None:
        while queued:
            batch = queued[:MAX_WRITES_TOGETHER]
            del queued[:MAX_WRITES_TOGETHER]
            calls = [call for call, _ in batch]
            try:
                results = await loop.run_in_executor(store_executor, store.write_together, calls)
            except Exception as exc:  # the transaction itself failed: each write fails
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def write(call: Callable[[], T]) -> T:
        nonlocal writer
        future: asyncio.Future[object] = loop.create_future()
        queued.append((call, future))
        if writer is None or writer.done():
            writer = loop.create_task(drain_writes())
        return await future  # type: ignore[return-value]

    def read(feed: FeedToRefresh, result: FetchResult) -> _Parsed:
        if on_reading is None:
            return parse_and_sanitize(result.body, result.url, result.content_type)
        on_reading(feed.id)
        try:
            return parse_and_sanitize(result.body, result.url, result.content_type)
        finally:
            on_reading(None)  # before any await: no other feed is read in between

    async def refresh_one(feed: FeedToRefresh) -> FeedReport:
        t0 = time.monotonic()
        config = schedule_of(feed, schedule)

        def elapsed() -> int:
            return int((time.monotonic() - t0) * 1000)

        async def failed(reason: str, *, gone: bool, retry_after: datetime | None) -> FeedReport:
            fetched_at = now()
            when = next_fetch_after_error(
                feed, now=fetched_at, schedule=schedule, retry_after=retry_after
            )
            # The server's own wait, as honoured (its cap included): "Refresh now" keeps to it.
            asked = min(retry_after, when) if retry_after is not None else None
            await write(
                lambda: store.save_error(
                    feed.id,
                    fetched_at=fetched_at,
                    reason=reason,
                    next_fetch_at=when,
                    gone=gone,
                    retry_after=asked,
                )
            )
            log.info(
                "feed failed", extra={"feed_id": feed.id, "feed_url": feed.url, "error": reason}
            )
            return FeedReport(feed.id, feed.url, "error", error=reason, duration_ms=elapsed())

        try:
            result = await fetcher.fetch_feed(FetchRequest(feed.url, feed.etag, feed.last_modified))
        except FetchError as exc:
            return await failed(exc.reason, gone=exc.gone, retry_after=exc.retry_after)

        if result.not_modified:
            fetched_at = now()
            when = next_fetch_at(
                now=fetched_at,
                entry_times=(),
                ttl_minutes=feed.ttl_minutes,
                not_before=result.not_before,
                retry_after=None,
                error_count=0,
                config=config,
                jitter_key=feed.url,
                # Nothing new to read the rhythm from: the one found last time.
                rhythm=timedelta(minutes=feed.interval_minutes) if feed.interval_minutes else None,
            )
            try:
                await write(
                    lambda: store.save_not_modified(
                        feed.id,
                        fetched_at=fetched_at,
                        next_fetch_at=when,
                        result=result,
                        redirect_host=_redirect_host(feed, result),
                    )
                )
            except Exception as exc:  # as for an update: this feed is marked, and backs off
                log.exception("could not store", extra={"feed_id": feed.id, "feed_url": feed.url})
                return await failed(
                    reasons.STORE_FAILED.format(error=type(exc).__name__),
                    gone=False,
                    retry_after=None,
                )
            return FeedReport(feed.id, feed.url, "not-modified", duration_ms=elapsed())

        # Parsed feeds wait for the store under this bound: memory holds at most `parsing`
        # of them, whatever the batch size and however slow the database.
        async with parsing:
            try:
                parsed = read(feed, result)
            except PipelineError as exc:
                return await failed(str(exc), gone=False, retry_after=None)
            except Exception as exc:  # a parser bug must mark this feed, never stop the batch
                log.exception("parser crashed", extra={"feed_id": feed.id, "feed_url": feed.url})
                return await failed(
                    reasons.PARSER_CRASHED.format(error=type(exc).__name__),
                    gone=False,
                    retry_after=None,
                )

            stored: Mapping[str, str | None] = {}
            if feed.has_stored_entries:
                stored = await in_store(lambda: stored_for(store, feed.id, parsed.identities))
            fetched_at = now()
            identified = parsed.identities.against(stored)
            decisions = decide_entries(
                parsed.feed.entries,
                identified.stored,
                now=fetched_at,
                identities=identified.identities,
                hashes=parsed.hashes,
            )
            entry_times = [e.published or e.updated for e in parsed.feed.entries]
            rhythm = feed_rhythm(fetched_at, [t for t in entry_times if t is not None], config)
            when = next_fetch_at(
                now=fetched_at,
                entry_times=(),
                ttl_minutes=parsed.feed.ttl_minutes,
                not_before=result.not_before,
                retry_after=None,
                error_count=0,
                config=config,
                jitter_key=feed.url,
                rhythm=rhythm,
            )
            update = FeedUpdate(
                feed_id=feed.id,
                fetched_at=fetched_at,
                feed=parsed.feed,
                decisions=tuple(decisions),
                identities=identified.identities,
                etag=result.etag,
                last_modified=result.last_modified,
                permanent_url=result.permanent_url,
                next_fetch_at=when,
                interval_minutes=max(1, int(rhythm.total_seconds() // 60)),
                renames=identified.renames,
                redirect_host=_redirect_host(feed, result),
            )
            try:
                new = await write(lambda: store.save_update(update))
            except Exception as exc:  # a database refusal must mark this feed, never stop the batch
                log.exception("could not store", extra={"feed_id": feed.id, "feed_url": feed.url})
                return await failed(
                    reasons.STORE_FAILED.format(error=type(exc).__name__),
                    gone=False,
                    retry_after=None,
                )
        if feed.wants_icon:
            # A feed that names no site: its own host's home page, where the icon usually is.
            site = parsed.feed.link or _home_page(feed.url)
            icon = await icons.find(site_url=site, icon_url=parsed.feed.icon_url)
            checked_at = now()
            try:
                await write(lambda: store.save_icon(feed.id, icon, checked_at=checked_at))
            except Exception:  # the entries are stored; the icon is looked for next time
                log.exception(
                    "could not store the icon", extra={"feed_id": feed.id, "feed_url": feed.url}
                )
        return FeedReport(feed.id, feed.url, "updated", new_entries=new, duration_ms=elapsed())

    async def bounded(feed: FeedToRefresh) -> FeedReport:
        t0 = time.monotonic()
        async with in_flight:
            try:
                return await refresh_one(feed)
            except Exception as exc:
                # The write of its error failed too (the database locked past its time-out,
                # gone), or a bug: this feed fails alone, unwritten; it keeps its lease until the
                # pass gives it back (or the lease ends). Raised, it ended the whole batch.
                log.exception("refresh failed", extra={"feed_id": feed.id, "feed_url": feed.url})
                return FeedReport(
                    feed.id,
                    feed.url,
                    "error",
                    error=reasons.STORE_FAILED.format(error=type(exc).__name__),
                    duration_ms=int((time.monotonic() - t0) * 1000),
                )

    summary = RefreshSummary()
    # Made here, in order: as_completed would make the tasks itself from a set, which starts
    # the feeds in no particular order, and the in-flight slots go to whoever asks first.
    tasks = [asyncio.ensure_future(bounded(feed)) for feed in interleave_by_host(feeds)]
    for next_done in asyncio.as_completed(tasks):
        report = await next_done
        summary.reports.append(report)
        if on_report is not None:
            on_report(report)
    summary.seconds = time.monotonic() - started
    return summary
