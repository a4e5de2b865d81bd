"""Feed URLs as people type them and as files list them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from django.utils.translation import gettext as _
from yarl import URL

# A scheme, but not "host:port" (a colon followed by digits).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(?!\d)")


# Blanks, controls and what no host name holds (an IPv6 address's brackets are not in
# `hostname`).
_NOT_IN_A_HOST = re.compile(r"[\x00-\x20\x7f\"'<>`{}|\\^]")


class FeedUrlError(ValueError):
    pass


def normalize_feed_url(raw: str) -> str:
    """A clean absolute http(s) URL, or FeedUrlError saying what is wrong with it.

    `example.org/feed` becomes `https://example.org/feed`; `feed://` and `feed:https://`
    (still sent by some browsers' subscribe buttons) become http(s).
    """
    url = raw.strip()
    if url.startswith("feed:"):
        url = url[len("feed:") :]
        url = url[2:] if url.startswith("//") else url
        if not url.startswith(("http://", "https://")):
            url = "http://" + url
    scheme = _SCHEME.match(url)
    if scheme is None:
        url = "https://" + url
    elif scheme.group(1).lower() not in {"http", "https"}:
        raise FeedUrlError(
            _("only http and https URLs are followed, not %(scheme)s:")
            % {"scheme": scheme.group(1)}
        )
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1": a bracket left open
        raise FeedUrlError(_("the URL's host is not a valid address")) from None
    if not parts.hostname:
        raise FeedUrlError(_("the URL names no host"))
    if _NOT_IN_A_HOST.search(parts.hostname):
        # "not a url" became https://not a url/, followed, then failing to resolve for ever.
        raise FeedUrlError(_("the URL's host is not a valid address"))
    try:
        parts.port  # noqa: B018  (urlsplit checks the port only when asked)
    except ValueError:
        raise FeedUrlError(_("the URL's port is not a number")) from None
    if len(url) > 2048:
        raise FeedUrlError(_("the URL is longer than 2048 characters"))
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def address_key(url: str) -> str | None:
    """`url` spelled one way for all the spellings of one address, None if it is not an
    absolute URL: its host in lower case and ASCII (IDNA), no default port, its path and
    query percent-encoded with escapes in capitals, "/" for an empty path, no fragment. A
    fetch's redirects spell an address so (aiohttp's yarl); people and files spell it as
    they like (`normalize_feed_url` keeps their spelling)."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return None
    if not parsed.is_absolute() or not parsed.raw_host:
        return None
    host = f"[{parsed.raw_host}]" if ":" in parsed.raw_host else parsed.raw_host
    if parsed.raw_user is not None:
        password = "" if parsed.raw_password is None else f":{parsed.raw_password}"
        host = f"{parsed.raw_user}{password}@{host}"
    port = "" if parsed.is_default_port() else f":{parsed.explicit_port}"
    query = f"?{parsed.raw_query_string}" if parsed.raw_query_string else ""
    return f"{parsed.scheme}://{host}{port}{parsed.raw_path or '/'}{query}"
