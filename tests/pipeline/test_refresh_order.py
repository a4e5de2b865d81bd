"""In which order a pass starts its feeds: round-robin over their hosts, so that one site's
feeds (often imported together) do not queue behind each other while other sites sit idle;
and one feed whose write fails never ends the pass of the others."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime

import pytest

from liseuse.pipeline.decide import ScheduleConfig
from liseuse.pipeline.favicon import Icon
from liseuse.pipeline.refresh import FeedToRefresh
from liseuse.pipeline.refresh import FeedUpdate
from liseuse.pipeline.refresh import RefreshSummary
from liseuse.pipeline.refresh import interleave_by_host
from liseuse.pipeline.refresh import refresh_feeds
from liseuse.pipeline.types import FetchError
from liseuse.pipeline.types import FetchRequest
from liseuse.pipeline.types import FetchResult


def test_feeds_start_in_round_robin_order_of_their_hosts() -> None:
    urls = [
        "https://a.example/1",
        "https://a.example/2",
        "https://a.example/3",
        "https://b.example/1",
        "http://c.example/1",
        "https://b.example/2",
    ]
    feeds = [FeedToRefresh(id=n, url=url) for n, url in enumerate(urls)]
    ordered = [f.url for f in interleave_by_host(feeds)]
    assert ordered == [
        "https://a.example/1",
        "https://b.example/1",
        "http://c.example/1",
        "https://a.example/2",
        "https://b.example/2",
        "https://a.example/3",
    ]
    assert interleave_by_host([]) == []


class _RecordingFetcher:
    """Answers every feed with an error, noting the order in which they were asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def fetch_feed(self, request: FetchRequest) -> FetchResult:
        self.asked.append(request.url)
        raise FetchError("HTTP 500 Internal Server Error", status=500)

    async def fetch(
        self, url: str, *, max_bytes: int | None = None, accept: str = "*/*", partial: bool = False
    ) -> FetchResult:
        raise AssertionError("no icon lookup after an error")


class _ErrorsOnlyStore:
    def stored_hashes(self, feed_id: int, identities: Sequence[str]) -> Mapping[str, str | None]:
        return {}

    def save_update(self, update: FeedUpdate) -> int:
        raise AssertionError("no feed parsed")

    def save_not_modified(
        self,
        feed_id: int,
        *,
        fetched_at: datetime,
        next_fetch_at: datetime,
        result: FetchResult,
        redirect_host: str = "",
    ) -> None:
        raise AssertionError("no 304")

    def save_error(self, feed_id: int, **fields: object) -> None:
        pass

    def save_icon(self, feed_id: int, icon: Icon | None, *, checked_at: datetime) -> None:
        raise AssertionError("no icon lookup after an error")

    def write_together(self, calls: Sequence[Callable[[], object]]) -> list[object]:
        return [call() for call in calls]


def test_a_pass_starts_its_feeds_in_that_order() -> None:
    # With one fetch at a time, the order of the fetches is the order in which the feeds start.
    # asyncio.as_completed, given the coroutines, would start them in the order of a set.
    hosts = ["a", "a", "a", "a", "b", "b", "b", "c", "c", "d", "e", "e"]
    feeds = [FeedToRefresh(id=n, url=f"https://{h}.example/{n}") for n, h in enumerate(hosts)]
    fetcher = _RecordingFetcher()

    async def run() -> None:
        with ThreadPoolExecutor(max_workers=1) as store_thread:
            summary = await refresh_feeds(
                feeds,
                fetcher=fetcher,
                store=_ErrorsOnlyStore(),
                store_executor=store_thread,
                now=lambda: datetime.now(UTC),
                schedule=ScheduleConfig(),
                max_in_flight=1,
            )
        assert summary.count("error") == len(feeds)

    asyncio.run(run())
    assert fetcher.asked == [f.url for f in interleave_by_host(feeds)]


class _NotModifiedFetcher:
    async def fetch_feed(self, request: FetchRequest) -> FetchResult:
        return FetchResult(url=request.url, status=304, body=b"")

    async def fetch(
        self, url: str, *, max_bytes: int | None = None, accept: str = "*/*", partial: bool = False
    ) -> FetchResult:
        raise AssertionError("no icon lookup after a 304")


class _OneWriteFailsStore(_ErrorsOnlyStore):
    """The database refuses the writes of feed 1 (locked past its time-out, say): its 304's,
    and with `errors_too` the error noted in its place."""

    def __init__(self, *, errors_too: bool) -> None:
        self.errors_too = errors_too
        self.saved: list[int] = []
        self.errors: list[int] = []

    def save_not_modified(
        self,
        feed_id: int,
        *,
        fetched_at: datetime,
        next_fetch_at: datetime,
        result: FetchResult,
        redirect_host: str = "",
    ) -> None:
        if feed_id == 1:
            raise RuntimeError("database is locked")
        self.saved.append(feed_id)

    def save_error(self, feed_id: int, **fields: object) -> None:
        if self.errors_too:
            raise RuntimeError("database is locked")
        self.errors.append(feed_id)

    def write_together(self, calls: Sequence[Callable[[], object]]) -> list[object]:
        # As the protocol says: each write isolated, a failure returned in its place.
        results: list[object] = []
        for call in calls:
            try:
                results.append(call())
            except Exception as exc:
                results.append(exc)
        return results


@pytest.mark.parametrize("errors_too", [False, True])
def test_a_write_that_fails_fails_its_feed_alone(errors_too: bool) -> None:
    feeds = [FeedToRefresh(id=n, url=f"https://h{n}.example/feed") for n in range(4)]
    store = _OneWriteFailsStore(errors_too=errors_too)

    async def run() -> RefreshSummary:
        with ThreadPoolExecutor(max_workers=1) as store_thread:
            return await refresh_feeds(
                feeds,
                fetcher=_NotModifiedFetcher(),
                store=store,
                store_executor=store_thread,
                now=lambda: datetime.now(UTC),
                schedule=ScheduleConfig(),
            )

    summary = asyncio.run(run())
    outcomes = {r.feed_id: r.outcome for r in summary.reports}
    assert outcomes == {0: "not-modified", 1: "error", 2: "not-modified", 3: "not-modified"}
    assert sorted(store.saved) == [0, 2, 3]
    # Noted as an error, so that it backs off, when the database takes that write.
    assert store.errors == ([] if errors_too else [1])
