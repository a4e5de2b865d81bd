from __future__ import annotations

from liseuse.pipeline.refresh import FeedToRefresh
from liseuse.pipeline.refresh import interleave_by_host


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
