from __future__ import annotations

import asyncio

from liseuse.pipeline import reasons
from liseuse.pipeline.favicon import MAX_ICON_BYTES
from liseuse.pipeline.favicon import Icon
from liseuse.pipeline.favicon import IconSearch
from liseuse.pipeline.favicon import icon_links
from liseuse.pipeline.favicon import sniff_image
from liseuse.pipeline.fetch import describe_size
from liseuse.pipeline.types import FetchError
from liseuse.pipeline.types import FetchResult


def test_images_are_recognised_by_their_bytes_not_their_name() -> None:
    assert sniff_image(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff_image(b"GIF89a...") == "image/gif"
    assert sniff_image(b"\x00\x00\x01\x00\x01\x00") == "image/x-icon"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
    assert sniff_image(b'  <?xml version="1.0"?><svg xmlns="x"/>') == "image/svg+xml"
    assert sniff_image(b"<html><body>404</body></html>") is None
    assert sniff_image(b"") is None


def test_icon_links_are_absolute_and_http_only() -> None:
    page = (
        b'<html><head><link rel="shortcut icon" href="/a.ico"><link rel="apple-touch-icon" '
        b'href="https://cdn.example/b.png"><link rel="icon" href="javascript:alert(1)">'
        b'<link rel="stylesheet" href="/s.css"></head></html>'
    )
    assert icon_links(page, "https://site.example/blog/") == [
        "https://site.example/a.ico",
        "https://cdn.example/b.png",
    ]
    assert icon_links(b"", "https://site.example/") == []


class FakeSite:
    """An IconFetcher over a dict of URL → body (absent: a 404), counting what is asked.

    A body over `max_bytes` fails as the real fetcher's does (a FetchError, not a cut body),
    so that a caller forgetting its cap is caught here too (tests/feeds/test_favicon_cap.py
    checks the same through the real fetcher).
    """

    def __init__(self, bodies: dict[str, bytes], *, delay: float = 0.0) -> None:
        self.bodies = bodies
        self.delay = delay
        self.asked: list[str] = []

    async def fetch(
        self, url: str, *, max_bytes: int | None = None, accept: str = "*/*", partial: bool = False
    ) -> FetchResult:
        self.asked.append(url)
        await asyncio.sleep(self.delay)
        if url not in self.bodies:
            raise FetchError(f"{url}: HTTP 404")
        body = self.bodies[url]
        if max_bytes is not None and partial:
            body = body[:max_bytes]
        if max_bytes is not None and len(body) > max_bytes:
            raise FetchError(reasons.TOO_LARGE.format(size=describe_size(max_bytes)))
        return FetchResult(url=url, status=200, body=body)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ICO = b"\x00\x00\x01\x00\x01\x00" + b"\x00" * 32
PAGE = b'<html><head><link rel="icon" href="/i.png"></head></html>'


def test_an_icon_over_the_cap_is_passed_over_for_the_next_one() -> None:
    big = PNG + b"\x00" * (MAX_ICON_BYTES + 1 - len(PNG))
    site = FakeSite(
        {
            "https://site.example/": PAGE,
            "https://site.example/i.png": big,
            "https://site.example/favicon.ico": PNG,
        }
    )
    found = asyncio.run(IconSearch(site).find(site_url="https://site.example/", icon_url=None))
    assert found == Icon("image/png", PNG)
    assert site.asked == [
        "https://site.example/",
        "https://site.example/i.png",
        "https://site.example/favicon.ico",
    ]


def test_one_pass_asks_each_url_once_for_a_sites_feeds() -> None:
    site = FakeSite({"https://site.example/": PAGE, "https://site.example/i.png": PNG})

    async def run() -> list[Icon | None]:
        search = IconSearch(site)
        first = await search.find(site_url="https://site.example/", icon_url=None)
        second = await search.find(site_url="https://site.example/", icon_url=None)
        return [first, second]

    assert asyncio.run(run()) == [Icon("image/png", PNG)] * 2
    assert site.asked == ["https://site.example/", "https://site.example/i.png"]


def test_feeds_of_one_host_share_its_favicon_ico_and_lookups_at_once_share_a_request() -> None:
    site = FakeSite({"https://host.example/favicon.ico": PNG}, delay=0.01)

    async def run() -> list[Icon | None]:
        search = IconSearch(site)
        return await asyncio.gather(
            *(search.find(site_url=f"https://host.example/{n}/", icon_url=None) for n in range(3))
        )

    assert asyncio.run(run()) == [Icon("image/png", PNG)] * 3
    assert site.asked.count("https://host.example/favicon.ico") == 1
    assert sorted(site.asked[:3]) == [f"https://host.example/{n}/" for n in range(3)]


def test_icons_past_the_memory_budget_are_asked_again_not_kept() -> None:
    site = FakeSite({"https://a.example/favicon.ico": PNG, "https://b.example/favicon.ico": PNG})

    async def run() -> None:
        search = IconSearch(site, max_kept_bytes=len(PNG))  # room for one icon
        for _ in range(2):
            for host in ("a", "b"):
                assert await search.find(site_url=f"https://{host}.example/", icon_url=None)

    asyncio.run(run())
    assert site.asked.count("https://a.example/favicon.ico") == 1  # kept
    assert site.asked.count("https://b.example/favicon.ico") == 2  # no room: asked again


def test_a_cancelled_lookup_leaves_the_shared_request_to_the_others() -> None:
    site = FakeSite({"https://site.example/favicon.ico": PNG}, delay=0.05)

    async def run() -> Icon | None:
        search = IconSearch(site)
        first = asyncio.ensure_future(search.find(site_url="https://site.example/", icon_url=None))
        second = asyncio.ensure_future(search.find(site_url="https://site.example/", icon_url=None))
        await asyncio.sleep(0.01)
        first.cancel()
        return await second

    assert asyncio.run(run()) == Icon("image/png", PNG)
    assert site.asked.count("https://site.example/favicon.ico") == 1


def test_icon_links_are_relative_to_the_pages_base() -> None:
    page = (
        b'<html><head><base href="https://static.example/theme/">'
        b'<link rel="icon" href="icon.png"><link rel="apple-touch-icon" href="/touch.png">'
        b"</head></html>"
    )
    assert icon_links(page, "https://site.example/blog/") == [
        "https://static.example/theme/icon.png",
        "https://static.example/touch.png",
    ]


def test_favicon_ico_is_tried_however_many_icons_a_page_lists() -> None:
    page = b"".join(
        b'<link rel="icon" href="/broken-%d.png">' % n for n in range(6)
    )  # every one of them a 404
    site = FakeSite({"https://site.example/": page, "https://site.example/favicon.ico": ICO})
    found = asyncio.run(IconSearch(site).find(site_url="https://site.example/", icon_url=None))
    assert found == Icon("image/x-icon", ICO)
    # A few of the page's icons, then /favicon.ico: five requests in all, never six icons.
    assert site.asked == [
        "https://site.example/",
        "https://site.example/broken-0.png",
        "https://site.example/broken-1.png",
        "https://site.example/broken-2.png",
        "https://site.example/favicon.ico",
    ]
