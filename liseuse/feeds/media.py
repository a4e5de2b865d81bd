"""The optional media proxy (`LISEUSE_MEDIA_PROXY`): images, audio and video of entries served
through liseuse, so that reading does not tell every site the reader's address.

Stored HTML keeps the original URLs; when the proxy is on, `proxify_html` rewrites them as the
HTML leaves liseuse (pages and both APIs), to `/media/<signed token>`. The token is the URL
signed with the instance's secret: the proxy fetches only what liseuse itself pointed at, never
a URL someone made up, and through the one guarded fetcher (private networks refused).

Audio and video go through in parts, as browsers ask for them (`Range: bytes=N-`): each request
asks the site for one chunk of the file at most, so a podcast episode of 150 MB plays and seeks
while the proxy never holds more than a chunk of it. Images are passed on whole.
"""

from __future__ import annotations

import asyncio
import html
import re
from contextvars import ContextVar
from dataclasses import replace

from django.conf import settings
from django.core import signing

from liseuse.pipeline.fetch import Fetcher
from liseuse.pipeline.types import FetchResult

SALT = "liseuse.media-proxy"
# Media kinds the proxy serves; anything else (HTML, scripts, SVG documents) is refused.
SERVED_TYPES = ("image/", "audio/", "video/")
PLAYED_TYPES = ("audio/", "video/")
ACCEPT = "image/*, audio/*, video/*"
# The most one request asks a site for, and holds, when it asks for a part (never more than
# LISEUSE_MEDIA_PROXY_MAX_BYTES): a browser asks for the rest itself, part after part. A few
# minutes of a podcast, a few seconds of a video.
CHUNK_BYTES = 4 * 1024 * 1024

# The one form of Range the proxy answers; HTTP lets a server ignore the others.
_RANGE = re.compile(r"bytes=(\d{1,18})-(\d{1,18})?", re.ASCII)

# The stored HTML went through nh3: every attribute value is double-quoted and escaped, so a
# regular expression over `src`, `poster` and `srcset` values is exact here (and only here).
# An iframe's start tag is matched whole and left as it is: its src is a player's page (the
# sanitizer's allowed hosts), which the proxy would refuse to serve, and which loaded from
# liseuse's own origin would defeat the iframe's sandbox.
_SRC = re.compile(r'<iframe\b[^>]*>|(?P<name>\b(?:src|poster))="(?P<url>https?://[^"]+)"')
_SRCSET = re.compile(r'\bsrcset="(?P<value>[^"]+)"')


# "https://host" of the request being answered, set by `liseuse.middleware`: URLs sent to apps
# must be absolute (an app resolves relative ones against the feed's site, not liseuse).
REQUEST_ORIGIN: ContextVar[str] = ContextVar("liseuse_request_origin", default="")


def for_apps(content: str) -> str:
    """`proxify_html` with absolute URLs, for the two APIs."""
    return proxify_html(content, REQUEST_ORIGIN.get())


def attachment_for_apps(url: str, declared_type: str) -> str:
    """An attachment's URL as the APIs give it: through the proxy (absolute) when the proxy is
    on and the feed says it is an image, a sound or a video, which the proxy serves; as it is
    otherwise (a PDF, a type the feed did not give: the proxy would refuse them)."""
    if not enabled() or not declared_type.strip().lower().startswith(SERVED_TYPES):
        return url
    if not url.startswith(("http://", "https://")):
        return url
    return proxied(url, REQUEST_ORIGIN.get())


def enabled() -> bool:
    return bool(getattr(settings, "LISEUSE_MEDIA_PROXY", False))


def proxied(url: str, origin: str = "") -> str:
    """The proxy's URL for `url`; `origin` ("https://host") makes it absolute, for apps."""
    token = signing.dumps(url, salt=SALT, compress=True)
    return f"{origin}/media/{token}"


def unsign(token: str) -> str | None:
    try:
        url = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def proxify_html(content: str, origin: str = "") -> str:
    """`content` with its media URLs sent through the proxy (as is when the proxy is off);
    `origin` makes the new URLs absolute, for apps that read the HTML outside liseuse."""
    if not enabled() or not content:
        return content

    def one(match: re.Match[str]) -> str:
        if match["name"] is None:  # an iframe's start tag
            return match[0]
        url = html.unescape(match["url"])
        return f'{match["name"]}="{html.escape(proxied(url, origin))}"'

    def srcset(match: re.Match[str]) -> str:
        candidates = []
        for candidate in html.unescape(match["value"]).split(","):
            parts = candidate.strip().split(maxsplit=1)
            if not parts or not parts[0].startswith(("http://", "https://")):
                continue
            parts[0] = proxied(parts[0], origin)
            candidates.append(" ".join(parts))
        return f'srcset="{html.escape(", ".join(candidates))}"'

    return _SRCSET.sub(srcset, _SRC.sub(one, content))


def max_bytes() -> int:
    return int(settings.LISEUSE_MEDIA_PROXY_MAX_BYTES)


def chunk_bytes() -> int:
    return min(CHUNK_BYTES, max_bytes())


def requested_range(header: str | None) -> tuple[int, int | None] | None:
    """A request's "Range: bytes=first-[last]" as (first, last or None). None without a Range
    and for the forms the proxy ignores, as HTTP allows: several ranges, a suffix
    ("bytes=-500", which browsers' players do not send), another unit, nonsense."""
    match = _RANGE.fullmatch((header or "").strip())
    if match is None:
        return None
    first, last = int(match[1]), None if match[2] is None else int(match[2])
    if last is not None and last < first:
        return None
    return first, last


# One media type, type/subtype in RFC 6838's characters, nothing else: what the proxy sends
# back is this, never the site's header as it came.
_MEDIA_TYPE = re.compile(r"(image|audio|video)/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}", re.ASCII)


def media_type(result: FetchResult) -> str | None:
    """The answer's media type if the proxy serves it; None for anything else (SVG included:
    an image that can hold scripts).

    Read strictly: "image/png,text/html" starts like an image, but a browser takes the last of
    a list of types, and would show a page (or run a script) from liseuse's own address."""
    kind = (result.content_type or "").split(";")[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(kind) or kind == "image/svg+xml":
        return None
    return kind


def fetch_media(url: str, byte_range: tuple[int, int] | None = None) -> FetchResult:
    """Fetch what the proxy serves, whole or only the part `byte_range` (see `Fetcher.fetch`);
    raises `PipelineError` (a readable reason) on failure."""
    from liseuse.feeds.worker import fetch_config

    # The feeds' guard without its blanket exception: LISEUSE_ALLOW_PRIVATE_NETWORKS lets
    # liseuse read intranet feeds, not let any feed's author, through whoever opens the page
    # (anonymous visitors of /public/ too), have it fetch from the network. Only the networks
    # named in LISEUSE_ALLOWED_NETWORKS are open to the proxy.
    config = replace(fetch_config(), allow_private_networks=False)

    async def run() -> FetchResult:
        async with Fetcher(config) as fetcher:
            return await fetcher.fetch(
                url, max_bytes=max_bytes(), accept=ACCEPT, byte_range=byte_range
            )

    return asyncio.run(run())
