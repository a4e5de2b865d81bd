"""Find the feeds of a site from a page URL: `<link rel="alternate">`, else the common paths.

url → fetch → is it a feed? → that feed
            └ an HTML page → its <link rel="alternate" type="…rss|atom|json…"> links
                             └ none → try /feed, /rss, /atom.xml … on the same site
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from liseuse.pipeline import reasons
from liseuse.pipeline.parse import parse_feed
from liseuse.pipeline.types import FetchError
from liseuse.pipeline.types import FetchResult
from liseuse.pipeline.types import ParsedFeed
from liseuse.pipeline.types import ParseError
from liseuse.pipeline.types import PipelineError

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json",
        "application/rdf+xml",
        "text/xml",
        "application/xml",
    }
)
# Where sites usually keep a feed when their pages do not say (WordPress, Hugo, Jekyll, Ghost…).
COMMON_PATHS = ("/feed", "/rss", "/atom.xml", "/feed.xml", "/rss.xml", "/index.xml", "/feed.json")
# A page we only read for its <link> elements: no need for more.
MAX_PAGE_BYTES = 2 * 1024 * 1024


class DiscoveryError(PipelineError):
    pass


@dataclass(frozen=True, slots=True)
class Candidate:
    url: str
    title: str


@dataclass(frozen=True, slots=True)
class Discovery:
    """Either the URL was a feed (`feed` set), or the site offers these `candidates`."""

    url: str
    feed: ParsedFeed | None
    candidates: tuple[Candidate, ...] = ()


class PageFetcher(Protocol):
    """What discovery needs of `pipeline.fetch.Fetcher`."""

    async def fetch(
        self, url: str, *, max_bytes: int | None = None, accept: str = "*/*"
    ) -> FetchResult: ...


def feed_links(html: bytes, base_url: str) -> list[Candidate]:
    """The feeds a page announces in its <head>, in page order, without duplicates."""
    try:
        document = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    found: list[Candidate] = []
    seen: set[str] = set()
    base = base_url
    for element in document.iter("base"):
        if element.get("href"):
            base = urljoin(base_url, element.get("href", ""))
            break
    for link in document.iter("link"):
        rel = {part.lower() for part in (link.get("rel") or "").split()}
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme not in {"http", "https"} or url in seen:
            continue
        seen.add(url)
        found.append(Candidate(url=url, title=(link.get("title") or "").strip()))
    return found


async def _try_feed(fetcher: PageFetcher, url: str) -> tuple[str, ParsedFeed] | None:
    try:
        result = await fetcher.fetch(url)
        return result.url, parse_feed(result.body, url=result.url, content_type=result.content_type)
    except PipelineError:
        return None


async def discover(fetcher: PageFetcher, url: str) -> Discovery:
    """What `url` leads to. Raises FetchError when it cannot be fetched, DiscoveryError when no
    feed is found; both name `url`, which the person just typed."""
    try:
        result = await fetcher.fetch(url, max_bytes=None)
    except FetchError as exc:
        raise type(exc)(
            reasons.NOT_FETCHED.format(url=url, reason=exc.reason),
            status=exc.status,
            gone=exc.gone,
            retry_after=exc.retry_after,
        ) from exc
    try:
        feed = parse_feed(result.body, url=result.url, content_type=result.content_type)
        return Discovery(url=result.url, feed=feed)
    except ParseError as not_a_feed:
        reason = str(not_a_feed)
    candidates = feed_links(result.body[:MAX_PAGE_BYTES], result.url)
    if not candidates:
        parts = urlsplit(result.url)
        root = f"{parts.scheme}://{parts.netloc}"
        tries = await asyncio.gather(*(_try_feed(fetcher, root + path) for path in COMMON_PATHS))
        seen: set[str] = set()
        for hit in tries:
            if hit is not None and hit[0] not in seen:
                seen.add(hit[0])
                candidates.append(Candidate(url=hit[0], title=hit[1].title))
    if not candidates:
        raise DiscoveryError(reasons.NOTHING_FOUND.format(url=url, reason=reason))
    return Discovery(url=result.url, feed=None, candidates=tuple(candidates))


__all__ = ["Candidate", "Discovery", "DiscoveryError", "FetchError", "discover", "feed_links"]
