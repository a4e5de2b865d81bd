"""Make what a feed says safe to show: allow-listed HTML, plain-text titles, clean absolute URLs.

This is the last step before storing, so whatever is stored can be shown by the web interface or
handed to an API client without further cleaning. The HTML cleaning itself is done by nh3 (Rust's
ammonia) with module-level allow-lists; this module only adds what ammonia does not know about:

- every URL attribute (including each `srcset` candidate, `cite` and `poster`, which ammonia
  does not check) is made absolute and must be http, https or (links only) mailto;
- tracking parameters are removed from every URL (links, sources, srcset, cite, poster, the
  entry's link, enclosures and picture);
- tracking pixels (1x1 images, known tracker hosts) and iframes from hosts outside the allow-list
  are removed, and the inner text of kept iframes is dropped (it is raw text no browser shows,
  but an API client's HTML parser could read it as markup);
- a "<!" that opens no comment nor doctype ("&lt;!DOCTYPE" in a description) stays as text.

Titles, authors and feed names are plain text, not HTML, kept as the parser read them (words in
angle brackets included: "std::vector<int>"), and every output escapes them; categories, which
the Google Reader API sends to apps unescaped, lose anything that looks like a tag.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache

import nh3

from liseuse.pipeline.parsers.recover import unescape_html
from liseuse.pipeline.types import ParsedEnclosure
from liseuse.pipeline.types import ParsedEntry
from liseuse.pipeline.types import ParsedFeed
from liseuse.pipeline.urls import LINK_SCHEMES
from liseuse.pipeline.urls import WEB_SCHEMES
from liseuse.pipeline.urls import BaseURL
from liseuse.pipeline.urls import absolutize
from liseuse.pipeline.urls import has_web_scheme
from liseuse.pipeline.urls import host_of
from liseuse.pipeline.urls import safe_url
from liseuse.pipeline.urls import scheme_of

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


class _Document:
    """What the attribute filter needs while nh3 cleans one document, and what it noticed.

    nh3 calls the filter for each attribute of an element in order, then for the forced one
    (set_tag_attribute_values) last: that call marks the end of each img and iframe. So the
    filter can count them, and the imgs that end with a usable source and no 1-pixel size.
    When there is no iframe and every img is clean, the output needs no second look
    (_drop_empty_media) and is not even searched for them. Whether this nh3 behaves so is
    checked once, at import (_FILTER_SEES_EVERY_MEDIA_ELEMENT); if not, the second look is
    always taken.
    """

    __slots__ = ("_img_has_source", "_img_is_pixel", "base", "clean_images", "iframes", "images")

    def __init__(self, base: str | None) -> None:
        self.base = BaseURL(base)
        self.images = 0
        self.clean_images = 0
        self.iframes = 0
        self._img_has_source = False
        self._img_is_pixel = False

    def href(self, value: str) -> str | None:
        """A link resolved and checked, its tracking parameters removed."""
        if self.base.url is None and value.strip().startswith("#"):
            return value.strip()  # an in-entry anchor (footnotes) needs no base
        return self.base.safe(value, LINK_SCHEMES, strip_tracking=True)

    def url(self, tag: str, value: str) -> str | None:
        """Any other URL attribute (a source, cite, poster) resolved and checked, its tracking
        parameters removed (an image's utm_* tell the publisher who read the entry)."""
        url = self.base.safe(value, WEB_SCHEMES, strip_tracking=True)
        if url is None:
            return None
        if tag == "iframe":
            return _iframe_src(url)
        if tag == "img" and is_tracker_url(url):
            # The element itself cannot be removed from here; an img left without a src is
            # removed by _drop_empty_media afterwards.
            return None
        return url

    def srcset(self, value: str) -> str | None:
        kept = []
        for url, descriptor in _srcset_candidates(value):
            absolute = self.base.safe(url, WEB_SCHEMES, strip_tracking=True)
            if absolute is None or is_tracker_url(absolute):
                continue
            # A descriptor is "640w", "2x" (or the rare "480h"); anything else is dropped.
            if descriptor and _SRCSET_DESCRIPTOR.fullmatch(descriptor):
                kept.append(f"{absolute} {descriptor}")
            else:
                kept.append(absolute)
        return ", ".join(kept) or None

    def note(self, tag: str, attribute: str, value: str | None) -> None:
        """Keep count of imgs and iframes, from what the filter is about to return."""
        if tag == "img":
            if attribute == _IMG_LAST_ATTRIBUTE:
                self.images += 1
                if self._img_has_source and not self._img_is_pixel:
                    self.clean_images += 1
                self._img_has_source = self._img_is_pixel = False
            elif attribute in ("src", "srcset"):
                self._img_has_source |= value is not None
            elif attribute in ("width", "height"):
                self._img_is_pixel |= _is_pixel(value)
        elif tag == "iframe" and attribute == _NH3_FORCED_NAME["iframe"]:
            self.iframes += 1

    def needs_second_look(self) -> bool:
        return (
            not _FILTER_SEES_EVERY_MEDIA_ELEMENT
            or self.iframes > 0
            or self.clean_images != self.images
        )


# nh3 gets one forced attribute per tag: given several, it sets them in an order that changes
# from one process to the next, and the same entry would get a new content hash. The others
# (only the iframe has any) are added by _iframe_or_nothing.
_NH3_FORCED = {tag: dict([next(iter(forced.items()))]) for tag, forced in FORCED_ATTRIBUTES.items()}
_NH3_FORCED_NAME = {tag: next(iter(forced)) for tag, forced in _NH3_FORCED.items()}
_IMG_LAST_ATTRIBUTE = _NH3_FORCED_NAME["img"]
# What _filter_attribute has anything to do with: URLs, and what _Document.note looks at.
_FILTERED_ATTRIBUTES = URL_ATTRIBUTES | {
    *("srcset", "width", "height"),
    *(_NH3_FORCED_NAME["img"], _NH3_FORCED_NAME["iframe"]),
}
_TRACKER_PREFIX_HOSTS = frozenset(prefix.split("/", 1)[0] for prefix in TRACKER_URL_PREFIXES)
_current_document: ContextVar[_Document | None] = ContextVar("_current_document", default=None)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """nh3's per-attribute hook: resolve and check URLs, drop trackers' and unknown iframes' src.

    nh3 has already dropped attributes outside the allow-list and URLs with a forbidden scheme,
    but lets relative URLs through; they are resolved here against the current base.
    """
    # Called for every attribute, the forced ones too: let the many that need nothing through
    # first (a link's target and rel, an image's alt…), then links, the most common of the rest.
    if attribute not in _FILTERED_ATTRIBUTES:
        return value
    document = _current_document.get() or _Document(None)
    if attribute == "href":  # links: nothing for note() to count
        return document.href(value)
    result: str | None
    if attribute == "srcset":
        result = document.srcset(value)
    elif attribute in URL_ATTRIBUTES:
        result = document.url(tag, value)
    else:
        result = value
    if tag in ("img", "iframe"):
        document.note(tag, attribute, result)
    return result


def _iframe_src(url: str) -> str | None:
    if host_of(url) not in IFRAME_HOSTS:
        return None
    # Every allowed player serves https; never embed a page over plain http.
    if scheme_of(url) == "http":
        url = "https" + url[4:]
    return url


def is_tracker_url(url: str) -> bool:
    """True for the URL of a known tracking image."""
    host = host_of(url)
    if _is_tracker_host(host):
        return True
    if host not in _TRACKER_PREFIX_HOSTS and url.startswith(("https://", "http://")):
        return False  # what follows "://" is the host, which no prefix begins with
    without_scheme = url.split("://", 1)[-1].lower()
    return without_scheme.startswith(TRACKER_URL_PREFIXES)


@lru_cache(maxsize=1024)  # a feed's images come from a few hosts
def _is_tracker_host(host: str) -> bool:
    labels = host.split(".")
    # The host itself or any domain above it ("a.b.c" → "a.b.c", "b.c", "c").
    return any(".".join(labels[i:]) in TRACKER_HOSTS for i in range(len(labels)))


_SRCSET_SPACE = " \t\n\r\f"
_SRCSET_DESCRIPTOR = re.compile(r"\d+(\.\d+)?[wxh]")
# One candidate of a srcset without parentheses: blanks and commas, then the URL (everything up
# to the next blank) and the descriptor up to the next comma; or a URL that ends with a comma,
# which has no descriptor (the lookahead keeps the first branch from taking part of it).
_SRCSET_CANDIDATE = re.compile(
    r"[ \t\n\r\f,]*(?:([^ \t\n\r\f]*[^ \t\n\r\f,])(?![^ \t\n\r\f])([^,]*)|([^ \t\n\r\f]+))"
)


def _srcset_candidates(value: str) -> Iterator[tuple[str, str]]:
    """(url, descriptor) pairs of a srcset, read the way the HTML standard reads them.

    A URL runs up to the next blank (it may contain commas); a trailing comma ends it. The
    descriptor runs up to the next comma outside parentheses.
    """
    if "(" not in value:  # the common case, in one regex
        for url, descriptor, comma_ended in _SRCSET_CANDIDATE.findall(value):
            yield (url, descriptor.strip()) if url else (comma_ended.rstrip(","), "")
        return
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


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT_TAGS),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_filter_attribute,
    strip_comments=True,
    link_rel=LINK_REL,
    set_tag_attribute_values=_NH3_FORCED,
    url_schemes=set(URL_SCHEMES),
)

# nh3's output is regular: lower-case names, double-quoted values in which `"`, `<` and `>`
# are escaped. So these patterns match its tags exactly, which they could not do on raw HTML.
_IFRAME = re.compile(r"<iframe(?P<attrs>[^>]*)>.*?</iframe>", re.DOTALL)
_IMG = re.compile(r"<img(?P<attrs>[^>]*)>")
_ATTR = re.compile(r'\s(?P<name>[^\s="]+)(?:="(?P<value>[^"]*)")?')


def _attributes(text: str) -> dict[str, str]:
    return {m["name"]: m["value"] or "" for m in _ATTR.finditer(text)}


# A size as browsers read it: HTML blanks, then ASCII digits (leading zeros skipped); what
# follows ("px", ".5") does not change whether it is under 2.
_LEADING_NUMBER = re.compile(r"[\t\n\f\r ]*0*([0-9]+)")


def _is_pixel(size: str | None) -> bool:
    # Digits are compared as text: int() refuses more than 4300 of them (a ValueError nh3
    # would only print, keeping the tracker), and "000…01" is still 1 pixel to a browser.
    if size is None:
        return False
    if size.isascii() and size.isdigit():  # the usual "640": no need for the pattern
        return size.lstrip("0") in ("", "1")
    match = _LEADING_NUMBER.match(size)
    return match is not None and match[1] in ("0", "1")


def _img_or_nothing(match: re.Match[str]) -> str:
    attrs = _attributes(match["attrs"])
    if "src" not in attrs and "srcset" not in attrs:
        return ""
    if _is_pixel(attrs.get("width")) or _is_pixel(attrs.get("height")):
        return ""
    return match[0]


# The iframe's forced attributes that nh3 did not set (it set the first, last of the element's).
_IFRAME_FORCED = "".join(
    f' {name}="{value}"'
    for name, value in FORCED_ATTRIBUTES["iframe"].items()
    if name not in _NH3_FORCED["iframe"]
)


def _iframe_or_nothing(match: re.Match[str]) -> str:
    if "src" not in _attributes(match["attrs"]):
        return ""
    return f"<iframe{match['attrs']}{_IFRAME_FORCED}></iframe>"


def _drop_empty_media(cleaned: str, clean_images: int | None = None) -> str:
    """Remove iframes without a src (refused host), the inside of the others, and pixel images.

    `clean_images` is how many imgs the attribute filter saw kept (see _Document): when all of
    the output's imgs are, they need no second look.
    """
    if "<iframe" in cleaned:
        cleaned = _IFRAME.sub(_iframe_or_nothing, cleaned)
    if "<img" in cleaned and cleaned.count("<img") != clean_images:
        cleaned = _IMG.sub(_img_or_nothing, cleaned)
    return cleaned


def _clean(html: str, document: _Document) -> str:
    token = _current_document.set(document)
    try:
        return _CLEANER.clean(html)
    finally:
        _current_document.reset(token)


def _filter_sees_every_media_element() -> bool:
    """Whether nh3 calls the filter for each img and iframe, their forced attribute last.

    Forced attributes last is what makes the count of clean imgs right: were they first, each
    img would be judged on the attributes of the one before, and this sample would tell.
    """
    document = _Document(None)
    _clean(
        '<img src="https://a.example/1.png"><img alt="no source"><img src="https://a.example/2.png">'
        '<p><iframe></iframe><iframe src="https://a.example/"></iframe></p>',
        document,
    )
    return (document.images, document.clean_images, document.iframes) == (3, 2, 2)


_FILTER_SEES_EVERY_MEDIA_ELEMENT = _filter_sees_every_media_element()

# Text that nh3 gives back unchanged: no markup, no entity, and none of the characters its
# parser or serializer rewrite (CR, NUL, no-break space as &nbsp;; lone surrogates, which
# it refuses, are left to it too).
_TEXT_NH3_KEEPS = re.compile(r"[^<>&\r\x00\xa0\ud800-\udfff]*")


# html5ever, which nh3 cleans with, takes time quadratic in how deeply elements nest
# (servo/html5ever#788): 20,000 nested <div> took 1.4 s to clean, 50,000 (537 KB) 8 s, and a
# field of 15 MB would take hours, on the loop that fetches every other feed. No page nests
# 256 deep; a field with many tags is looked at first and cut where it would.
_MANY_TAGS = 1000
_MAX_DEPTH = 256
_START_OR_END_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")
# Elements that never hold others (void), or that the next one of their kind or their parent's
# end closes by itself (<p>, <li>, <td>… are often left open): none of them deepens the tree.
_NOT_NESTING = frozenset(
    {
        *("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"),
        *("source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody"),
        *("tfoot", "colgroup", "caption", "option", "optgroup", "rb", "rt", "rp", "rtc"),
    }
)


def _within_depth(html: str) -> str:
    """`html`, cut before the tag that would open a 257th level of elements (see above)."""
    # A tag takes two characters at least: a short field cannot have that many.
    if len(html) <= 2 * _MANY_TAGS or html.count("<") <= _MANY_TAGS:
        return html  # at most that deep: cleaned in milliseconds
    depth = 0
    for tag in _START_OR_END_TAG.finditer(html):
        if tag[2].lower() in _NOT_NESTING:
            continue
        if tag[1]:
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > _MAX_DEPTH:
                return html[: tag.start()]
    return html


# "<!" opens a comment, a doctype, or CDATA (in SVG and MathML, which are dropped). After it
# anything else, or a doctype that does not end, is a "bogus comment" to an HTML parser, which
# drops it and all that follows up to the next ">": in feeds that is text about markup
# ("&lt;!DOCTYPE" in a description, feedparser's item_description_not_a_doctype*.xml), shown
# as text. Escaping a "<" cannot make markup.
_NOT_A_DECLARATION = re.compile(r"<!(?!--|\[CDATA\[|doctype\s+[A-Za-z][^<>]*>)", re.IGNORECASE)


def sanitize_html(html: str, *, base_url: str | None) -> str:
    """`html` cleaned down to the allow-lists above, every URL in it absolute against `base_url`.

    Relative URLs are dropped when there is no usable (http or https) base, except `#fragment`
    links, which still make sense inside the entry.
    """
    if not html or html.isspace():
        return ""
    if _TEXT_NH3_KEEPS.fullmatch(html):
        return html.strip()  # what nh3 would give back (many summaries are plain text)
    if "<!" in html:
        html = _NOT_A_DECLARATION.sub("&lt;!", html)
    base = base_url if base_url and has_web_scheme(base_url) else None
    document = _Document(base)
    cleaned = _clean(_within_depth(html), document)
    if document.needs_second_look():
        cleaned = _drop_empty_media(cleaned, document.clean_images)
    return cleaned.strip()


_TAG_OR_COMMENT = re.compile(
    r"<!--.*?(?:-->|$)"  # a comment, even an unterminated one
    r"|<(script|style)\b.*?(?:</\1\s*>|$)"  # code that was never meant to be read
    r"|</?[A-Za-z][^<>]*>",  # any other tag; "a < b" and "<3" are left alone
    re.DOTALL | re.IGNORECASE,
)


def text_field(text: str) -> str:
    """A category or a media type as stored: one line, and nothing that looks like a tag.

    The Google Reader API sends an entry's categories to apps as they are (titles, authors and
    feed names it gives with `&`, `<` and `>` as full-width look-alikes, as Fever does, and the
    pages escape everything): a feed's category must not reach an app that reads it as HTML
    with a tag in it. Entities are not decoded: the parser decoded them once already, and
    "&amp;lt;" in the feed is shown as "&lt;".
    """
    if "<" in text:
        text = _TAG_OR_COMMENT.sub(" ", text)
    return one_line(text)


def title_field(text: str) -> str:
    """A title, author, feed name or feed description as stored: the parser's plain text (it
    read HTML as HTML and text as text, `parsers.text`) on one line, its words in angle brackets
    kept ("std::vector<int>"). Never HTML: every page and API escapes it (the Fever and Google
    Reader APIs give `&`, `<` and `>` as full-width look-alikes)."""
    return one_line(text)


def one_line(text: str) -> str:
    """Text as one line: blanks collapsed, control and unassigned characters dropped."""
    if not text:
        return ""
    text = " ".join(text.split())
    if not text.isprintable():  # quick check first: most titles have nothing to drop
        text = "".join(c for c in text if not _is_unwanted_char(c))
    return text


def _is_unwanted_char(char: str) -> bool:
    # Cc: controls (tabs and newlines were already turned into spaces); Cs: lone surrogates,
    # which cannot even be encoded to UTF-8; Co: private use; Cn: unassigned/noncharacters.
    return unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn")


def plain_text(text: str) -> str:
    """An HTML fragment as one line of plain text: tags stripped, entities read, blanks collapsed.

    Not for the parser's text fields, whose entities are decoded already (see `text_field`).
    """
    if not text:
        return ""
    if "<" in text:
        text = _TAG_OR_COMMENT.sub(" ", text)
    if "&" in text:
        text = unescape_html(text)
    return one_line(text)


# A BCP 47 tag as pages use it in `lang`: a language of 2 or 3 letters, then subtags
# ("fr", "fr-FR", "zh-Hant-TW", "en-US-x-twain"); feeds also write "fr_FR", and "fr-fr".
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


def language_tag(text: str) -> str:
    """The feed's language as a `lang` attribute takes it, or "" when it names none."""
    tag = text.strip().replace("_", "-")
    return tag if len(tag) <= 35 and _LANGUAGE_TAG.fullmatch(tag) else ""


def _clean_link(url: str | None, base: str | None) -> str | None:
    return safe_url(url, base=base, schemes=WEB_SCHEMES, strip_tracking=True)


def _clean_thumbnail(url: str | None, base: str | None) -> str | None:
    """A picture's URL as an img src gets it: absolute, http(s), no known tracker."""
    clean = safe_url(url, base=base, schemes=WEB_SCHEMES, strip_tracking=True)
    return None if clean is None or is_tracker_url(clean) else clean


def _clean_categories(categories: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = (text_field(c) for c in categories)
    return tuple(dict.fromkeys(c for c in cleaned if c))  # no empties, no repeats, same order


def _clean_enclosures(
    enclosures: tuple[ParsedEnclosure, ...], base: str | None
) -> tuple[ParsedEnclosure, ...]:
    kept = []
    for enclosure in enclosures:
        url = _clean_link(enclosure.url, base)
        if url is not None:
            kept.append(
                dataclasses.replace(enclosure, url=url, mime_type=text_field(enclosure.mime_type))
            )
    return tuple(kept)


def sanitize_entry(entry: ParsedEntry, *, feed_link: str | None) -> ParsedEntry:
    """`entry` safe to store: clean HTML, plain text, absolute http(s) URLs without trackers.

    `feed_link` is the absolute URL relative references fall back to (the feed's home page,
    else the feed's own URL). HTML resolves against xml:base, else the entry link, else it.
    """
    base_url = absolutize(entry.base_url, feed_link) if entry.base_url else None
    if base_url is not None and not has_web_scheme(base_url):
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
        title=title_field(entry.title),
        content=content,
        summary=summary,
        author=title_field(entry.author),
        categories=_clean_categories(entry.categories),
        enclosures=_clean_enclosures(entry.enclosures, html_base),
        base_url=html_base,
        thumbnail=_clean_thumbnail(entry.thumbnail, html_base),
    )


def sanitize_feed(feed: ParsedFeed, *, feed_url: str) -> ParsedFeed:
    """`feed` and each of its entries safe to store (see `sanitize_entry`)."""
    link = _clean_link(feed.link, feed_url)
    feed_link = link or feed_url
    return dataclasses.replace(
        feed,
        title=title_field(feed.title),
        link=link,
        self_url=safe_url(feed.self_url, base=feed_url),
        hub_url=safe_url(feed.hub_url, base=feed_url),
        description=title_field(feed.description),
        icon_url=_clean_link(feed.icon_url, feed_url),
        language=language_tag(feed.language),
        entries=tuple(sanitize_entry(e, feed_link=feed_link) for e in feed.entries),
    )
