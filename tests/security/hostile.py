"""A hostile site for the XSS suite: an RSS and an Atom feed whose every field carries the
vectors of `xss_vectors`, an SVG icon with script, and an OPML file with hostile names."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.security.xss_vectors import URL_VECTORS
from tests.security.xss_vectors import VECTORS

# XML 1.0 cannot carry these at all (not even as references): a feed holding them is not a
# feed. The vectors keep their other characters.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
START = datetime(2026, 1, 1, tzinfo=UTC)

ICON_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="xss(\'icon-onload\')">'
    b"<script>xss('icon-script');alert('icon')</script>"
    b'<image href="//canary.invalid/icon.png"/><rect width="16" height="16"/></svg>'
)


def clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def text(value: str, *, cdata: bool) -> str:
    value = clean(value)
    if cdata and "]]>" not in value:
        return f"<![CDATA[{value}]]>"
    return escape(value)


def rss(base: str) -> bytes:
    items = []
    for i, vector in enumerate(VECTORS):
        cdata = i % 3 == 0
        link = URL_VECTORS[i % len(URL_VECTORS)]
        content = f"<content:encoded>{text(vector, cdata=cdata)}</content:encoded>" if i % 4 else ""
        items.append(
            "<item>"
            f"<title>{text(vector, cdata=cdata)}</title>"
            f"<link>{text(link, cdata=cdata)}</link>"
            f'<guid isPermaLink="false">{text(f"g{i} {vector}", cdata=cdata)}</guid>'
            f"<description>{text(vector, cdata=not cdata)}</description>{content}"
            f"<dc:creator>{text(vector, cdata=cdata)}</dc:creator>"
            f"<category>{text(vector, cdata=cdata)}</category>"
            f'<enclosure url={quoteattr(clean(link))} type={quoteattr(clean(vector))} length="1"/>'
            f"<pubDate>{format_datetime(START + timedelta(minutes=i))}</pubDate>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(VECTORS[0])} RSS {escape(VECTORS[20])}</title>"
        "<link>javascript:xss('rss-site')</link>"
        f"<description>{escape(VECTORS[1])}</description>"
        f"<image><url>{escape(base)}/icon.svg</url><title>x</title><link>javascript:xss(3)</link></image>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def atom(base: str) -> bytes:
    entries = []
    for i, vector in enumerate(VECTORS):
        link = URL_VECTORS[(i + 7) % len(URL_VECTORS)]
        entries.append(
            "<entry>"
            f"<id>urn:hostile:{i}</id>"
            f'<title type="html">{text(vector, cdata=i % 2 == 0)}</title>'
            f'<link rel="alternate" href={quoteattr(clean(link))}/>'
            f'<link rel="enclosure" href={quoteattr(clean(link))} type={quoteattr(clean(vector))}/>'
            f"<author><name>{text(vector, cdata=False)}</name><uri>{escape(clean(link))}</uri></author>"
            f"<category term={quoteattr(clean(vector))} label={quoteattr(clean(vector))}/>"
            f'<summary type="html">{text(vector, cdata=False)}</summary>'
            + (f'<content type="html">{text(vector, cdata=True)}</content>' if i % 2 else "")
            + f"<updated>{(START + timedelta(hours=1, minutes=i)).isoformat()}</updated>"
            "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title type="html">{escape(VECTORS[21])} Atom</title><id>urn:hostile</id>'
        '<link rel="alternate" href="javascript:xss(\'atom-site\')"/>'
        f"<icon>{escape(base)}/icon.svg</icon><updated>2026-01-02T00:00:00Z</updated>"
        + "".join(entries)
        + "</feed>"
    ).encode()


def opml(base: str) -> bytes:
    outlines = []
    for i, vector in enumerate(VECTORS[:60]):
        name = quoteattr(clean(vector))
        site = quoteattr(clean(URL_VECTORS[i % len(URL_VECTORS)]))
        feed = quoteattr(f"{base}/opml/{i}.xml")
        outlines.append(
            f'<outline text={name}><outline type="rss" text={name} title={name}'
            f" xmlUrl={feed} htmlUrl={site}/></outline>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><opml version="2.0"><head>'
        f"<title>{escape(VECTORS[13])}</title></head><body>" + "".join(outlines) + "</body></opml>"
    ).encode()


def hostile_site() -> LocalServer:
    server = LocalServer({})
    base = server.url("").rstrip("/")
    server.routes.update(
        {
            "/rss": Reply(headers={"Content-Type": "application/rss+xml"}, body=rss(base)),
            "/atom": Reply(headers={"Content-Type": "application/atom+xml"}, body=atom(base)),
            "/icon.svg": Reply(headers={"Content-Type": "image/svg+xml"}, body=ICON_SVG),
        }
    )
    return server
