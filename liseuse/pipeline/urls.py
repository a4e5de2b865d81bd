"""URL helpers for the pipeline: make a URL absolute, keep only safe schemes, drop tracking parameters.

Feeds are full of relative links, scheme-relative image sources, `javascript:` links and
`?utm_source=…` tails. These helpers turn any of them into either a clean absolute URL or None,
so the callers (sanitize, parse, discovery) never have to reason about URL syntax themselves.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote
from urllib.parse import urljoin
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

WEB_SCHEMES = frozenset({"http", "https"})
LINK_SCHEMES = frozenset({"http", "https", "mailto"})

# Query parameters that only tell the publisher (or an ad network) where a click came from.
# Matched case-insensitively on the parameter's name.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",  # Facebook
        "gclid",  # Google Ads
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",  # Microsoft Ads
        "yclid",  # Yandex
        "igshid",  # Instagram
        "twclid",  # Twitter / X
        "ttclid",  # TikTok
        "mc_cid",  # Mailchimp
        "mc_eid",
        "_hsenc",  # HubSpot
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "mkt_tok",  # Marketo
        "oly_anon_id",  # Omeda
        "oly_enc_id",
        "vero_id",  # Vero
        "vero_conv",
        "wickedid",
        "_openstat",
        "_ga",  # Google Analytics cross-domain linking
        "_gl",
        "rb_clickid",
        "s_cid",  # Adobe
        "ref_src",  # Twitter embeds
        "ref_url",
    }
)
TRACKING_PARAM_PREFIXES = ("utm_",)

# Browsers ignore tabs and newlines anywhere in a URL, and C0 controls and spaces around it:
# "java\tscript:" is "javascript:" to them, so it must be to us as well.
_IGNORED_INSIDE = re.compile(r"[\t\n\r]")
_STRIPPED_AROUND = "".join(chr(c) for c in range(0x21))


def clean_url_text(url: str) -> str:
    """The URL as a browser reads it: no surrounding blanks or controls, no tabs or newlines."""
    url = _IGNORED_INSIDE.sub("", url.strip(_STRIPPED_AROUND))
    # Browsers read a backslash as a slash in http(s) URLs ("https:\\evil.example");
    # spaces inside are sent percent-encoded anyway.
    return url.replace("\\", "/").replace(" ", "%20")


# Fast paths. Sanitizing meets tens of URLs per entry and urllib's parsing is most of its cost,
# yet most URLs in feeds are plain: an ASCII host name, no blanks, controls or backslashes, no
# ";params" in the path. For those, what the general code below would return is known without
# urllib (tests/pipeline/test_urls.py checks that both ways agree); anything else takes the
# general way. The classes exclude every character clean_url_text would change.
_PLAIN_NETLOC = r"[A-Za-z0-9.\-]+(?::[0-9]*)?"
_PLAIN_ABSOLUTE = re.compile(
    r"https?://(?P<host>[A-Za-z0-9.\-]+)(?::[0-9]*)?(?:[/?#][^\x00-\x20\\]*)?"
)
_PLAIN_BASE = re.compile(
    rf"(?P<scheme>https?)://(?P<netloc>{_PLAIN_NETLOC})"
    r"(?P<path>/[^?#;\x00-\x20\\]*)?"
    r"(?:\?(?P<query>[^#\x00-\x20\\]+))?"  # a "?" or "#" with nothing after it is not plain
    r"(?:#[^\x00-\x20\\]+)?"
)
# An absolute http(s) URL or a reference, in groups: scheme, netloc, path, query, fragment.
_PLAIN_URL = re.compile(
    r"(?:(https?):(?=//))?"
    rf"(?://({_PLAIN_NETLOC})(?=[/?#]|\Z))?"  # a netloc ends at / ? or #
    r"(?!//)(?![A-Za-z][A-Za-z0-9+.\-]*:)"  # not a netloc that is not plain, nor another scheme
    r"([^?#;\x00-\x20\\]*)"
    r"(?:\?([^#\x00-\x20\\]+))?"
    r"(?:#([^\x00-\x20\\]+))?"
)


def absolutize(url: str | None, base: str | None) -> str | None:
    """`url` made absolute against `base`; None if it is empty or cannot be made absolute.

    `base` is used only if it is an absolute http(s) URL. A scheme-relative URL
    ("//cdn.example/a.png") with no usable base is taken as https.
    """
    if url is None:
        return None
    if _PLAIN_ABSOLUTE.fullmatch(url):
        return url  # nothing to clean, nothing to join, and it has a host
    url = clean_url_text(url)
    if not url:
        return None
    scheme = _scheme_prefix(url)
    # Most URLs in feeds are already absolute http(s): skip urljoin, the slow part, for them.
    # "http:page.html" (no "//") is relative to an http base, as browsers read it.
    if not (scheme in WEB_SCHEMES and url[len(scheme) + 1 :].startswith("//")):
        if base is not None:
            base = clean_url_text(base)
            if _scheme_prefix(base) in WEB_SCHEMES:
                try:
                    url = urljoin(base, url)
                except ValueError:  # e.g. "//[broken": an unbalanced "[" in the host
                    return None
        if url.startswith("//"):
            url = "https:" + url
        scheme = _scheme_prefix(url)
    if not scheme:
        return None
    if scheme in WEB_SCHEMES:
        try:
            if not urlsplit(url).netloc:
                return None
        except ValueError:
            return None
    return url


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def _scheme_prefix(url: str) -> str:
    match = _SCHEME.match(url)
    return match[1].lower() if match else ""


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case, "" if it has none or does not parse."""
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def has_web_scheme(url: str) -> bool:
    """True if the URL's scheme is http or https: `scheme_of(url) in WEB_SCHEMES`, faster."""
    if url.startswith(("https://", "http://")) and _PLAIN_ABSOLUTE.fullmatch(url):
        return True
    return scheme_of(url) in WEB_SCHEMES


def host_of(url: str) -> str:
    """The URL's host name in lower case, without port or trailing dot; "" if none."""
    plain = _PLAIN_ABSOLUTE.fullmatch(url)
    if plain:
        return plain["host"].lower().rstrip(".")
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".")


def safe_url(
    url: str | None,
    *,
    base: str | None,
    schemes: frozenset[str] = WEB_SCHEMES,
    strip_tracking: bool = False,
) -> str | None:
    """`url` made absolute, if its scheme is one of `schemes`; else None.

    With `strip_tracking`, tracking parameters are removed from the query as well.
    """
    return _allowed(absolutize(url, base), schemes, strip_tracking)


def _allowed(absolute: str | None, schemes: frozenset[str], strip_tracking: bool) -> str | None:
    if absolute is None:
        return None
    if absolute.startswith("https://"):  # what scheme_of says, without parsing again
        scheme = "https"
    elif absolute.startswith("http://"):
        scheme = "http"
    else:
        scheme = scheme_of(absolute)
    if scheme not in schemes:
        return None
    if strip_tracking:
        absolute = strip_tracking_params(absolute)
    return absolute


class BaseURL:
    """A base URL read once, to resolve the many URLs of one document against it.

    `resolve(url)` is `absolutize(url, base)` and `safe(url, …)` is `safe_url(url, base=base, …)`;
    plain relative URLs ("../tags/x", "/img/a.png", "?page=2", "#fn1", "//cdn/a.png") are
    joined here without urllib, the way urljoin joins them, dot segments included.
    """

    __slots__ = ("_directory", "_path", "_query", "_root", "_scheme", "url")

    def __init__(self, url: str | None) -> None:
        self.url = url
        plain = _PLAIN_BASE.fullmatch(url) if url else None
        self._scheme = plain["scheme"] if plain else ""  # "" when the slow way is needed
        self._root = f"{plain['scheme']}://{plain['netloc']}" if plain else ""
        self._path = (plain["path"] or "") if plain else ""
        self._query = (plain["query"] or "") if plain else ""
        directory = self._path.split("/")
        if directory[-1]:
            del directory[-1]  # the base's last segment is a file name, not a folder
        # Joined again, a key for _joined_path (which splits it back into these segments).
        self._directory = "/".join(directory)

    def safe(
        self, url: str, schemes: frozenset[str] = WEB_SCHEMES, *, strip_tracking: bool = False
    ) -> str | None:
        if url.startswith(("https://", "http://")) and _PLAIN_ABSOLUTE.fullmatch(url):
            # Already absolute, and nothing to clean (the simpler pattern is faster).
            if ("https" if url[4] == "s" else "http") not in schemes:
                return None
            return _strip_plain_tracking_params(url) if strip_tracking else url
        plain = _PLAIN_URL.fullmatch(url) if url else None
        if plain is None:
            return _allowed(absolutize(url, self.url), schemes, strip_tracking)
        scheme, netloc, path, query, fragment = plain.groups()
        if scheme is not None:  # already absolute, and nothing to clean
            absolute = url
        elif self._scheme:
            absolute = self._join(url, netloc, path, query, fragment)
            scheme = self._scheme
        else:
            return _allowed(absolutize(url, self.url), schemes, strip_tracking)
        if scheme not in schemes:
            return None
        # A plain URL joined to a plain base is plain: _PLAIN_ABSOLUTE matches it.
        return _strip_plain_tracking_params(absolute) if strip_tracking else absolute

    def resolve(self, url: str) -> str | None:
        plain = _PLAIN_URL.fullmatch(url) if url else None
        if plain is None:
            return absolutize(url, self.url)
        scheme, netloc, path, query, fragment = plain.groups()
        if scheme is not None:
            return url
        if not self._scheme:
            return absolutize(url, self.url)
        return self._join(url, netloc, path, query, fragment)

    def _join(
        self,
        url: str,
        netloc: str | None,
        path: str,
        query: str | None,
        fragment: str | None,
    ) -> str:
        """A plain reference (the groups of _PLAIN_URL) joined to the plain base."""
        if netloc is not None:
            return f"{self._scheme}:{url}"
        fragment = "#" + fragment if fragment else ""
        if not path:  # "?query" or "#fragment": the base's path, and its query if none given
            query = query or self._query
            return self._root + self._path + ("?" + query if query else "") + fragment
        joined = _joined_path(None if path[0] == "/" else self._directory, path)
        return self._root + joined + ("?" + query if query else "") + fragment


# Cached: the entries of a feed mostly share their base's folder, and their relative links
# (tags, categories, images) repeat from one entry to the next.
@lru_cache(maxsize=2048)
def _joined_path(directory: str | None, path: str) -> str:
    """`path` resolved in `directory` (BaseURL._directory; None when `path` starts with "/"),
    dot segments included, the way urljoin resolves it."""
    if directory is None:
        segments = path.split("/")
    else:
        segments = [*directory.split("/"), *path.split("/")]
        segments[1:-1] = [segment for segment in segments[1:-1] if segment]
    resolved: list[str] = []
    for segment in segments:
        if segment == "..":
            if resolved:
                resolved.pop()
        elif segment != ".":
            resolved.append(segment)
    if segments[-1] in (".", ".."):
        resolved.append("")  # "a/.." names a folder: keep the trailing slash
    joined = "/".join(resolved)
    if not joined.startswith("/"):
        joined = "/" + joined
    return joined


def is_tracking_param(name: str) -> bool:
    name = unquote(name).lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PARAM_PREFIXES)


def strip_tracking_params(url: str) -> str:
    """`url` without its tracking query parameters; every other byte is left as it was.

    The query is split by hand rather than parsed and re-encoded, so that the remaining
    parameters keep their order, their encoding and their duplicates: some servers care.
    """
    query_start = url.find("?")
    if query_start < 0:
        return url
    fragment_start = url.find("#")
    if 0 <= fragment_start < query_start:
        return url  # the "?" is in the fragment: there is no query
    # For a plain URL without an empty "#", urlsplit and urlunsplit would give every byte
    # around the query back as it was: cut it out by hand, faster.
    if _PLAIN_ABSOLUTE.fullmatch(url) and fragment_start != len(url) - 1:
        return _strip_plain_tracking_params(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    pairs = parts.query.split("&")
    kept = [p for p in pairs if not is_tracking_param(p.split("=", 1)[0])]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query="&".join(p for p in kept if p)))


def _strip_plain_tracking_params(url: str) -> str:
    """strip_tracking_params for a URL that _PLAIN_ABSOLUTE matches."""
    query_start = url.find("?")
    if query_start < 0:
        return url
    fragment_start = url.find("#")
    if 0 <= fragment_start < query_start or fragment_start == len(url) - 1:
        return strip_tracking_params(url)  # no query, or an empty fragment urlunsplit drops
    query_end = fragment_start if fragment_start >= 0 else len(url)
    pairs = url[query_start + 1 : query_end].split("&")
    kept = [p for p in pairs if not is_tracking_param(p.split("=", 1)[0])]
    if len(kept) == len(pairs):
        return url
    query = "&".join(p for p in kept if p)
    return url[:query_start] + ("?" + query if query else "") + url[query_end:]
