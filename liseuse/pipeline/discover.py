"""Find the feeds of a site from a page URL: `<link rel="alternate">`, else the common paths.

url → fetch → is it a feed? → that feed
            └ an HTML page → its <link rel="alternate" type="…rss|atom|json…"> links
                             (those of a generic JSON/XML type only if they parse as feeds)
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

# Types that name a feed format: a link of one of them is offered as it is.
FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml"}
)
# Generic types some feeds are announced with, but not only feeds: WordPress links its REST API's
# JSON view of every page as rel="alternate" type="application/json". A link of one of these is
# offered only once its document parses as a feed.
GENERIC_TYPES = frozenset({"application/json", "text/xml", "application/xml"})
# How many links of a generic type one page may have checked: a page listing thousands must not
# turn one discovery into thousands of requests. Past these, such links are left out.
MAX_CHECKED_LINKS = 8
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


def feed_links(html: bytes, base_url: str) -> list[tuple[Candidate, bool]]:
    """The feeds a page announces in its <head>, in page order, without duplicates, each with
    whether its type names a feed format (False: a generic type, to be checked by fetching)."""
    try:
        document = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    found: list[tuple[Candidate, bool]] = []
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
        if "alternate" not in rel or kind not in FEED_TYPES | GENERIC_TYPES or not href:
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme not in {"http", "https"} or url in seen:
            continue
        seen.add(url)
        title = (link.get("title") or "").strip()
        found.append((Candidate(url=url, title=title), kind in FEED_TYPES))
    return found


def _address(asked: str, result: FetchResult) -> str:
    """The URL to follow a feed at: where a chain of permanent redirects led, else the one
    asked. The target of a temporary redirect (a signed CDN address, today's mirror) is not the
    feed's address and may stop answering; the refresh moves a feed once a permanent one is
    confirmed."""
    return result.permanent_url or asked


async def _try_feed(fetcher: PageFetcher, url: str) -> tuple[str, ParsedFeed] | None:
    try:
        result = await fetcher.fetch(url)
        feed = parse_feed(result.body, url=result.url, content_type=result.content_type)
    except PipelineError:
        return None
    return _address(url, result), feed


async def _checked(fetcher: PageFetcher, link: Candidate, certain: bool) -> Candidate | None:
    """`link` if it is a feed: as it is when its type says so, else once fetched and parsed."""
    if certain:
        return link
    hit = await _try_feed(fetcher, link.url)
    return None if hit is None else Candidate(url=hit[0], title=link.title or hit[1].title)


def _unique(candidates: list[Candidate | None]) -> list[Candidate]:
    seen: set[str] = set()
    unique = []
    for candidate in candidates:
        if candidate is not None and candidate.url not in seen:
            seen.add(candidate.url)
            unique.append(candidate)
    return unique


def _kind(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _may_be_a_page(content_type: str | None) -> bool:
    """Whether an answer of this type may be a web page (or says nothing of what it is)."""
    kind = _kind(content_type)
    return not kind or kind.startswith("text/") or any(k in kind for k in ("html", "xml", "json"))


def _names_a_document(content_type: str | None) -> bool:
    """Whether the type says the answer is a feed, or XML or JSON, rather than a web page."""
    kind = _kind(content_type)
    if "html" in kind:
        return False
    return kind in FEED_TYPES | GENERIC_TYPES or kind.endswith(("+xml", "+json"))


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
        return Discovery(url=_address(url, result), feed=feed)
    except ParseError as not_a_feed:
        reason = str(not_a_feed)
    if not _may_be_a_page(result.content_type) or (
        _names_a_document(result.content_type) and reason != reasons.HTML_PAGE
    ):
        # An image, a PDF, an archive: it has no <link> to read, and its site's feeds found at
        # the common paths would be offered as if this file had named them. Nor has a feed
        # that does not parse, or XML or JSON that is no feed: what is wrong with it is the
        # answer (the site's other feeds hid it, offered instead).
        raise DiscoveryError(reasons.NOTHING_FOUND.format(url=url, reason=reason))
    links = feed_links(result.body[:MAX_PAGE_BYTES], result.url)
    unsure = [link for link, certain in links if not certain]
    links = [
        (link, certain) for link, certain in links if certain or link in unsure[:MAX_CHECKED_LINKS]
    ]
    candidates = _unique(
        await asyncio.gather(*(_checked(fetcher, link, certain) for link, certain in links))
    )
    if not candidates:
        parts = urlsplit(result.url)
        root = f"{parts.scheme}://{parts.netloc}"
        tries = await asyncio.gather(*(_try_feed(fetcher, root + path) for path in COMMON_PATHS))
        candidates = _unique(
            [None if hit is None else Candidate(url=hit[0], title=hit[1].title) for hit in tries]
        )
    if not candidates:
        raise DiscoveryError(reasons.NOTHING_FOUND.format(url=url, reason=reason))
    return Discovery(url=result.url, feed=None, candidates=tuple(candidates))


__all__ = ["Candidate", "Discovery", "DiscoveryError", "FetchError", "discover", "feed_links"]
