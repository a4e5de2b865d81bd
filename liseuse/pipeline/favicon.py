"""A site's icon: found once, size-capped, checked to be an image, then served by liseuse itself
(so that the reader's browser never asks the site for it).

    the feed's own icon (atom:icon, JSON Feed favicon…) → the site page's <link rel="icon"> →
    /favicon.ico, first that answers with an image of at most MAX_ICON_BYTES.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from typing import Protocol
from typing import TypeVar
from urllib.parse import urljoin
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from liseuse.pipeline.types import FetchResult
from liseuse.pipeline.types import PipelineError

T = TypeVar("T")

MAX_ICON_BYTES = 256 * 1024
MAX_PAGE_BYTES = 1024 * 1024

# Recognised by their first bytes, whatever the server's Content-Type says.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"RIFF", "image/webp"),  # checked further below
)


@dataclass(frozen=True, slots=True)
class Icon:
    content_type: str
    data: bytes


class IconFetcher(Protocol):
    async def fetch(
        self, url: str, *, max_bytes: int | None = None, accept: str = "*/*", partial: bool = False
    ) -> FetchResult: ...


def sniff_image(data: bytes) -> str | None:
    """The image type of `data` from its first bytes, or None if it is not an image we serve."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            if kind == "image/webp" and data[8:12] != b"WEBP":
                return None
            return kind
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"  # served under a sandboxing CSP (see ui's favicon view)
    return None


def icon_links(html: bytes, base_url: str) -> list[str]:
    """The icons a page declares, most specific first."""
    try:
        document = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    # Relative hrefs are relative to the page's <base href> when it has one (sites serving
    # their assets from elsewhere say so there), as the browser showing the page reads them.
    base = base_url
    for element in document.iter("base"):
        if element.get("href"):
            base = urljoin(base_url, element.get("href", "").strip())
            break
    found: list[str] = []
    for link in document.iter("link"):
        rel = {part.lower() for part in (link.get("rel") or "").split()}
        href = (link.get("href") or "").strip()
        if href and rel & {"icon", "apple-touch-icon"}:
            url = urljoin(base, href)
            if urlsplit(url).scheme in {"http", "https"} and url not in found:
                found.append(url)
    return found


async def _icon_at(fetcher: IconFetcher, url: str) -> Icon | None:
    try:
        result = await fetcher.fetch(url, max_bytes=MAX_ICON_BYTES, accept="image/*")
    except PipelineError:
        return None
    kind = sniff_image(result.body)
    return Icon(kind, result.body) if kind and result.body else None


async def _page_icons(fetcher: IconFetcher, site_url: str) -> tuple[str, ...]:
    try:
        # Its <head> is all that matters: a bigger page (inline scripts and styles) is cut.
        page = await fetcher.fetch(
            site_url, max_bytes=MAX_PAGE_BYTES, accept="text/html", partial=True
        )
    except PipelineError:
        return ()
    return tuple(icon_links(page.body, page.url))


class IconSearch:
    """The icon lookups of one refresh pass, each URL asked at most once.

    A site's several feeds (its categories, its comments) lead to the same page, and every feed
    of a host to the same /favicon.ico: asked once per feed, a first refresh of 1,000 feeds on
    50 hosts sent 1,000 requests for /favicon.ico where 50 answer the same. Lookups of the same
    URL at the same moment share one request. Icons are kept for the pass up to
    `max_kept_bytes` in all (an icon may be up to MAX_ICON_BYTES): past that, a URL is asked
    again rather than held in memory.
    """

    def __init__(self, fetcher: IconFetcher, *, max_kept_bytes: int = 4 * 1024 * 1024) -> None:
        self._fetcher = fetcher
        self._pages: dict[str, asyncio.Task[tuple[str, ...]]] = {}
        self._icons: dict[str, asyncio.Task[Icon | None]] = {}
        self._room = max_kept_bytes

    async def find(self, *, site_url: str | None, icon_url: str | None) -> Icon | None:
        """The feed's own icon, else one its site's page declares, else the host's
        /favicon.ico: the first that is an image of at most MAX_ICON_BYTES."""
        candidates: list[str] = []
        if icon_url:
            candidates.append(icon_url)
        favicon = None
        if site_url and urlsplit(site_url).scheme in {"http", "https"}:
            links = await self._shared(self._pages, site_url, _page_icons(self._fetcher, site_url))
            candidates.extend(u for u in links if u not in candidates)
            parts = urlsplit(site_url)
            favicon = f"{parts.scheme}://{parts.netloc}/favicon.ico"
        # A few requests at most, however many icons a page lists; /favicon.ico always among
        # them, the one place nearly every site keeps one.
        candidates = [u for u in candidates if u != favicon][:3]
        if favicon is not None:
            candidates.append(favicon)
        for url in candidates:
            icon = await self._icon(url)
            if icon is not None:
                return icon
        return None

    async def _icon(self, url: str) -> Icon | None:
        return await self._shared(self._icons, url, self._icon_kept(url))

    async def _icon_kept(self, url: str) -> Icon | None:
        icon = await _icon_at(self._fetcher, url)
        if icon is not None:
            if len(icon.data) <= self._room:
                self._room -= len(icon.data)
            else:
                self._icons.pop(url, None)  # no room left to keep it: the next feed asks again
        return icon

    @staticmethod
    async def _shared(
        tasks: dict[str, asyncio.Task[T]], url: str, lookup: Coroutine[Any, Any, T]
    ) -> T:
        known = tasks.get(url)
        if known is None:
            tasks[url] = known = asyncio.ensure_future(lookup)
        else:
            lookup.close()  # made for nothing: another feed is asking already
        # Shielded: a feed whose refresh is cancelled must not cancel the others' lookup.
        return await asyncio.shield(known)
