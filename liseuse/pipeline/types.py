"""The data that moves between the pipeline's steps.

Every type here is frozen: a step never changes what it was given, it returns something new.
Datetimes are always timezone-aware and in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime


class PipelineError(Exception):
    """A problem with one feed, said in words a person can read (shown on the feed-health page)."""


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What we know of a feed before asking for it again."""

    url: str
    etag: str | None = None
    last_modified: str | None = None  # the server's Last-Modified, sent back verbatim


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes `first` to `last` (both included) of a body of `total` bytes (None: not said)."""

    first: int
    last: int
    total: int | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful answer (2xx or 304) for one feed."""

    url: str  # the URL finally answered, after redirects
    status: int  # 200…299, or 304
    body: bytes  # empty on 304
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # Set only when every hop of the redirect chain was permanent (301/308): the feed's URL
    # may be updated to it once the body parsed as a feed.
    permanent_url: str | None = None
    # The earliest time the server wants us back (Cache-Control max-age / Expires), if it said.
    not_before: datetime | None = None
    # Set when a part of the body was asked for (`Fetcher.fetch(byte_range=…)`): which part
    # `body` is, whether the server sent that part (206) or the whole body (200) it was cut from.
    content_range: ByteRange | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class FetchError(PipelineError):
    """The feed could not be fetched; `reason` is readable, the other fields steer scheduling."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        gone: bool = False,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.gone = gone  # 410: the feed is disabled
        self.retry_after = retry_after  # 429/503 Retry-After, as an instant


class RangeNotSatisfiable(FetchError):
    """A part asked for starts after the end of the file (416); `size` is the file's length when
    the site told it or the body showed it, which a 416 passes on (`Content-Range: bytes */n`)."""

    def __init__(self, reason: str, *, size: int | None) -> None:
        super().__init__(reason, status=416)
        self.size = size


class BlockedAddressError(FetchError):
    """The URL (or a hop of it) leads to an address the private-network guard refuses."""


class ParseError(PipelineError):
    """The body is not a feed we can read (HTML page, empty body, broken beyond recovery…)."""


@dataclass(frozen=True, slots=True)
class ParsedEnclosure:
    url: str
    mime_type: str = ""
    length: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One entry as the feed gave it. HTML fields are NOT yet sanitized; text fields are plain text."""

    guid: str | None = None
    link: str | None = None
    title: str = ""  # plain text
    content: str = ""  # HTML (the fullest body: content:encoded, atom:content, content_html…)
    summary: str = ""  # HTML (description / atom:summary), may equal content
    author: str = ""  # plain text
    published: datetime | None = None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()  # plain text
    enclosures: tuple[ParsedEnclosure, ...] = ()
    # The base against which relative URLs in content/summary resolve (xml:base, else entry link).
    base_url: str | None = None
    # A picture standing for the entry (media:thumbnail, JSON Feed's image): a video's still.
    thumbnail: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document, read into plain data."""

    format: str  # "rss20", "rss10", "rss09x", "atom10", "atom03", "json10", "json11"
    title: str = ""  # plain text
    link: str | None = None  # the site's home page (alternate)
    self_url: str | None = None  # atom:link rel=self, if any
    hub_url: str | None = None  # WebSub hub, if any
    description: str = ""  # plain text
    icon_url: str | None = None
    ttl_minutes: int | None = None  # RSS <ttl>
    # The language its entries are written in, as the feed says it (RSS <language>, Atom's
    # xml:lang, JSON Feed's `language`): a BCP 47 tag once sanitized, else "".
    language: str = ""
    entries: tuple[ParsedEntry, ...] = field(default_factory=tuple)
