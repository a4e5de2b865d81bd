"""Make what a feed says safe to show: allow-listed HTML, plain-text titles, clean absolute URLs.

This is the last step before storing, so whatever is stored can be shown by the web interface or
handed to an API client without further cleaning. The HTML cleaning itself is done by nh3 (Rust's
ammonia) with module-level allow-lists; this module only adds what ammonia does not know about:

- every URL attribute (including each `srcset` candidate, `cite` and `poster`, which ammonia
  does not check) is made absolute and must be http, https or (links only) mailto;
- tracking parameters are removed from links;
- tracking pixels (1x1 images, known tracker hosts) and iframes from hosts outside the allow-list
  are removed, and the inner text of kept iframes is dropped (it is raw text no browser shows,
  but an API client's HTML parser could read it as markup).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterator
from contextvars import ContextVar
from html import unescape

import nh3

from liseuse.pipeline.types import ParsedEnclosure
from liseuse.pipeline.types import ParsedEntry
from liseuse.pipeline.types import ParsedFeed
from liseuse.pipeline.urls import LINK_SCHEMES
from liseuse.pipeline.urls import WEB_SCHEMES
from liseuse.pipeline.urls import absolutize
from liseuse.pipeline.urls import host_of
from liseuse.pipeline.urls import safe_url
from liseuse.pipeline.urls import scheme_of
from liseuse.pipeline.urls import strip_tracking_params

ALLOWED_TAGS = frozenset(
    {
        *("a", "abbr", "acronym", "address", "article", "aside", "audio", "b", "bdi", "bdo"),
        *("big", "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup"),
        *("dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure"),
        *("footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "i", "iframe"),
        *("img", "ins", "kbd", "li", "mark", "ol", "p", "picture", "pre", "q", "rp", "rt"),
        *("ruby", "s", "samp", "section", "small", "source", "span", "strike", "strong", "sub"),
        *("summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr"),
        *("track", "tt", "u", "ul", "var", "video", "wbr"),
    }
)

# Dropped together with everything inside them (other disallowed tags only lose the tag itself
# and keep their text).
DROPPED_WITH_CONTENT_TAGS = frozenset(
    {
        *("script", "style", "template", "noscript", "noembed", "noframes", "object", "embed"),
        *("applet", "svg", "math", "select", "textarea", "button", "title", "head"),
    }
)

GENERIC_ATTRIBUTES = frozenset({"title", "lang", "dir"})

ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": GENERIC_ATTRIBUTES,
    "a": frozenset({"href", "hreflang"}),
    "abbr": frozenset(),
    "audio": frozenset({"src", "controls", "loop", "preload"}),
    "blockquote": frozenset({"cite"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "del": frozenset({"cite", "datetime"}),
    "details": frozenset({"open"}),
    "iframe": frozenset({"src", "width", "height", "allowfullscreen"}),
    "img": frozenset({"src", "srcset", "sizes", "alt", "width", "height"}),
    "ins": frozenset({"cite", "datetime"}),
    "li": frozenset({"value"}),
    "ol": frozenset({"start", "reversed", "type"}),
    "q": frozenset({"cite"}),
    "source": frozenset({"src", "srcset", "sizes", "type", "media"}),
    "td": frozenset({"colspan", "rowspan", "headers"}),
    "th": frozenset({"colspan", "rowspan", "headers", "scope", "abbr"}),
    "time": frozenset({"datetime"}),
    "track": frozenset({"src", "kind", "srclang", "label", "default"}),
    "video": frozenset({"src", "poster", "controls", "loop", "preload", "width", "height"}),
}

# Attributes whose value is one URL; `srcset` (a list of them) is handled on its own.
URL_ATTRIBUTES = frozenset({"href", "src", "cite", "poster"})
# Only links may be mailto:; whatever a page loads by itself must be http(s).
URL_SCHEMES = LINK_SCHEMES

# Set on every element of the tag, whatever the feed said.
IFRAME_SANDBOX = "allow-scripts allow-same-origin allow-popups"
FORCED_ATTRIBUTES: dict[str, dict[str, str]] = {
    "a": {"target": "_blank"},  # rel="noopener noreferrer" comes from nh3's link_rel
    "img": {"loading": "lazy"},
    "iframe": {"sandbox": IFRAME_SANDBOX, "loading": "lazy"},
}
LINK_REL = "noopener noreferrer"

# Players that are safe and useful to embed. Hosts match exactly (no subdomains): an embed
# host is a specific service, and subdomains of big hosts can be user content.
IFRAME_HOSTS = frozenset(
    {
        *("www.youtube.com", "youtube.com", "m.youtube.com"),
        *("www.youtube-nocookie.com", "youtube-nocookie.com"),
        *("player.vimeo.com", "www.dailymotion.com", "geo.dailymotion.com"),
        *("w.soundcloud.com", "bandcamp.com", "archive.org", "www.archive.org"),
        *("open.spotify.com", "embed.podcasts.apple.com", "player.twitch.tv", "embed.ted.com"),
        *("www.podbean.com", "player.simplecast.com", "html5-player.libsyn.com"),
    }
)

# Images from these hosts (or their subdomains) only count readers.
TRACKER_HOSTS = frozenset(
    {
        *("pixel.wp.com", "stats.wordpress.com", "google-analytics.com", "doubleclick.net"),
        *("pixel.quantserve.com", "scorecardresearch.com", "pi.feedsportal.com"),
        *("feeds.feedblitz.com", "pixel.mathtag.com", "tracking.feedpress.it", "pixel.monitor1.io"),
        *("certify.alexametrics.com", "ad.doubleclick.net", "analytics.twitter.com"),
    }
)
# Tracker images that live under a path of an otherwise ordinary host.
TRACKER_URL_PREFIXES = (
    "feeds.feedburner.com/~r/",
    "feeds.feedburner.com/~ff/",
    "feedproxy.google.com/~r/",
    "www.facebook.com/tr",
    "medium.com/_/stat",
)

_current_base: ContextVar[str | None] = ContextVar("_current_base", default=None)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """nh3's per-attribute hook: resolve and check URLs, drop trackers' and unknown iframes' src.

    nh3 has already dropped attributes outside the allow-list and URLs with a forbidden scheme,
    but lets relative URLs through; they are resolved here against the current base.
    """
    if attribute == "srcset":
        return _clean_srcset(value)
    if attribute not in URL_ATTRIBUTES:
        return value
    base = _current_base.get()
    if attribute == "href" and base is None and value.strip().startswith("#"):
        return value.strip()  # an in-entry anchor (footnotes) needs no base
    schemes = LINK_SCHEMES if attribute == "href" else WEB_SCHEMES
    url = safe_url(value, base=base, schemes=schemes)
    if url is None:
        return None
    if attribute == "href":
        return strip_tracking_params(url)
    if tag == "iframe":
        return _iframe_src(url)
    if tag == "img" and is_tracker_url(url):
        # The element itself cannot be removed from here; an img left without a src is
        # removed by _drop_empty_media afterwards.
        return None
    return url


def _iframe_src(url: str) -> str | None:
    if host_of(url) not in IFRAME_HOSTS:
        return None
    # Every allowed player serves https; never embed a page over plain http.
    if scheme_of(url) == "http":
        url = "https" + url[4:]
    return url


def is_tracker_url(url: str) -> bool:
    """True for the URL of a known tracking image."""
    labels = host_of(url).split(".")
    # The host itself or any domain above it ("a.b.c" → "a.b.c", "b.c", "c").
    if any(".".join(labels[i:]) in TRACKER_HOSTS for i in range(len(labels))):
        return True
    without_scheme = url.split("://", 1)[-1].lower()
    return without_scheme.startswith(TRACKER_URL_PREFIXES)


_SRCSET_SPACE = " \t\n\r\f"
_SRCSET_DESCRIPTOR = re.compile(r"\d+(\.\d+)?[wxh]")


def _srcset_candidates(value: str) -> Iterator[tuple[str, str]]:
    """(url, descriptor) pairs of a srcset, read the way the HTML standard reads them.

    A URL runs up to the next blank (it may contain commas); a trailing comma ends it. The
    descriptor runs up to the next comma outside parentheses.
    """
    pos, end = 0, len(value)
    while True:
        while pos < end and (value[pos] in _SRCSET_SPACE or value[pos] == ","):
            pos += 1
        if pos >= end:
            return
        start = pos
        while pos < end and value[pos] not in _SRCSET_SPACE:
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            yield url.rstrip(","), ""
            continue
        start, depth = pos, 0
        while pos < end and not (value[pos] == "," and depth == 0):
            if value[pos] == "(":
                depth += 1
            elif value[pos] == ")" and depth:
                depth -= 1
            pos += 1
        yield url, value[start:pos].strip()


def _clean_srcset(value: str) -> str | None:
    base = _current_base.get()
    kept = []
    for url, descriptor in _srcset_candidates(value):
        absolute = safe_url(url, base=base, schemes=WEB_SCHEMES)
        if absolute is None or is_tracker_url(absolute):
            continue
        # A descriptor is "640w", "2x" (or the rare "480h"); anything else is dropped.
        if descriptor and _SRCSET_DESCRIPTOR.fullmatch(descriptor):
            kept.append(f"{absolute} {descriptor}")
        else:
            kept.append(absolute)
    return ", ".join(kept) or None


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT_TAGS),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_filter_attribute,
    strip_comments=True,
    link_rel=LINK_REL,
    # One forced attribute per tag at most here (see _iframe_or_nothing for the iframe's two).
    set_tag_attribute_values={t: a for t, a in FORCED_ATTRIBUTES.items() if t != "iframe"},
    url_schemes=set(URL_SCHEMES),
)

# nh3's output is regular: lower-case names, double-quoted values in which `"`, `<` and `>`
# are escaped. So these patterns match its tags exactly, which they could not do on raw HTML.
_IFRAME = re.compile(r"<iframe(?P<attrs>[^>]*)>.*?</iframe>", re.DOTALL)
_IMG = re.compile(r"<img(?P<attrs>[^>]*)>")
_ATTR = re.compile(r'\s(?P<name>[^\s="]+)(?:="(?P<value>[^"]*)")?')


def _attributes(text: str) -> dict[str, str]:
    return {m["name"]: m["value"] or "" for m in _ATTR.finditer(text)}


def _is_pixel(size: str | None) -> bool:
    if size is None:
        return False
    match = re.match(r"\s*(\d+)", size)
    return match is not None and int(match[1]) <= 1


def _img_or_nothing(match: re.Match[str]) -> str:
    attrs = _attributes(match["attrs"])
    if "src" not in attrs and "srcset" not in attrs:
        return ""
    if _is_pixel(attrs.get("width")) or _is_pixel(attrs.get("height")):
        return ""
    return match[0]


_IFRAME_FORCED = "".join(
    f' {name}="{value}"' for name, value in FORCED_ATTRIBUTES["iframe"].items()
)


def _iframe_or_nothing(match: re.Match[str]) -> str:
    if "src" not in _attributes(match["attrs"]):
        return ""
    # Added here rather than by nh3, which sets several forced attributes in an order that
    # changes from one process to the next: the same entry would get a new content hash.
    return f"<iframe{match['attrs']}{_IFRAME_FORCED}></iframe>"


def _drop_empty_media(cleaned: str) -> str:
    """Remove iframes without a src (refused host), the inside of the others, and pixel images."""
    if "<iframe" in cleaned:
        cleaned = _IFRAME.sub(_iframe_or_nothing, cleaned)
    if "<img" in cleaned:
        cleaned = _IMG.sub(_img_or_nothing, cleaned)
    return cleaned


def sanitize_html(html: str, *, base_url: str | None) -> str:
    """`html` cleaned down to the allow-lists above, every URL in it absolute against `base_url`.

    Relative URLs are dropped when there is no usable (http or https) base, except `#fragment`
    links, which still make sense inside the entry.
    """
    if not html or html.isspace():
        return ""
    base = base_url if base_url and scheme_of(base_url) in WEB_SCHEMES else None
    token = _current_base.set(base)
    try:
        cleaned = _CLEANER.clean(html)
    finally:
        _current_base.reset(token)
    return _drop_empty_media(cleaned).strip()


_TAG_OR_COMMENT = re.compile(
    r"<!--.*?(?:-->|$)"  # a comment, even an unterminated one
    r"|<(script|style)\b.*?(?:</\1\s*>|$)"  # code that was never meant to be read
    r"|</?[A-Za-z][^<>]*>",  # any other tag; "a < b" and "<3" are left alone
    re.DOTALL | re.IGNORECASE,
)


def _is_unwanted_char(char: str) -> bool:
    # Cc: controls (tabs and newlines were already turned into spaces); Cs: lone surrogates,
    # which cannot even be encoded to UTF-8; Co: private use; Cn: unassigned/noncharacters.
    return unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn")


def plain_text(text: str) -> str:
    """`text` as one line of plain text: tags stripped, entities read, blanks collapsed.

    For titles, authors, categories and feed names. The result is not HTML: templates escape it.
    """
    if not text:
        return ""
    if "<" in text:
        text = _TAG_OR_COMMENT.sub(" ", text)
    if "&" in text:
        text = unescape(text)
    text = " ".join(text.split())
    if not text.isprintable():  # quick check first: most titles have nothing to drop
        text = "".join(c for c in text if not _is_unwanted_char(c))
    return text


def _clean_link(url: str | None, base: str | None) -> str | None:
    return safe_url(url, base=base, schemes=WEB_SCHEMES, strip_tracking=True)


def _clean_categories(categories: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = (plain_text(c) for c in categories)
    return tuple(dict.fromkeys(c for c in cleaned if c))  # no empties, no repeats, same order


def _clean_enclosures(
    enclosures: tuple[ParsedEnclosure, ...], base: str | None
) -> tuple[ParsedEnclosure, ...]:
    kept = []
    for enclosure in enclosures:
        url = _clean_link(enclosure.url, base)
        if url is not None:
            kept.append(
                dataclasses.replace(enclosure, url=url, mime_type=plain_text(enclosure.mime_type))
            )
    return tuple(kept)


def sanitize_entry(entry: ParsedEntry, *, feed_link: str | None) -> ParsedEntry:
    """`entry` safe to store: clean HTML, plain text, absolute http(s) URLs without trackers.

    `feed_link` is the absolute URL relative references fall back to (the feed's home page,
    else the feed's own URL). HTML resolves against xml:base, else the entry link, else it.
    """
    base_url = absolutize(entry.base_url, feed_link) if entry.base_url else None
    if base_url is not None and scheme_of(base_url) not in WEB_SCHEMES:
        base_url = None
    link = _clean_link(entry.link, base_url or feed_link)
    html_base = base_url or link or feed_link
    content = sanitize_html(entry.content, base_url=html_base)
    if entry.summary == entry.content:  # common (RSS description only): clean it once
        summary = content
    else:
        summary = sanitize_html(entry.summary, base_url=html_base)
    return dataclasses.replace(
        entry,
        link=link,
        title=plain_text(entry.title),
        content=content,
        summary=summary,
        author=plain_text(entry.author),
        categories=_clean_categories(entry.categories),
        enclosures=_clean_enclosures(entry.enclosures, html_base),
        base_url=html_base,
    )


def sanitize_feed(feed: ParsedFeed, *, feed_url: str) -> ParsedFeed:
    """`feed` and each of its entries safe to store (see `sanitize_entry`)."""
    link = _clean_link(feed.link, feed_url)
    feed_link = link or feed_url
    return dataclasses.replace(
        feed,
        title=plain_text(feed.title),
        link=link,
        self_url=safe_url(feed.self_url, base=feed_url),
        hub_url=safe_url(feed.hub_url, base=feed_url),
        description=plain_text(feed.description),
        icon_url=_clean_link(feed.icon_url, feed_url),
        entries=tuple(sanitize_entry(e, feed_link=feed_link) for e in feed.entries),
    )
