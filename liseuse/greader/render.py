"""Items as Google Reader JSON, and the same streams as Google Reader Atom (newsboat 2.21).

Entry content is stored sanitized, so it is sent as is. Titles and authors are plain text;
Google Reader clients show them as HTML, so `&`, `<` and `>` become their full-width look-alikes
(FreshRSS's choice, which clients already live with) rather than entities some would show raw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

from liseuse.feeds import media
from liseuse.greader import ids
from liseuse.greader import streams
from liseuse.lib import links

_FULL_WIDTH = str.maketrans({"&": "＆", "<": "＜", ">": "＞"})
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
READER_SCHEME = "http://www.google.com/reader/"
# What an item needs of a person's entry state, fetched as plain rows (see queries.stream_rows).
ROW_FIELDS = (
    "id",
    "entry_id",
    "feed_id",
    "sort_date",
    "arrived_at",
    "is_read",
    "is_starred",
    "entry__guid",
    "entry__url",
    "entry__title",
    "entry__author",
    "entry__content",
    "entry__summary",
    "entry__categories",
    "entry__enclosures",
    "entry__updated",
)
# `sort_date` is the entry's `published`, copied onto the state: read once, not twice. The
# crawl time is `arrived_at`, when the entry reached this person: what `ot` / `nt` filter on.
Row = Mapping[str, Any]
# A subscription as queries.subscription_rows gives it.
Sub = Mapping[str, Any]
_STATE_WORDS = frozenset({"read", "kept-unread", "fresh", "starred", "reading-list"})


def plain(text: str) -> str:
    return text.translate(_FULL_WIDTH)


def categories(row: Row, sub: Sub | None, labels: Sequence[str]) -> list[str]:
    out = [streams.READING_LIST]
    if sub is not None and sub["category__name"] is not None:
        out.append(streams.LABEL + sub["category__name"])
    if row["is_read"]:
        out.append(streams.READ)
    if row["is_starred"]:
        out.append(streams.STARRED)
    for name in labels:
        out.append(streams.LABEL + name)
    # The feed's own tags, unprefixed; never one that would pass for a state or a label.
    tags = row["entry__categories"]
    if tags and isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str) and not tag.startswith("user/"):
                out.append(tag)
    return out


def _enclosures(row: Row) -> list[dict[str, str]]:
    found = row["entry__enclosures"]
    if not isinstance(found, list):
        return []
    # Through the media proxy when it is on, as the entry's HTML (its players included) is.
    return [
        {
            "href": links.for_apps(media.attachment_for_apps(e["url"], str(e.get("type") or ""))),
            "type": links.media_type_for_apps(str(e.get("type") or "")),
            "length": str(e.get("length") or ""),
        }
        for e in found
        if isinstance(e, dict) and isinstance(e.get("url"), str)
    ]


def feed_title(sub: Sub | None) -> str:
    """The person's name for the feed, else the feed's own, else its URL (display_title)."""
    if sub is None:
        return ""
    return str(sub["title"] or sub["feed__title"] or sub["feed__url"])


def site(sub: Sub | None) -> str:
    return str(sub["feed__site_url"] or sub["feed__url"]) if sub is not None else ""


def site_for_apps(sub: Sub | None) -> str:
    """The feed's site in JSON, where an app may write it into HTML as it is (`lib.links`)."""
    return links.for_apps(site(sub))


def _seconds(moment: datetime) -> int:
    return ids.usec(moment) // 1_000_000


def item(row: Row, sub: Sub | None, labels: Sequence[str]) -> dict[str, Any]:
    stamp = ids.usec(row["sort_date"])
    url = links.for_apps(row["entry__url"])
    published = row["sort_date"]
    body: dict[str, Any] = {
        "id": ids.long_id(row["entry_id"]),
        "crawlTimeMsec": str(ids.usec(row["arrived_at"]) // 1000),
        "timestampUsec": str(stamp),
        "published": _seconds(published),
        "updated": _seconds(row["entry__updated"] or published),
        "title": plain(row["entry__title"]),
        "canonical": [{"href": url}] if url else [],
        "alternate": [{"href": url, "type": "text/html"}] if url else [],
        "categories": categories(row, sub, labels),
        "origin": {
            "streamId": f"feed/{row['feed_id']}",
            "htmlUrl": site_for_apps(sub),
            "title": plain(feed_title(sub)),
        },
        "summary": {
            "direction": "ltr",
            "content": media.for_apps(row["entry__content"] or row["entry__summary"]),
        },
        "author": plain(row["entry__author"]),
    }
    enclosures = _enclosures(row)
    if enclosures:
        body["enclosure"] = enclosures
    return body


def items(
    rows: Sequence[Row],
    subs: Mapping[int, Sub],
    labels: Mapping[int, Sequence[str]],
) -> list[dict[str, Any]]:
    return [item(row, subs.get(row["feed_id"]), labels.get(row["id"], ())) for row in rows]


# --- Atom ----------------------------------------------------------------------------------------


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("", value))


def _attr(value: str) -> str:
    return quoteattr(_NOT_XML.sub("", value))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def atom(
    *,
    stream_id: str,
    title: str,
    updated: datetime,
    rows: Sequence[Row],
    subs: Mapping[int, Sub],
    labels: Mapping[int, Sequence[str]],
    continuation: str | None,
) -> str:
    """A stream as Google Reader served it in Atom: the read state is an entry category whose
    `label` attribute says `read` (newsboat reads `label`, not `term`)."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom"'
        ' xmlns:gr="http://www.google.com/schemas/reader/atom/">',
        f"<id>tag:google.com,2005:reader/{_text(stream_id)}</id>",
        f"<title>{_text(title)}</title>",
        f"<updated>{_iso(updated)}</updated>",
    ]
    if continuation:
        out.append(f"<gr:continuation>{continuation}</gr:continuation>")
    for row in rows:
        sub = subs.get(row["feed_id"])
        published = row["sort_date"]
        crawled = ids.usec(row["arrived_at"]) // 1000
        out.append(f'<entry gr:crawl-timestamp-msec="{crawled}">')
        original = row["entry__guid"] or row["entry__url"]
        out.append(f"<id gr:original-id={_attr(original)}>{ids.long_id(row['entry_id'])}</id>")
        for term in categories(row, sub, labels.get(row["id"], ())):
            state = streams.state_name(term)
            name = streams.label_name(term)
            if state is not None or (name is not None and name not in _STATE_WORDS):
                label = state if state is not None else name
                out.append(
                    f"<category term={_attr(term)} scheme={_attr(READER_SCHEME)}"
                    f" label={_attr(label or '')}/>"
                )
            else:
                # The feed's own tags, and a folder called "read": no label, so that newsboat
                # never takes them for the read state.
                out.append(f"<category term={_attr(term)}/>")
        out.append(f'<title type="text">{_text(row["entry__title"])}</title>')
        out.append(f"<published>{_iso(published)}</published>")
        out.append(f"<updated>{_iso(row['entry__updated'] or published)}</updated>")
        if row["entry__url"]:
            link = links.for_apps(row["entry__url"])
            out.append(f'<link rel="alternate" href={_attr(link)} type="text/html"/>')
        for enclosure in _enclosures(row):
            out.append(
                f'<link rel="enclosure" href={_attr(enclosure["href"])}'
                f" type={_attr(enclosure['type'])}/>"
            )
        html = media.for_apps(row["entry__content"] or row["entry__summary"])
        out.append(f'<content type="html">{_text(html)}</content>')
        if row["entry__author"]:
            out.append(f"<author><name>{_text(row['entry__author'])}</name></author>")
        feed_url = str(sub["feed__url"]) if sub is not None else ""
        out.append(
            f'<source gr:stream-id="feed/{row["feed_id"]}">'
            f"<id>tag:google.com,2005:reader/feed/{_text(feed_url)}</id>"
            f"<title>{_text(feed_title(sub))}</title>"
            f'<link rel="alternate" href={_attr(site_for_apps(sub))} type="text/html"/></source>'
        )
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out) + "\n"
