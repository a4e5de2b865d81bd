"""Hostile and broken feeds, all in one refresh beside a good one: each gets its own readable
error, the good one is stored, nothing else is touched."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import claim
from liseuse.feeds import worker
from liseuse.feeds.models import Entry
from liseuse.feeds.models import Feed
from liseuse.feeds.subscribe import follow
from liseuse.pipeline.refresh import FeedReport
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import Route

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = b'<rss version="2.0"><channel><title>Bon</title><item><guid>ok</guid><title>Fine</title></item></channel></rss>'


def drip() -> Iterator[bytes]:
    for byte in b'<rss version="2.0"><channel>':
        time.sleep(0.5)
        yield bytes([byte])


def gzip_bomb() -> bytes:
    # 40 MB of spaces inside a valid feed, compressed to about 40 KB.
    return gzip.compress(
        b'<rss version="2.0"><channel><title>'
        + b" " * (40 * 1024 * 1024)
        + b"</title></channel></rss>"
    )


def cut_gzip() -> Iterator[bytes]:
    # A server that ends its body by closing the connection (no length, not chunked), closing
    # it too soon: the gzip stream stops in the middle of the items.
    whole = gzip.compress(many_entries(200), compresslevel=1)
    yield whole[: len(whole) * 3 // 5]


def many_entries(count: int) -> bytes:
    items = "".join(f"<item><guid>{i}</guid><title>n°{i}</title></item>" for i in range(count))
    return f'<rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'.encode()


HOSTILE = {
    "/xxe-file": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>&x;</title><item><guid>x</guid><title>&x;</title></item></channel></rss>',
    "/xxe-http": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:1/secret">]>'
    b'<rss version="2.0"><channel><title>&x;</title></channel></rss>',
    "/laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY a "lollollollollollollollollollol">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
    )
    + b']><rss version="2.0"><channel><title>&j;</title></channel></rss>',
    "/deep": b"<rss>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</rss>",
    "/html": b"<!DOCTYPE html><html><head><title>Not a feed</title></head><body></body></html>",
    "/empty": b"",
    "/notjsonfeed": b'{"version": "1.0", "items": "nope"}',
    # HTML nested 60,000 deep (escaped in the description): html5ever's time grows with the
    # square of the depth, 8 s at 50,000, on the loop that fetches the other feeds.
    "/nested-html": b'<rss version="2.0"><channel><title>Deep</title><item><guid>d</guid>'
    b"<description>" + b"&lt;div&gt;" * 60_000 + b"</description></item></channel></rss>",
    "/latin1-as-utf8": '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Été</title>'
    "<item><guid>é</guid><title>Déjà vu</title></item></channel></rss>".encode("latin-1"),
}


@pytest.fixture(autouse=True)
def _settings() -> Iterator[None]:
    with override_settings(
        LISEUSE_ALLOW_PRIVATE_NETWORKS=True,
        LISEUSE_FETCH_TIMEOUT=2,
        LISEUSE_FETCH_MAX_BYTES=1024 * 1024,
    ):
        yield


def test_each_hostile_feed_gets_its_own_error_and_the_good_one_is_stored(alice: User) -> None:
    routes: dict[str, Route] = {path: Reply(body=body) for path, body in HOSTILE.items()}
    routes["/good"] = Reply(body=GOOD)
    routes["/drip"] = Reply(body=drip())
    routes["/bomb"] = Reply(headers={"Content-Encoding": "gzip"}, body=gzip_bomb())
    routes["/cut-gzip"] = Reply(
        headers={"Content-Encoding": "gzip", "ETag": '"v1"'}, body=cut_gzip()
    )
    routes["/too-big"] = Reply(
        body=b"<rss><channel><title>" + b"x" * (2 * 1024 * 1024) + b"</title></channel></rss>"
    )
    routes["/loop"] = Reply(status=302, headers={"Location": "/loop"})
    routes["/404"] = Reply(status=404)
    routes["/410"] = Reply(status=410)
    routes["/500"] = Reply(status=500)
    routes["/10k"] = Reply(body=many_entries(10_000))
    with LocalServer(routes) as server:
        for path in routes:
            follow(alice, server.url(path))
        started = time.monotonic()
        summary = worker.refresh_once(all_feeds=True)
        assert time.monotonic() - started < 30
    feeds = {f.url.rsplit("/", 1)[1]: f for f in Feed.objects.all()}
    assert len(summary.reports) == len(routes)

    # The good ones are whole.
    assert feeds["good"].last_error == "" and Entry.objects.filter(feed=feeds["good"]).count() == 1
    assert Entry.objects.filter(feed=feeds["10k"]).count() == 10_000
    # Never an entity's expansion, never a file's content.
    assert not Entry.objects.filter(title__contains="root:").exists()
    assert not Feed.objects.filter(title__contains="root:").exists()
    assert not Feed.objects.filter(title__contains="lollollol").exists()
    # Bad input: a readable reason, on that feed only.
    for name in (
        "drip",
        "bomb",
        "cut-gzip",
        "too-big",
        "loop",
        "404",
        "410",
        "500",
        "html",
        "empty",
        "notjsonfeed",
        "deep",
    ):
        assert feeds[name].last_error, f"{name} has no error"
        assert feeds[name].error_count == 1, name
        assert "Traceback" not in feeds[name].last_error and len(feeds[name].last_error) < 300, name
    assert "time" in feeds["drip"].last_error.lower()
    assert (
        "larger than" in feeds["bomb"].last_error and "larger than" in feeds["too-big"].last_error
    )
    assert "redirect" in feeds["loop"].last_error.lower()
    # Cut short: not a shorter feed, whose ETag would have kept the rest away (304s).
    assert "broken response body" in feeds["cut-gzip"].last_error
    assert not Entry.objects.filter(feed=feeds["cut-gzip"]).exists()
    assert feeds["cut-gzip"].etag == ""
    assert feeds["410"].disabled
    # Nested beyond any page: kept, cut where no real page goes (pipeline.sanitize).
    nested = Entry.objects.get(feed=feeds["nested-html"])
    assert feeds["nested-html"].last_error == "" and 0 < nested.content.count("<div>") <= 256
    # A mis-declared encoding is recovered, not refused.
    latin = feeds["latin1-as-utf8"]
    assert latin.last_error == "" and Entry.objects.get(feed=latin).title == "Déjà vu"


def test_a_dripping_feed_never_slows_the_others(alice: User) -> None:
    # Two fetches at a time in all, one per host: the dripping feed, started first, holds one
    # for its whole time-out (2 s, above), and the good feeds, on another host, all pass
    # through the other. A refresh that held a slot for the whole batch, shared one host's slot
    # with other hosts, or reported the feeds only once all were done, would make them wait
    # for the dripping one.
    good = {f"/good{n}": Reply(body=GOOD) for n in range(4)}
    with (
        override_settings(LISEUSE_FETCH_CONCURRENCY=2, LISEUSE_FETCH_PER_HOST=1),
        LocalServer({"/drip": Reply(body=drip())}, host="127.0.0.2") as slow,
        LocalServer(good) as server,
    ):
        follow(alice, slow.url("/drip"))
        for path in good:
            follow(alice, server.url(path))
        owner = worker.worker_id()
        feeds = claim.claim_feeds(
            owner=owner, now=timezone.now(), lease=timedelta(minutes=5), limit=10, due_only=False
        )
        # The dripping feed first, whatever order the database gave: it takes its slot first.
        feeds.sort(key=lambda feed: feed.url != slow.url("/drip"))
        reported: dict[str, tuple[float, FeedReport]] = {}
        started = time.monotonic()

        def note(report: FeedReport) -> None:
            reported[report.url] = (time.monotonic() - started, report)

        worker.refresh_batch(feeds, owner=owner, on_report=note)

    when, dripped = reported.pop(slow.url("/drip"))
    assert dripped.outcome == "error" and "time" in dripped.error.lower()
    assert when >= 2, "the dripping feed did hold its slot until its time-out"
    assert len(reported) == len(good)
    for url, (when, report) in reported.items():
        assert report.outcome == "updated" and report.new_entries == 1, url
        assert when < 1 and report.duration_ms < 1000, f"{url} waited for the dripping feed"
    assert Entry.objects.filter(feed__url__in=reported).count() == len(good)


def _rss_declared(encoding: str, title: bytes) -> bytes:
    return (
        b'<?xml version="1.0" encoding="' + encoding.encode() + b'"?><rss version="2.0"><channel>'
        b"<title>Feed</title><item><guid>1</guid><title>"
        + title
        + b"</title></item></channel></rss>"
    )


def test_feeds_lying_about_their_encoding_are_read_all_the_same(alice: User) -> None:
    recovered = {
        # Bytes that are not UTF-8 at all, in a feed that says UTF-8: read as Windows-1252.
        "/not-utf8": (_rss_declared("utf-8", b"Caf\xc3\x28 \x80 \xff"), "CafÃ( € ÿ"),
        "/unknown-charset": (_rss_declared("x-no-such-charset", b"T\xc3\xa9"), "Té"),
        # Bytes that read as ASCII from the first one cannot be UTF-16 or EBCDIC, whatever
        # the declaration says (an even-length body decodes as UTF-16 into no XML at all).
        "/utf16-lie": (_rss_declared("utf-16", b"Un"), "Un"),
        "/utf16-lie-even": (_rss_declared("utf-16", b"Un."), "Un."),
        "/ebcdic-lie": (_rss_declared("cp500", b"Un"), "Un"),
        # A codec that is no text encoding at all.
        "/hex": (_rss_declared("hex", b"Un"), "Un"),
        # Control characters are not XML; they are dropped, the rest is kept.
        "/nul-bytes": (_rss_declared("utf-8", b"U\x00n\x01"), "Un"),
    }
    routes: dict[str, Route] = {path: Reply(body=body) for path, (body, _) in recovered.items()}
    routes["/good"] = Reply(body=GOOD)
    with LocalServer(routes) as server:
        for path in routes:
            follow(alice, server.url(path))
        summary = worker.refresh_once(all_feeds=True)
    assert len(summary.reports) == len(routes)
    feeds = {"/" + f.url.rsplit("/", 1)[1]: f for f in Feed.objects.all()}
    for path, (_, title) in recovered.items():
        assert feeds[path].last_error == "", path
        assert Entry.objects.get(feed=feeds[path]).title == title, path
    assert Entry.objects.filter(feed=feeds["/good"]).count() == 1
