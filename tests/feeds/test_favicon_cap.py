"""The icon size cap end to end: local sites → the real fetcher → the icon a feed keeps.

pipeline.favicon asks the fetcher for at most MAX_ICON_BYTES; the unit tests' fake site only
does what it is told, so only the real fetcher shows that the cap is actually asked for.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds import worker
from liseuse.feeds.models import Feed
from liseuse.feeds.subscribe import follow
from liseuse.pipeline.favicon import MAX_ICON_BYTES
from tests.httpserver import LocalServer
from tests.httpserver import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def png(size: int) -> bytes:
    """A body of exactly `size` bytes that the favicon step takes for a PNG image."""
    magic = b"\x89PNG\r\n\x1a\n"
    return magic + b"\x00" * (size - len(magic))


def rss(site: str) -> bytes:
    return (
        f'<rss version="2.0"><channel><title>Site</title><link>{site}</link>'
        f"<item><guid>a</guid><title>Un</title></item></channel></rss>"
    ).encode()


def page(icon: str) -> Reply:
    return Reply(
        headers={"Content-Type": "text/html"},
        body=f'<html><head><link rel="icon" href="{icon}"></head></html>'.encode(),
    )


@pytest.fixture(autouse=True)
def _allow_loopback() -> Iterator[None]:
    with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        yield


def test_an_icon_over_the_cap_is_not_kept_and_one_at_the_cap_is(alice: User) -> None:
    # Two sites on one server, each declaring its icon; the host has no /favicon.ico to fall
    # back on. Far under the feed body limit (15 MB): only the icon's own cap refuses it.
    big, fitting = png(MAX_ICON_BYTES + 1), png(MAX_ICON_BYTES)
    routes = {
        "/big/": page("/big.png"),
        "/big.png": Reply(headers={"Content-Type": "image/png"}, body=big),
        "/fits/": page("/fits.png"),
        "/fits.png": Reply(headers={"Content-Type": "image/png"}, body=fitting),
    }
    with LocalServer(routes) as server:
        for site in ("big", "fits"):
            server.routes[f"/{site}.xml"] = Reply(body=rss(server.url(f"/{site}/")))
            follow(alice, server.url(f"/{site}.xml"))
        summary = worker.refresh_once(all_feeds=True)
        # Both icons were asked for: the big one is missing for its size, not for lack of a try.
        assert server.paths().count("/big.png") == 1
        assert server.paths().count("/fits.png") == 1
    assert summary.count("updated") == 2
    feeds = {feed.url.rsplit("/", 1)[1]: feed for feed in Feed.objects.all()}
    assert feeds["big.xml"].favicon is None
    assert feeds["big.xml"].favicon_checked_at is not None  # looked for, none kept: look later
    kept = feeds["fits.xml"].favicon
    assert kept is not None and bytes(kept.data) == fitting


def test_a_feed_that_names_no_site_gets_its_hosts_icon(alice: User) -> None:
    icon = png(200)
    routes = {
        "/feed.xml": Reply(
            body=b'<rss version="2.0"><channel><title>Sans site</title>'
            b"<item><guid>a</guid><title>Un</title></item></channel></rss>"
        ),
        "/": page("/logo.png"),
        "/logo.png": Reply(headers={"Content-Type": "image/png"}, body=icon),
    }
    with LocalServer(routes) as server:
        follow(alice, server.url("/feed.xml"))
        worker.refresh_once(all_feeds=True)
    kept = Feed.objects.get().favicon
    assert kept is not None and bytes(kept.data) == icon


def test_the_icon_of_a_site_whose_page_is_over_the_page_cap_is_found(alice: User) -> None:
    # Inline scripts and styles make some home pages weigh megabytes; the <head> is at the top.
    icon = png(300)
    head = b'<html><head><link rel="icon" href="/logo.png"></head><body>'
    big_page = head + b"<script>" + b"x" * (2 * 1024 * 1024) + b"</script></body></html>"
    routes = {
        "/feed.xml": Reply(body=rss("/")),
        "/": Reply(headers={"Content-Type": "text/html"}, body=big_page),
        "/logo.png": Reply(headers={"Content-Type": "image/png"}, body=icon),
    }
    with LocalServer(routes) as server:
        server.routes["/feed.xml"] = Reply(body=rss(server.url("/")))
        follow(alice, server.url("/feed.xml"))
        worker.refresh_once(all_feeds=True)
    kept = Feed.objects.get().favicon
    assert kept is not None and bytes(kept.data) == icon
