"""Read JSON Feed 1.0 and 1.1 documents (https://www.jsonfeed.org/version/1.1/) into `ParsedFeed`.

1.0's singular `author` and 1.1's `authors` list are both read. Plain-text bodies
(`content_text`) become escaped HTML so that `content` is always HTML. Titles, names, tags and
the description are text, as the specification says ("JSON <Feed>" stays so), with one
allowance: character references and named entities are decoded, because well-known feeds
encode titles as their HTML pages do (WordPress's JSON Feed plugin, kottke.org: "It&#8217;s";
NetNewsWire and FreshRSS decode them too). No HTML cleaning here.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import urljoin

from liseuse.pipeline import reasons
from liseuse.pipeline.parsers.dates import parse_date
from liseuse.pipeline.parsers.recover import unescape_html
from liseuse.pipeline.parsers.xmlfeeds import text_to_html
from liseuse.pipeline.types import ParsedEnclosure
from liseuse.pipeline.types import ParsedEntry
from liseuse.pipeline.types import ParsedFeed
from liseuse.pipeline.types import ParseError

_VERSION_PREFIX = "https://jsonfeed.org/version/"
# A reference with its semicolon: "R&D", "a=1&para=2" are text, not entities.
_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def parse_json_feed(text: str, url: str) -> ParsedFeed:
    """The ParsedFeed a JSON Feed document holds; ParseError for other JSON or broken JSON."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise ParseError(reasons.JSON_TOO_DEEP) from None
    except ValueError as error:
        raise ParseError(reasons.INVALID_JSON.format(error=error)) from None
    if not isinstance(document, dict):
        raise ParseError(reasons.JSON_NOT_OBJECT)
    version = document.get("version")
    items = document.get("items")
    if not (isinstance(version, str) and version.startswith(_VERSION_PREFIX)):
        if not isinstance(items, list) or "title" not in document:
            raise ParseError(reasons.JSON_NO_VERSION)
        version = _VERSION_PREFIX + "1"  # a feed that forgot its version but has the shape
    kind = "json10" if version.rstrip("/").endswith("/1") else "json11"
    base = _string(document.get("feed_url")) or url
    hubs = document.get("hubs")
    hub_url = None
    if isinstance(hubs, list):
        for hub in hubs:
            if isinstance(hub, dict) and _string(hub.get("url")):
                hub_url = _string(hub.get("url"))
                break
    feed_author = _authors(document)
    entries = tuple(
        _item(item, base, feed_author)
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    )
    return ParsedFeed(
        format=kind,
        title=_text(document.get("title")),
        link=_absolute(base, document.get("home_page_url")),
        self_url=_absolute(base, document.get("feed_url")),
        hub_url=hub_url,
        description=_text(document.get("description")),
        # The icon shown beside the feed's name is small: JSON Feed's `favicon` is meant for
        # that, its `icon` is 512 pixels wide (and often over the size icons are kept at).
        icon_url=_absolute(base, document.get("favicon") or document.get("icon")),
        language=_string(document.get("language")) or "",
        entries=entries,
    )


def _string(value: Any) -> str | None:
    """A JSON value that should be a string: numbers are accepted (ids often are), the rest not."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _text(value: Any) -> str:
    """A JSON Feed text field (title, name, tag) as plain text: see the module docstring."""
    text = _string(value) or ""
    if "&" in text:
        text = _REFERENCE.sub(lambda reference: unescape_html(reference[0]), text)
    return text.strip()


def _absolute(base: str, value: Any) -> str | None:
    text = _string(value)
    if not text or not text.strip():
        return None
    try:
        return urljoin(base, text.strip()) if base else text.strip()
    except ValueError:
        return text.strip()


def _size(value: Any) -> int | None:
    """A byte count, or None: json reads Infinity, NaN and 1e400 as floats int() refuses, and
    true as an int."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return int(value)


def _authors(document: dict[str, Any]) -> str:
    people = document.get("authors")
    if not isinstance(people, list):
        people = [document.get("author")]
    names = [_text(person.get("name")) for person in people if isinstance(person, dict)]
    return ", ".join(name for name in names if name)


def _item(item: dict[str, Any], base: str, feed_author: str) -> ParsedEntry:
    link = _absolute(base, item.get("url")) or _absolute(base, item.get("external_url"))
    content = _string(item.get("content_html")) or ""
    text = _string(item.get("content_text"))
    if not content and text:
        content = text_to_html(text)
    summary = _string(item.get("summary")) or ""
    summary = text_to_html(summary) if summary else ""
    enclosures = []
    attachments = item.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        if not isinstance(attachment, dict):
            continue
        href = _absolute(base, attachment.get("url"))
        if href:
            enclosures.append(
                ParsedEnclosure(
                    url=href,
                    mime_type=_string(attachment.get("mime_type")) or "",
                    length=_size(attachment.get("size_in_bytes")),
                )
            )
    tags = item.get("tags")
    categories = tuple(
        _text(tag) for tag in (tags if isinstance(tags, list) else []) if isinstance(tag, str)
    )
    guid = _string(item.get("id"))
    return ParsedEntry(
        guid=guid or None,
        link=link,
        title=_text(item.get("title")),
        content=content,
        summary=summary or content,
        author=_authors(item) or feed_author,
        published=parse_date(_string(item.get("date_published"))),
        updated=parse_date(_string(item.get("date_modified"))),
        categories=tuple(category for category in categories if category),
        enclosures=tuple(enclosures),
        base_url=link or base or None,
        thumbnail=_absolute(base, item.get("image")),
    )
