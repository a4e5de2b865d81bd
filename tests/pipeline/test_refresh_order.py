"""In which order a pass starts its feeds: round-robin over their hosts, so that one site's
feeds (often imported together) do not queue behind each other while other sites sit idle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime

from liseuse.pipeline.decide import ScheduleConfig
from liseuse.pipeline.favicon import Icon
from liseuse.pipeline.refresh import FeedToRefresh
from liseuse.pipeline.refresh import FeedUpdate
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
        self, url: str, *, max_bytes: int | None = None, accept: str = "*/*"
    ) -> FetchResult:
        raise AssertionError("no icon lookup after an error")


class _ErrorsOnlyStore:
    def stored_hashes(self, feed_id: int, identities: Sequence[str]) -> Mapping[str, str | None]:
        return {}

    def save_update(self, update: FeedUpdate) -> int:
        raise AssertionError("no feed parsed")

    def save_not_modified(
        self, feed_id: int, *, fetched_at: datetime, next_fetch_at: datetime, result: FetchResult
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
