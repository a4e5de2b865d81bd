"""The fetcher asked for a part of a body (the media proxy's Range requests), against a real
local server: only the part is held, whatever the server does, and a 206 nobody asked for is
never taken for a whole body."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import pytest

from liseuse.pipeline.fetch import FetchConfig
from liseuse.pipeline.fetch import Fetcher
from liseuse.pipeline.types import BlockedAddressError
from liseuse.pipeline.types import ByteRange
from liseuse.pipeline.types import FetchError
from liseuse.pipeline.types import FetchRequest
from liseuse.pipeline.types import FetchResult
from liseuse.pipeline.types import RangeNotSatisfiable
from tests.httpserver import LargeFile
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import Route
from tests.httpserver import pattern_bytes

LOCAL = FetchConfig(allow_private_networks=True)
SIZE = 1_000_000


def fetch(url: str, config: FetchConfig = LOCAL, **options: Any) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(config) as fetcher:
            return await fetcher.fetch(url, **options)

    return asyncio.run(run())


def fetch_error(url: str, config: FetchConfig = LOCAL, **options: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(url, config, **options)
    return caught.value


def test_a_206_nobody_asked_for_is_refused() -> None:
    # A part taken for the whole would be a feed cut short, or a page's beginning mistaken for
    # all of it.
    headers = {"Content-Range": "bytes 0-5/100", "Content-Type": "application/rss+xml"}
    with LocalServer({"/feed": Reply(206, headers, b"<rss/>")}) as server:
        assert fetch_error(server.url("/feed")).reason == "HTTP 206 Partial Content"
        assert fetch_error(server.url("/feed"), partial=True).status == 206

        async def feed() -> FetchResult:
            async with Fetcher(LOCAL) as fetcher:
                return await fetcher.fetch_feed(FetchRequest(server.url("/feed")))

        with pytest.raises(FetchError, match="206"):
            asyncio.run(feed())
        assert all("range" not in request.headers for request in server.requests)


def test_a_part_is_asked_for_and_returned_with_where_it_lies() -> None:
    file = LargeFile(SIZE, "audio/mpeg")
    with LocalServer({"/a.mp3": file}) as server:
        result = fetch(server.url("/a.mp3"), byte_range=(500_000, 599_999))
        tail = fetch(server.url("/a.mp3"), byte_range=(990_000, 1_089_999))
        past = fetch_error(server.url("/a.mp3"), byte_range=(SIZE, SIZE + 10))
    assert result.status == 206 and result.content_type == "audio/mpeg"
    assert result.body == pattern_bytes(500_000, 100_000)
    assert result.content_range == ByteRange(500_000, 599_999, SIZE)
    assert tail.body == pattern_bytes(990_000, 10_000)
    assert tail.content_range == ByteRange(990_000, SIZE - 1, SIZE)
    assert past.status == 416
    assert isinstance(past, RangeNotSatisfiable) and past.size == SIZE  # as the site said
    asked = server.requests[0].headers
    # Offsets count the file's bytes, not a compressed form's.
    assert asked["range"] == "bytes=500000-599999" and asked["accept-encoding"] == "identity"
    assert file.sent == 100_000 + 10_000


def test_no_more_than_the_part_is_kept_whatever_the_server_sends() -> None:
    body = pattern_bytes(0, 1000)
    routes = {
        # More than asked, and said so.
        "/more": Reply(206, {"Content-Range": "bytes 10-999/1000"}, body[10:]),
        # More than its own Content-Range says.
        "/liar": Reply(206, {"Content-Range": "bytes 10-14/1000"}, body[10:]),
        "/unknown-total": Reply(206, {"Content-Range": "bytes 10-19/*"}, body[10:20]),
    }
    with LocalServer(routes) as server:
        more = fetch(server.url("/more"), byte_range=(10, 19))
        liar = fetch(server.url("/liar"), byte_range=(10, 19))
        unknown = fetch(server.url("/unknown-total"), byte_range=(10, 19))
    assert more.body == body[10:20] and more.content_range == ByteRange(10, 19, 1000)
    assert liar.body == body[10:15] and liar.content_range == ByteRange(10, 14, 1000)
    assert unknown.content_range == ByteRange(10, 19, None)


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Range": "bytes 0-9/1000"},  # not where asked
        {"Content-Range": "bytes 10-9/1000"},
        {"Content-Range": "bytes 10-19/15"},
        {"Content-Range": "items 10-19/1000"},
        {"Content-Type": "multipart/byteranges; boundary=x"},  # several parts, no Content-Range
        {"Content-Range": "bytes 10-19/1000", "Content-Encoding": "gzip"},
    ],
)
def test_a_part_that_is_not_the_one_asked_for_is_refused(headers: dict[str, str]) -> None:
    body = gzip.compress(b"x" * 10) if "Content-Encoding" in headers else b"x" * 10
    with LocalServer({"/a": Reply(206, headers, body)}) as server:
        error = fetch_error(server.url("/a"), byte_range=(10, 19))
    assert error.reason == f"invalid HTTP response from {server.host}"


def test_from_a_server_ignoring_ranges_the_part_is_cut_out_as_it_passes() -> None:
    file = LargeFile(SIZE, "audio/mpeg", ranges=False)
    big = LargeFile(60 * 1024 * 1024, "audio/mpeg", ranges=False)
    streamed = pattern_bytes(0, 300_000)
    routes: dict[str, Route] = {
        "/a.mp3": file,
        "/big.mp3": big,
        # No Content-Length: the total is known only once the body ended.
        "/streamed": lambda _: Reply(body=iter([streamed[:100_000], streamed[100_000:]])),
    }
    with LocalServer(routes) as server:
        start = fetch(server.url("/a.mp3"), byte_range=(0, 99_999), max_bytes=400_000)
        later = fetch(server.url("/a.mp3"), byte_range=(150_000, 249_999), max_bytes=400_000)
        cut = fetch(server.url("/a.mp3"), byte_range=(350_000, 449_999), max_bytes=400_000)
        beyond = fetch_error(server.url("/a.mp3"), byte_range=(400_000, 499_999), max_bytes=400_000)
        past = fetch_error(server.url("/a.mp3"), byte_range=(SIZE, SIZE + 1))
        open_end = fetch(server.url("/streamed"), byte_range=(0, 99_999))
        to_the_end = fetch(server.url("/streamed"), byte_range=(250_000, 349_999))
        past_streamed = fetch_error(server.url("/streamed"), byte_range=(300_000, 300_001))
        fetch(server.url("/big.mp3"), byte_range=(0, 99_999), max_bytes=big.size)
    assert start.status == 200 and start.body == pattern_bytes(0, 100_000)
    assert start.content_range == ByteRange(0, 99_999, SIZE)  # the total from Content-Length
    assert later.body == pattern_bytes(150_000, 100_000)
    assert later.content_range == ByteRange(150_000, 249_999, SIZE)
    # Never more of the body read than the cap: the part ends there, or cannot be had.
    assert cut.content_range == ByteRange(350_000, 399_999, SIZE)
    assert cut.body == pattern_bytes(350_000, 50_000)
    assert beyond.reason == "response larger than 391 KB"
    assert isinstance(past, RangeNotSatisfiable) and past.size == SIZE  # its Content-Length
    assert open_end.content_range == ByteRange(0, 99_999, None)
    assert to_the_end.body == streamed[250_000:]
    assert to_the_end.content_range == ByteRange(250_000, 299_999, 300_000)
    assert isinstance(past_streamed, RangeNotSatisfiable) and past_streamed.size == 300_000
    # Reading stopped at the part's end (plus what the sockets held), not the file's.
    assert big.sent < big.size // 2


def test_a_part_goes_through_the_same_guard() -> None:
    with LocalServer({"/a.mp3": LargeFile(SIZE, "audio/mpeg")}) as server:
        error = fetch_error(server.url("/a.mp3"), FetchConfig(), byte_range=(0, 9))
        redirected = Reply(302, {"Location": server.url("/a.mp3")})
        with LocalServer({"/r": redirected}) as other:
            hop = fetch(other.url("/r"), byte_range=(0, 9))
        assert isinstance(error, BlockedAddressError)
        # The Range goes on with each hop, each hop checked as ever.
        assert hop.body == pattern_bytes(0, 10) and hop.content_range == ByteRange(0, 9, SIZE)
        assert [request.headers["range"] for request in server.requests] == ["bytes=0-9"]
