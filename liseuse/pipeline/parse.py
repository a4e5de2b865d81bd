"""The parse step: a fetched body in, a `ParsedFeed` out, or a `ParseError` saying why not.

It detects the format (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed 1.0/1.1) from the body itself,
not from the Content-Type, which servers often get wrong (the header is used only for its
charset and as a hint that a body is JSON). The readers live in `liseuse.pipeline.parsers`.
The choice of an lxml-based parser of our own, and its numbers, are in docs/parsing.md.

This step does no HTML cleaning (content and summary stay as the feed wrote them; `sanitize`
runs later), fetches nothing and never expands an entity declared in a DTD.
"""

from __future__ import annotations

import re

from liseuse.pipeline import reasons
from liseuse.pipeline.parsers.jsonfeed import parse_json_feed
from liseuse.pipeline.parsers.recover import decode
from liseuse.pipeline.parsers.xmlfeeds import parse_xml
from liseuse.pipeline.parsers.xmlfeeds import read_document
from liseuse.pipeline.types import ParsedFeed
from liseuse.pipeline.types import ParseError

__all__ = ["ParseError", "parse_feed"]

# An HTML page starts, after an optional declaration, comments and doctype, with <html>.
_HTML_PAGE = re.compile(
    r"^(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<!doctype[^>]*>\s*)*<html[\s>]",
    re.IGNORECASE | re.DOTALL,
)
_HTML_DOCTYPE = re.compile(r"<!doctype\s+html\b", re.IGNORECASE)


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Read a feed document. `url` is where it was fetched from (the base for relative links);
    `content_type` is the HTTP header, if any."""
    if not body.strip():
        raise ParseError(reasons.EMPTY_BODY)
    # Sniff the kind of document from its start; only JSON needs the whole body decoded here.
    start = decode(body[:4096], content_type).lstrip("\ufeff \t\r\n")
    if not start:
        raise ParseError(reasons.EMPTY_BODY)
    if start[0] in "{[" or (
        content_type and "json" in content_type.lower() and not start.startswith("<")
    ):
        return parse_json_feed(decode(body, content_type).lstrip("\ufeff \t\r\n"), url)
    if _HTML_PAGE.match(start):
        raise ParseError(reasons.HTML_PAGE)
    if "<" not in start and b"<" not in body:
        raise ParseError(reasons.NEITHER_XML_NOR_JSON)
    try:
        return read_document(parse_xml(body, url, content_type), url)
    except ParseError:
        # Without <html> (it is optional in HTML), an HTML page parsed as XML has some other
        # root: its doctype still tells what it is. (Feeds sometimes carry a stray HTML doctype
        # too, which is why it alone does not refuse a body.)
        if _HTML_DOCTYPE.search(start):
            raise ParseError(reasons.HTML_PAGE) from None
        raise
