"""URL helpers for the pipeline: make a URL absolute, keep only safe schemes, drop tracking parameters.

Feeds are full of relative links, scheme-relative image sources, `javascript:` links and
`?utm_source=…` tails. These helpers turn any of them into either a clean absolute URL or None,
so the callers (sanitize, parse, discovery) never have to reason about URL syntax themselves.
"""

from __future__ import annotations

import re
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


def absolutize(url: str | None, base: str | None) -> str | None:
    """`url` made absolute against `base`; None if it is empty or cannot be made absolute.

    `base` is used only if it is an absolute http(s) URL. A scheme-relative URL
    ("//cdn.example/a.png") with no usable base is taken as https.
    """
    if url is None:
        return None
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


def host_of(url: str) -> str:
    """The URL's host name in lower case, without port or trailing dot; "" if none."""
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
    absolute = absolutize(url, base)
    if absolute is None or scheme_of(absolute) not in schemes:
        return None
    if strip_tracking:
        absolute = strip_tracking_params(absolute)
    return absolute


def is_tracking_param(name: str) -> bool:
    name = unquote(name).lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PARAM_PREFIXES)


def strip_tracking_params(url: str) -> str:
    """`url` without its tracking query parameters; every other byte is left as it was.

    The query is split by hand rather than parsed and re-encoded, so that the remaining
    parameters keep their order, their encoding and their duplicates: some servers care.
    """
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
