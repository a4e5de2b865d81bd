"""The fetcher against a real local server. The guard is lifted here (everything is on 127.0.0.1);
test_netguard.py proves it holds when on."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp.compression_utils
import aiohttp.http_parser
import brotli  # type: ignore[import-untyped]
import pytest

from liseuse.pipeline.fetch import FEED_ACCEPT
from liseuse.pipeline.fetch import FetchConfig
from liseuse.pipeline.fetch import Fetcher
from liseuse.pipeline.fetch import cache_hint
from liseuse.pipeline.fetch import describe_size
from liseuse.pipeline.fetch import parse_retry_after
from liseuse.pipeline.types import FetchError
from liseuse.pipeline.types import FetchRequest
from liseuse.pipeline.types import FetchResult
from tests.httpserver import FakeResolver
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import Route
from tests.httpserver import SeenRequest

LOCAL = FetchConfig(allow_private_networks=True)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def fetch(url: str, config: FetchConfig = LOCAL, **options: Any) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(config, clock=lambda: NOW) as fetcher:
            return await fetcher.fetch(url, **options)

    return asyncio.run(run())


def fetch_feed(request: FetchRequest, config: FetchConfig = LOCAL) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(config, clock=lambda: NOW) as fetcher:
            return await fetcher.fetch_feed(request)

    return asyncio.run(run())


def fetch_error(url: str, config: FetchConfig = LOCAL, **options: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(url, config, **options)
    return caught.value


def redirect(status: int, location: str) -> Reply:
    return Reply(status, {"Location": location})


# Plain answers and conditional GET


def test_it_returns_the_body_and_the_validators() -> None:
    headers = {"Content-Type": "application/rss+xml", "ETag": '"v1"', "Last-Modified": "x"}
    with LocalServer({"/feed": Reply(200, headers, RSS)}) as server:
        result = fetch_feed(FetchRequest(server.url("/feed")))
    assert result.status == 200
    assert result.body == RSS
    assert result.url == server.url("/feed")
    assert result.content_type == "application/rss+xml"
    assert result.etag == '"v1"'
    assert result.last_modified == "x"
    assert result.permanent_url is None
    assert result.not_before is None


def test_it_names_itself_and_asks_for_feeds_and_compression() -> None:
    config = FetchConfig(allow_private_networks=True, user_agent="liseuse/9 (+https://x.test)")
    with LocalServer({"/feed": Reply(body=RSS)}) as server:
        fetch_feed(FetchRequest(server.url("/feed")), config)
    headers = server.requests[0].headers
    assert headers["user-agent"] == "liseuse/9 (+https://x.test)"
    assert headers["accept-encoding"] == "gzip, deflate, br"
    assert headers["accept"] == FEED_ACCEPT
    assert "if-none-match" not in headers


def test_the_default_user_agent_names_liseuse_and_its_site() -> None:
    assert FetchConfig().user_agent.startswith("liseuse/")
    assert "https://liseuse.org" in FetchConfig().user_agent


def test_a_conditional_get_round_trip_ends_in_304_with_an_empty_body() -> None:
    def feed(request: SeenRequest) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304, {"ETag": '"v1"'})
        return Reply(200, {"ETag": '"v1"', "Last-Modified": "Sun, 01 Mar 2026 10:00:00 GMT"}, RSS)

    with LocalServer({"/feed": feed}) as server:
        first = fetch_feed(FetchRequest(server.url("/feed")))
        second = fetch_feed(FetchRequest(first.url, first.etag, first.last_modified))
    assert first.status == 200
    assert second.status == 304
    assert second.not_modified
    assert second.body == b""
    assert second.etag == '"v1"'
    assert server.requests[1].headers["if-none-match"] == '"v1"'
    assert server.requests[1].headers["if-modified-since"] == "Sun, 01 Mar 2026 10:00:00 GMT"


def test_a_304_without_validators_keeps_the_ones_sent() -> None:
    with LocalServer({"/feed": Reply(304)}) as server:
        result = fetch_feed(FetchRequest(server.url("/feed"), '"old"', "Mon, 02 Feb 2026"))
    assert result.status == 304
    assert (result.etag, result.last_modified) == ('"old"', "Mon, 02 Feb 2026")


def test_a_utf8_etag_goes_back_byte_for_byte() -> None:
    # The local server reads and writes header bytes as Latin-1: this is "café" in UTF-8.
    etag = '"caf\u00c3\u00a9"'

    def feed(request: SeenRequest) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304)
        return Reply(200, {"ETag": etag}, RSS)

    with LocalServer({"/feed": feed}) as server:
        first = fetch_feed(FetchRequest(server.url("/feed")))
        second = fetch_feed(FetchRequest(first.url, first.etag))
    assert first.etag == '"café"'
    assert second.status == 304


def test_validators_that_are_not_utf8_are_dropped_rather_than_kept_unstorable() -> None:
    # obs-text (a Latin-1 "é") is legal in an ETag, but it could neither be stored (the whole
    # update of the feed failed) nor be sent back as it came.
    headers = {"ETag": '"caf\u00e9"', "Last-Modified": "lundi 2 f\u00e9vrier 2026"}
    with LocalServer({"/feed": Reply(200, headers, RSS)}) as server:
        result = fetch_feed(FetchRequest(server.url("/feed")))
    assert result.body == RSS
    assert (result.etag, result.last_modified) == (None, None)


# Compression and the size cap


def raw_deflate(data: bytes) -> bytes:
    """deflate without the zlib header, as some servers send it."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def gzip_twice(data: bytes) -> bytes:
    return gzip.compress(gzip.compress(data))


def two_gzip_members(data: bytes) -> bytes:
    return gzip.compress(data[:10]) + gzip.compress(data[10:])


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("GZIP", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", raw_deflate),
        ("br", brotli.compress),
        ("identity", bytes),
        ("x-gzip", gzip.compress),  # the old name, to be read as gzip (RFC 9110)
        ("x-gzip", two_gzip_members),
        ("gzip, gzip", gzip_twice),
        ("deflate, gzip", lambda data: gzip.compress(zlib.compress(data))),
        ("deflate, deflate", lambda data: zlib.compress(raw_deflate(data))),
        ("identity, gzip", gzip.compress),
    ],
)
def test_it_decompresses(encoding: str, compress: Any) -> None:
    with LocalServer({"/feed": Reply(200, {"Content-Encoding": encoding}, compress(RSS))}) as s:
        assert fetch(s.url("/feed")).body == RSS


def test_an_unknown_coding_leaves_the_body_as_it_came() -> None:
    # Some servers name their charset there; their feeds are plain text, as browsers find.
    with LocalServer({"/feed": Reply(200, {"Content-Encoding": "utf-8"}, RSS)}) as s:
        assert fetch(s.url("/feed")).body == RSS


@pytest.mark.parametrize("encoding", ["x-gzip", "gzip, gzip"])
def test_codings_undone_here_are_capped_too(encoding: str) -> None:
    bomb = gzip.compress(bytes(20 * 1024 * 1024), compresslevel=9)  # 20 KB on the wire
    if encoding == "gzip, gzip":
        bomb = gzip.compress(bomb)
    with LocalServer({"/bomb": Reply(200, {"Content-Encoding": encoding}, bomb)}) as server:
        error = fetch_error(server.url("/bomb"), max_bytes=1024 * 1024)
    assert error.reason == "response larger than 1 MB"


@pytest.mark.parametrize(
    "body", [gzip.compress(RSS)[:-8], b"not gzip at all"], ids=["truncated", "not-gzip"]
)
def test_a_broken_body_in_a_coding_undone_here_is_an_error(body: bytes) -> None:
    with LocalServer({"/feed": Reply(200, {"Content-Encoding": "x-gzip"}, body)}) as server:
        assert fetch_error(server.url("/feed")).reason == "broken response body from 127.0.0.1"


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("br", brotli.compress),
        ("deflate", zlib.compress),
        ("gzip, gzip", gzip_twice),
    ],
)
def test_a_body_cut_short_is_an_error_not_a_shorter_feed(encoding: str, compress: Any) -> None:
    # No length and not chunked: the server ends the body by closing the connection, so only
    # the coding's own end can tell a body cut short. aiohttp took a cut gzip or br stream for
    # the whole; the parser then read a shorter feed, kept with its ETag.
    whole = compress(RSS * 40)
    cut = whole[: len(whole) * 3 // 5]
    headers = {"Content-Encoding": encoding, "ETag": '"v1"'}
    with LocalServer({"/feed": Reply(200, headers, iter([cut]))}) as server:
        assert fetch_error(server.url("/feed")).reason == "broken response body from 127.0.0.1"
    with LocalServer({"/feed": Reply(200, headers, iter([whole]))}) as server:
        assert fetch(server.url("/feed")).body == RSS * 40


def test_zstd_sent_unasked_is_undone_checked_and_capped() -> None:
    # Never asked for, but aiohttp undid it, and a server sending it had its feeds read;
    # undone here since whole bodies are, it came through as compressed bytes.
    from backports import zstd

    whole = zstd.compress(RSS * 40)
    with LocalServer({"/feed": Reply(200, {"Content-Encoding": "zstd"}, whole)}) as server:
        assert fetch(server.url("/feed")).body == RSS * 40
    cut = iter([whole[: len(whole) * 3 // 5]])
    with LocalServer({"/feed": Reply(200, {"Content-Encoding": "zstd"}, cut)}) as server:
        assert fetch_error(server.url("/feed")).reason == "broken response body from 127.0.0.1"
    bomb = zstd.compress(bytes(50 * 1024 * 1024))
    with LocalServer({"/bomb": Reply(200, {"Content-Encoding": "zstd"}, bomb)}) as server:
        error = fetch_error(server.url("/bomb"), max_bytes=1024 * 1024)
    assert error.reason == "response larger than 1 MB"


def test_a_br_bomb_is_stopped_at_the_cap() -> None:
    bomb = brotli.compress(bytes(50 * 1024 * 1024))  # 50 MB of zeros, a few hundred bytes sent
    started = time.monotonic()
    with LocalServer({"/bomb": Reply(200, {"Content-Encoding": "br"}, bomb)}) as server:
        error = fetch_error(server.url("/bomb"), max_bytes=1024 * 1024)
    assert error.reason == "response larger than 1 MB"
    assert time.monotonic() - started < 5


def test_br_is_not_asked_for_when_it_cannot_be_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if the brotli module were missing: aiohttp would refuse every br answer.
    monkeypatch.setattr(aiohttp.compression_utils, "HAS_BROTLI", False)
    monkeypatch.setattr(aiohttp.http_parser, "HAS_BROTLI", False)

    def feed(request: SeenRequest) -> Reply:
        if "br" in request.headers["accept-encoding"]:
            return Reply(200, {"Content-Encoding": "br"}, brotli.compress(RSS))
        return Reply(200, {"Content-Encoding": "gzip"}, gzip.compress(RSS))

    with LocalServer({"/feed": feed}) as server:
        assert fetch(server.url("/feed")).body == RSS
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


def test_a_gzip_bomb_is_stopped_at_the_default_cap_of_15_mb() -> None:
    # 500 gzip members of 2 MB of zeros: 1 GB once inflated, about 1 MB on the wire.
    member = gzip.compress(bytes(2 * 1024 * 1024), compresslevel=9)
    bomb = member * 500
    started = time.monotonic()
    with LocalServer({"/bomb": Reply(200, {"Content-Encoding": "gzip"}, bomb)}) as server:
        error = fetch_error(server.url("/bomb"))
    assert error.reason == "response larger than 15 MB"
    assert time.monotonic() - started < 5  # inflating the whole gigabyte would take longer


def test_a_body_announced_over_the_cap_is_refused_before_reading() -> None:
    with LocalServer({"/big": Reply(body=bytes(5000))}) as server:
        error = fetch_error(
            server.url("/big"), FetchConfig(allow_private_networks=True, max_body_bytes=4096)
        )
    assert error.reason == "response larger than 4 KB"


def test_a_streamed_body_is_counted_as_it_arrives() -> None:
    chunks = [bytes(1000)] * 10  # no Content-Length: only counting can stop it
    with LocalServer({"/big": lambda _: Reply(body=iter(chunks))}) as server:
        error = fetch_error(server.url("/big"), max_bytes=2500)
        assert fetch(server.url("/big"), max_bytes=20_000).body == bytes(10_000)
    assert error.reason == "response larger than 2.44 KB"


def test_a_partial_read_keeps_the_beginning_of_a_body_over_the_cap() -> None:
    page = b"<html><head>" + bytes(range(256)) * 40 + b"</head></html>"  # 10,265 bytes
    streamed = [page[n : n + 1000] for n in range(0, len(page), 1000)]  # no Content-Length
    routes: dict[str, Route] = {
        "/page": Reply(body=page),
        "/gzipped": Reply(headers={"Content-Encoding": "gzip"}, body=gzip.compress(page)),
        "/streamed": lambda _: Reply(body=iter(streamed)),
        "/small": Reply(body=b"<html></html>"),
    }
    with LocalServer(routes) as server:
        for path in ("/page", "/gzipped", "/streamed"):
            assert fetch(server.url(path), max_bytes=4096, partial=True).body == page[:4096], path
            # Without `partial`, the same body is refused.
            assert "larger than" in fetch_error(server.url(path), max_bytes=4096).reason, path
        assert fetch(server.url("/small"), max_bytes=4096, partial=True).body == b"<html></html>"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (15 * 1024 * 1024, "15 MB"),
        (2 * 1024 * 1024 + 1, "2 MB"),
        (1536, "1.5 KB"),
        (1000, "1000 bytes"),
    ],
)
def test_sizes_are_described_for_people(size: int, text: str) -> None:
    assert describe_size(size) == text


# Redirects


def test_an_all_permanent_redirect_chain_gives_a_permanent_url() -> None:
    routes = {"/a": redirect(301, "/b"), "/b": redirect(308, "/c"), "/c": Reply(body=RSS)}
    with LocalServer(routes) as server:
        result = fetch_feed(FetchRequest(server.url("/a")))
    assert result.body == RSS
    assert result.url == server.url("/c")
    assert result.permanent_url == server.url("/c")
    assert server.paths() == ["/a", "/b", "/c"]


def test_a_304_after_permanent_redirects_confirms_the_new_url_and_keeps_the_validators() -> None:
    routes = {"/a": redirect(301, "/b"), "/b": Reply(304)}
    with LocalServer(routes) as server:
        result = fetch_feed(FetchRequest(server.url("/a"), '"v1"', "Mon, 02 Feb 2026"))
    assert (result.status, result.permanent_url) == (304, server.url("/b"))
    assert (result.etag, result.last_modified) == ('"v1"', "Mon, 02 Feb 2026")
    assert server.requests[1].headers["if-none-match"] == '"v1"'


@pytest.mark.parametrize("temporary", [302, 303, 307])
def test_one_temporary_hop_means_no_permanent_url(temporary: int) -> None:
    routes = {"/a": redirect(301, "/b"), "/b": redirect(temporary, "/c"), "/c": Reply(body=RSS)}
    with LocalServer(routes) as server:
        result = fetch_feed(FetchRequest(server.url("/a")))
    assert result.url == server.url("/c")
    assert result.permanent_url is None


def test_it_follows_five_redirects_but_not_six() -> None:
    routes: dict[str, Reply] = {f"/{n}": redirect(302, f"/{n + 1}") for n in range(6)}
    routes["/6"] = Reply(body=RSS)
    with LocalServer(routes) as server:
        assert fetch(server.url("/1")).body == RSS
        error = fetch_error(server.url("/0"))
    assert error.reason == "too many redirects (more than 5)"
    assert "/6" not in server.paths()[-6:]


def test_a_redirect_loop_is_reported() -> None:
    routes = {"/a": redirect(301, "/b"), "/b": redirect(302, "/a")}
    with LocalServer(routes) as server:
        error = fetch_error(server.url("/a"))
    assert error.reason == f"redirect loop: back to {server.url('/a')}"
    assert server.paths() == ["/a", "/b"]


@pytest.mark.parametrize(
    ("location", "path"),
    [
        ("/caf\u00e9.xml", "/caf%E9.xml"),  # a Latin-1 byte: percent-encoded, not dropped
        ("/caf\u00c3\u00a9.xml", "/caf%C3%A9.xml"),  # UTF-8 (read as Latin-1 by the server)
        ("/a b.xml", "/a%20b.xml"),
        ("c.xml", "/dir/c.xml"),  # relative
        ("?page=2", "/dir/start?page=2"),
        ("//{authority}/d.xml", "/d.xml"),  # protocol-relative
    ],
)
def test_redirect_locations_are_read_as_browsers_read_them(location: str, path: str) -> None:
    with LocalServer() as server:
        authority = f"{server.host}:{server.port}"
        server.routes["/dir/start"] = redirect(301, location.format(authority=authority))
        server.routes[path] = Reply(body=RSS)
        result = fetch_feed(FetchRequest(server.url("/dir/start")))
    assert result.body == RSS
    assert result.permanent_url == server.url(path)


def test_a_redirect_without_location_is_an_error() -> None:
    with LocalServer({"/a": Reply(302)}) as server:
        error = fetch_error(server.url("/a"))
    assert error.reason == "HTTP 302 Found without a Location header"


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.com/feed", "gopher://x"])
def test_a_redirect_to_another_scheme_is_refused(target: str) -> None:
    with LocalServer({"/a": redirect(301, target)}) as server:
        error = fetch_error(server.url("/a"))
    assert error.reason.startswith("refused: only http and https URLs can be fetched")


# Schemes and URLs


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/", "javascript:alert(1)", "data:,x", "feed.xml"],
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    assert fetch_error(url).reason.startswith("refused: only http and https URLs can be fetched")


@pytest.mark.parametrize("url", ["http:///feed", "http://[::1/feed", "http://x.example:99999/"])
def test_an_invalid_url_is_refused(url: str) -> None:
    assert fetch_error(url).reason.startswith("invalid URL")


def test_an_odd_spelling_of_an_address_is_refused_even_when_allowed() -> None:
    # aiohttp would refuse it too; what matters is a reason a person understands.
    with LocalServer({"/feed": Reply(body=RSS)}) as server:
        error = fetch_error(server.url("/feed", host="2130706433"))
    assert (
        error.reason == "refused: 2130706433 is an unusual way of writing 127.0.0.1; use 127.0.0.1"
    )
    assert server.requests == []


def test_a_redirect_to_an_invalid_url_is_an_error() -> None:
    with LocalServer({"/a": redirect(301, "http://[oops/")}) as server:
        error = fetch_error(server.url("/a"))
    assert error.reason == "HTTP 301 Moved Permanently to an invalid URL: 'http://[oops/'"


def test_fetching_outside_the_context_manager_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        asyncio.run(Fetcher(LOCAL).fetch("http://127.0.0.1/"))


# Error statuses


def test_410_means_the_feed_is_gone() -> None:
    with LocalServer({"/feed": Reply(410)}) as server:
        error = fetch_error(server.url("/feed"))
    assert error.gone
    assert error.status == 410
    assert error.reason == "HTTP 410 Gone"


@pytest.mark.parametrize("status", [429, 503])
def test_too_busy_answers_carry_retry_after_in_seconds(status: int) -> None:
    with LocalServer({"/feed": Reply(status, {"Retry-After": "120"})}) as server:
        error = fetch_error(server.url("/feed"))
    assert error.status == status
    assert error.retry_after == NOW + timedelta(seconds=120)
    assert not error.gone


def test_retry_after_may_be_an_http_date() -> None:
    headers = {"Retry-After": "Sun, 01 Mar 2026 13:30:00 GMT"}
    with LocalServer({"/feed": Reply(429, headers)}) as server:
        error = fetch_error(server.url("/feed"))
    assert error.reason == "HTTP 429 Too Many Requests"
    assert error.retry_after == datetime(2026, 3, 1, 13, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("soon", None),
        ("0", NOW),
        ("Sun, 01 Mar 2026 11:00:00 GMT", NOW),  # in the past: now
        ("99999999999999999999", NOW + timedelta(days=7)),  # absurd: capped
        ("Fri, 01 Jan 2100 00:00:00 GMT", NOW + timedelta(days=7)),
        ("Sun, 01 Mar 2026 13:00:00 -0000", NOW + timedelta(hours=1)),
    ],
)
def test_retry_after_is_read_safely(value: str | None, expected: datetime | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("status", "reason"),
    [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error"), (599, "HTTP 599")],
)
def test_other_errors_have_a_readable_reason(status: int, reason: str) -> None:
    with LocalServer({"/feed": Reply(status, {}, b"<h1>oops</h1>")}) as server:
        error = fetch_error(server.url("/feed"))
    assert error.reason == reason
    assert error.status == status
    assert error.retry_after is None


# Time-outs and connection failures


def test_a_dripping_server_is_cut_by_the_total_timeout() -> None:
    def drip() -> Iterator[bytes]:
        for _ in range(40):
            yield b"<"
            time.sleep(0.1)

    config = FetchConfig(allow_private_networks=True, total_timeout=1)
    started = time.monotonic()
    with LocalServer({"/feed": Reply(body=drip())}) as server:
        error = fetch_error(server.url("/feed"), config)
    assert error.reason == f"timed out after 1 s at {server.url('/feed')}"
    assert time.monotonic() - started < 2.5


def test_the_total_timeout_covers_every_redirect_hop() -> None:
    slow = 0.4
    routes = {
        "/a": Reply(302, {"Location": "/b"}, delay=slow),
        "/b": Reply(302, {"Location": "/c"}, delay=slow),
        "/c": Reply(body=RSS, delay=slow),
    }
    config = FetchConfig(allow_private_networks=True, total_timeout=1)
    with LocalServer(routes) as server:
        error = fetch_error(server.url("/a"), config)
    assert error.reason.startswith("timed out after 1 s")


@contextmanager
def unanswering_port() -> Iterator[int]:
    """A port whose listen queue is full, so new connections hang without an answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    try:
        yield listener.getsockname()[1]
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def test_a_connect_timeout_is_readable() -> None:
    config = FetchConfig(allow_private_networks=True, connect_timeout=0.3)
    started = time.monotonic()
    with unanswering_port() as port:
        error = fetch_error(f"http://127.0.0.1:{port}/feed", config)
    assert error.reason == "could not connect to 127.0.0.1 within 0.3 s"
    assert time.monotonic() - started < 2


def test_a_refused_connection_is_readable() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}/feed")
    assert error.reason.startswith(f"could not connect to 127.0.0.1:{port}")


@contextmanager
def raw_server(answer: bytes) -> Iterator[int]:
    """A port where each connection gets `answer` (maybe nothing), then is closed.

    Each, not one: aiohttp retries a GET once when the server hangs up without a word.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # the listener was closed: the test is over
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=2)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"", "127.0.0.1 closed the connection without answering"),
        (b"SPAM SPAM SPAM\r\n\r\n", "invalid HTTP response from 127.0.0.1"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
            "broken response body from 127.0.0.1",
        ),
    ],
)
def test_a_misbehaving_server_gets_a_readable_reason(answer: bytes, reason: str) -> None:
    with raw_server(answer) as port:
        assert fetch_error(f"http://127.0.0.1:{port}/feed").reason == reason


# A throw-away self-signed certificate for 127.0.0.1, made for these tests only.
SELF_SIGNED = """\
-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIULb2ZrOd5F3s5YpduzCk3V5s6lMQwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjAzMjk0MloYDzIxMjYxMTAy
MDMyOTQyWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAReWnKBdO30tqoe1Ab9H3W0pGr+tCk/y1/fNG3/t/nynF41yrdjXg/G
RNab24hD6i9yFTG8062rVINGjLUkv2xMo28wbTAdBgNVHQ4EFgQU0aKYHKHZH4XU
pWjmu4PAnpwkDiwwHwYDVR0jBBgwFoAU0aKYHKHZH4XUpWjmu4PAnpwkDiwwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
zj0EAwIDRwAwRAIgctPj9+t2kfQRx42rVInhTEz7UDrx79Hexge+IZtTv8sCICvH
cC8PGfWpQSqxotgfvDsN8oB3rLXVikkUbvv/qslj
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWPFoFv4l4PuAtBp+
6qvNBe/caZ1MJE7VJ+3on90AZpyhRANCAAReWnKBdO30tqoe1Ab9H3W0pGr+tCk/
y1/fNG3/t/nynF41yrdjXg/GRNab24hD6i9yFTG8062rVINGjLUkv2xM
-----END PRIVATE KEY-----
"""


def test_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    pem = tmp_path / "server.pem"
    pem.write_text(SELF_SIGNED)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(pem)
    with LocalServer({"/feed": Reply(body=RSS)}, tls=tls) as server:
        error = fetch_error(server.url("/feed"))
    assert error.reason == "invalid TLS certificate for 127.0.0.1: self-signed certificate"
    assert server.requests == []


def test_https_to_a_plain_http_server_is_a_tls_error() -> None:
    with LocalServer({"/feed": Reply(body=RSS)}) as server:
        error = fetch_error(f"https://127.0.0.1:{server.port}/feed")
    assert error.reason == f"TLS handshake with 127.0.0.1:{server.port} failed"


def test_an_unknown_host_name_is_readable() -> None:
    async def run() -> None:
        async with Fetcher(LOCAL, resolver=FakeResolver({})) as fetcher:
            await fetcher.fetch("http://nowhere.example/feed")

    with pytest.raises(FetchError) as caught:
        asyncio.run(run())
    assert caught.value.reason == "could not resolve the host name nowhere.example"


# Caching hints


def test_max_age_sets_not_before() -> None:
    with LocalServer({"/feed": Reply(200, {"Cache-Control": "public, max-age=600"}, RSS)}) as s:
        assert fetch(s.url("/feed")).not_before == NOW + timedelta(minutes=10)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Cache-Control": "max-age=600"}, timedelta(minutes=10)),
        ({"Cache-Control": "max-age=600", "Age": "100"}, timedelta(minutes=500 / 60)),
        ({"Cache-Control": "max-age=31536000"}, timedelta(hours=24)),  # capped
        ({"Cache-Control": "no-cache, max-age=600"}, None),
        ({"Cache-Control": "max-age=0"}, None),
        ({"Cache-Control": "max-age=ten"}, None),
        (
            {"Expires": "Sun, 01 Mar 2026 12:30:00 GMT", "Date": "Sun, 01 Mar 2026 12:00:00 GMT"},
            timedelta(minutes=30),
        ),
        (
            # the server's clock is an hour off: the lifetime still counts from its own Date
            {"Expires": "Sun, 01 Mar 2026 13:30:00 GMT", "Date": "Sun, 01 Mar 2026 13:00:00 GMT"},
            timedelta(minutes=30),
        ),
        ({"Expires": "Sun, 01 Mar 2026 14:00:00 GMT"}, timedelta(hours=2)),
        ({"Expires": "0"}, None),
        ({"Expires": "Fri, 01 Jan 2100 00:00:00 GMT"}, timedelta(hours=24)),  # capped
        (
            {"Cache-Control": "max-age=60", "Expires": "Fri, 01 Jan 2100 00:00:00 GMT"},
            timedelta(minutes=1),
        ),  # max-age wins
        ({}, None),
    ],
)
def test_cache_hints(headers: dict[str, str], expected: timedelta | None) -> None:
    assert cache_hint(headers, NOW) == (None if expected is None else NOW + expected)


# Concurrency and connection reuse


def fetch_many(urls: list[str], config: FetchConfig, resolver: FakeResolver | None = None) -> None:
    async def run() -> None:
        async with Fetcher(config, resolver=resolver) as fetcher:
            await asyncio.gather(*(fetcher.fetch(url) for url in urls))

    asyncio.run(run())


def test_the_per_host_limit_is_honoured() -> None:
    config = FetchConfig(allow_private_networks=True, per_host_concurrency=2)
    with LocalServer({"/feed": Reply(body=RSS, delay=0.15)}) as server:
        fetch_many([server.url(f"/feed?{n}") for n in range(6)], config)
    assert len(server.requests) == 6
    assert server.max_active == 2


def test_the_per_host_limit_is_counted_per_host_name() -> None:
    # Two names for the same server: each gets its own slot.
    config = FetchConfig(allow_private_networks=True, per_host_concurrency=1)
    resolver = FakeResolver({"a.example": ["127.0.0.1"], "b.example": ["127.0.0.1"]})
    with LocalServer({"/feed": Reply(body=RSS, delay=0.15)}) as server:
        urls = [
            server.url(f"/feed?{n}", host=host)
            for host in ("a.example", "b.example")
            for n in range(3)
        ]
        fetch_many(urls, config, resolver)
    assert server.max_active == 2
    assert resolver.lookups.count("a.example") == 1  # the DNS answer is reused


def test_the_global_limit_is_honoured() -> None:
    config = FetchConfig(allow_private_networks=True, global_concurrency=3, per_host_concurrency=10)
    with LocalServer({"/feed": Reply(body=RSS, delay=0.15)}) as server:
        fetch_many([server.url(f"/feed?{n}") for n in range(8)], config)
    assert len(server.requests) == 8
    assert server.max_active == 3


def fetch_in_turn(url: str, times: int) -> None:
    async def run() -> None:
        async with Fetcher(LOCAL) as fetcher:
            for _ in range(times):
                await fetcher.fetch(url)

    asyncio.run(run())


def test_one_connection_serves_many_fetches() -> None:
    with LocalServer({"/feed": Reply(body=RSS)}) as server:
        fetch_in_turn(server.url("/feed"), 5)
    assert len({request.client_port for request in server.requests}) == 1


def test_cookies_are_not_sent_back() -> None:
    with LocalServer({"/feed": Reply(200, {"Set-Cookie": "session=abc; Path=/"}, RSS)}) as s:
        fetch_in_turn(s.url("/feed"), 2)
    assert len(s.requests) == 2
    assert "cookie" not in s.requests[1].headers


@pytest.mark.parametrize(
    ("os_error", "reason"),
    [
        # As asyncio's TLS handshake raises it when a plain-HTTP port drops the connection.
        (ConnectionResetError(), "(Connection reset by peer)"),
        (ConnectionRefusedError(111, "Connection refused"), "(Connection refused)"),
        (OSError("Connect call failed"), "(Connect call failed)"),
        (OSError(), "(OSError)"),
    ],
)
def test_a_failed_connection_without_the_systems_words_is_still_readable(
    os_error: OSError, reason: str
) -> None:
    from aiohttp.client_reqrep import ConnectionKey
    from yarl import URL

    from liseuse.pipeline.fetch import _describe_client_error

    key = ConnectionKey("127.0.0.1", 18100, True, True, None, None, None, None)
    error = _describe_client_error(
        aiohttp.ClientConnectorError(key, os_error), URL("https://127.0.0.1:18100/feedD")
    )
    assert error.reason == f"could not connect to 127.0.0.1:18100 {reason}"
