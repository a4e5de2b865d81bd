"""Read RSS 0.90–2.0, RSS 1.0 (RDF) and Atom 0.3/1.0 documents into `ParsedFeed`.

The XML is parsed by lxml with every dangerous feature off: no DTD loaded, no entity resolved,
no network, no huge trees (which also caps nesting at 256 levels). `recover` gets the text
ready first (encoding, DOCTYPE removal) and, when a strict parse fails, repairs entities before
one lenient parse.

Extensions read: content:encoded, dc (creator, date, subject), media (content, thumbnail,
description, also inside media:group as YouTube writes them), itunes (author, summary, image),
RSS enclosures and Atom rel=enclosure links, xml:base, atom:link self / hub / alternate.

No HTML cleaning here: content and summary are returned as the feed wrote them (sanitize runs
later); titles, authors, categories and descriptions are made plain text.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import threading
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from urllib.parse import urljoin

from lxml import etree

from liseuse.pipeline import reasons
from liseuse.pipeline.parsers.dates import parse_date
from liseuse.pipeline.parsers.recover import decode
from liseuse.pipeline.parsers.recover import escape_broken_text
from liseuse.pipeline.parsers.recover import fix_entities
from liseuse.pipeline.parsers.recover import is_clean_utf8
from liseuse.pipeline.parsers.recover import numeric_references
from liseuse.pipeline.parsers.recover import prepare
from liseuse.pipeline.parsers.recover import unescape_html
from liseuse.pipeline.parsers.text import html_text
from liseuse.pipeline.parsers.text import maybe_html_text
from liseuse.pipeline.types import ParsedEnclosure
from liseuse.pipeline.types import ParsedEntry
from liseuse.pipeline.types import ParsedFeed
from liseuse.pipeline.types import ParseError

ATOM10 = "http://www.w3.org/2005/Atom"
ATOM03 = "http://purl.org/atom/ns#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RSS10 = "http://purl.org/rss/1.0/"
RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
XHTML = "http://www.w3.org/1999/xhtml"

# Namespaces we read, lowercased (feeds vary the case of the iTunes one), to a short prefix.
# The RSS ones map to "": their elements are read like plain RSS 2.0 elements.
_NAMESPACES = {
    "": "",
    RSS10: "",
    RSS090: "",
    "http://backend.userland.com/rss2": "",
    "http://backend.userland.com/rss": "",
    "http://blogs.law.harvard.edu/tech/rss": "",
    "http://purl.org/net/rss1.1#": "",
    ATOM10.lower(): "atom",
    ATOM03: "atom",
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dc",
    "http://search.yahoo.com/mrss/": "media",
    "http://search.yahoo.com/mrss": "media",
    "http://www.itunes.com/dtds/podcast-1.0.dtd": "itunes",
    "http://www.itunes.com/dtds/podcast-1.0.dtd/": "itunes",
    RDF.lower(): "rdf",
    XHTML: "xhtml",
}

# tag ("{namespace}local") → "prefix:local" (or "local" for RSS), per main namespace of a
# document. Bounded: a hostile feed could otherwise fill it with made-up names.
_KEY_CACHE: dict[str, dict[str, str]] = {}
_KEY_CACHE_LIMIT = 5000

_TAG = re.compile(r"<[^>]*>")
_XMLNS_ATTR = re.compile(r'\s+xmlns(?::[A-Za-z0-9_.-]+)?="[^"]*"')
_XHTML_PREFIXES = ("xhtml", "html", "h")
_XHTML_PREFIX = re.compile(rf"(</?)(?:{'|'.join(_XHTML_PREFIXES)}):")
_XHTML_PREFIX_DECLARATION = re.compile(rf'\sxmlns:([A-Za-z_][\w.-]*)="{re.escape(XHTML)}"')

_RSS = ""  # the `primary` of RSS documents: no namespace is the main one
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_RDF_ABOUT = f"{{{RDF}}}about"
_HTTP_URL = re.compile(r"https?://", re.IGNORECASE)
# Where an RSS item's full body may be, best first.
_RSS_CONTENT_KEYS = (
    "content:encoded",
    "xhtml:body",
    "xhtml:div",
    "body",
    "fullitem",
    "atom:content",
)
_MEDIA_KEYS = ("media:group", "media:content", "media:description", "media:thumbnail")
_local = threading.local()


def safe_parser(*, recover: bool) -> etree.XMLParser:
    """An lxml parser with every dangerous feature off: no DTD loaded, no entity resolved, no
    network, and no huge_tree, which keeps libxml2's limits (nesting depth 256, text nodes
    10 MB). Also used for OPML files (liseuse.feeds.opml)."""
    return etree.XMLParser(
        recover=recover,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _parsers() -> tuple[etree.XMLParser, etree.XMLParser]:
    """A strict and a recovering parser for this thread (lxml parsers are not thread-safe)."""
    pair: tuple[etree.XMLParser, etree.XMLParser] | None = getattr(_local, "parsers", None)
    if pair is None:
        pair = (safe_parser(recover=False), safe_parser(recover=True))
        _local.parsers = pair
    return pair


def parse_xml(body: bytes, url: str, content_type: str | None) -> etree._Element:
    """The document's root element; raises ParseError when even recovery finds no element."""
    strict, lenient = _parsers()
    if is_clean_utf8(body, content_type):
        try:
            return _fromstring(body, strict, url)
        except etree.XMLSyntaxError as error:
            _refuse_depth(error)
    prepared = prepare(decode(body, content_type).lstrip("\ufeff \t\r\n"))
    try:
        return _fromstring(prepared.encode("utf-8"), strict, url)
    except etree.XMLSyntaxError as error:
        _refuse_depth(error)
        first_error = str(error)
    # Repaired where it can be (entities; text fields whose markup is not well-formed), the
    # document is parsed strictly again: a lenient parse would read the rest of it worse.
    repaired = escape_broken_text(fix_entities(prepared), _FragmentCheck(prepared))
    try:
        return _fromstring(repaired.encode("utf-8"), strict, url)
    except etree.XMLSyntaxError as error:
        _refuse_depth(error)
    try:
        root = _fromstring(numeric_references(repaired).encode("utf-8"), lenient, url)
    except etree.XMLSyntaxError:  # pragma: no cover - recover=True rarely raises
        root = None
    if root is None:
        if not re.search(r"<[A-Za-z_]", prepared):
            raise ParseError(reasons.NO_XML_ELEMENT)
        raise ParseError(reasons.BROKEN_XML.format(error=first_error))
    _lift_nested_entries(root)
    return root


def _lift_nested_entries(root: etree._Element) -> None:
    """Put back in their channel (or Atom feed) the items a lenient parse nested elsewhere.

    libxml2's recovery leaves an element that is never closed open to the end of the
    document: a stray `<br>` between two items, or an item's unclosed `<title>`, and every
    later item became part of it, out of the reader's sight (only a channel's own items are
    read). Each such item is moved to follow the element of the channel it was found in, in
    document order, with what it holds.
    """
    namespace, local = _split_tag(root.tag if isinstance(root.tag, str) else "")
    if local.lower() == "feed":
        primary, wanted = namespace or ATOM10, "entry"
        containers = {root}
    else:
        primary, wanted = _RSS, "item"
        containers = {root, *_children(root, _RSS).get("channel", ())}
    nested = [
        element
        for element in root.iter()
        if isinstance(element.tag, str)
        and _key(element.tag, primary) == wanted
        and element.getparent() not in containers
    ]
    # The element of its container each item was found in → the last item moved after it.
    placed: dict[etree._Element, etree._Element] = {}
    for element in nested:
        top = element
        parent = top.getparent()
        while parent is not None and parent not in containers:
            top, parent = parent, parent.getparent()
        if parent is None:
            continue  # under no channel (an item outside <rss>'s own): left where it is
        after = placed.get(top, top)
        after.addnext(element)
        placed[top] = element
    fields = _ATOM_ENTRY_FIELDS if wanted == "entry" else _RSS_ITEM_FIELDS
    for container in containers:
        for entry in _children(container, primary).get(wanted, ()):
            _lift_nested_fields(entry, primary, fields)


# An entry's fields that a lenient parse may find inside another one left open (an item's
# unclosed <title> held its link and description).
_RSS_ITEM_FIELDS = frozenset(
    {
        *("title", "link", "description", "guid", "pubdate", "author", "category", "comments"),
        *("enclosure", "dc:creator", "dc:date", "dc:subject", "content:encoded"),
    }
)
_ATOM_ENTRY_FIELDS = frozenset(
    {"title", "link", "id", "updated", "published", "summary", "content", "author", "category"}
)


def _lift_nested_fields(entry: etree._Element, primary: str, fields: frozenset[str]) -> None:
    """Move the fields found inside another field of `entry` to follow it, in order."""
    for field in list(entry):
        if not isinstance(field.tag, str) or _key(field.tag, primary) not in fields:
            continue
        after = field
        for inner in list(field):
            if isinstance(inner.tag, str) and _key(inner.tag, primary) in fields:
                after.addnext(inner)
                after = inner


_NAMESPACE_DECLARATION = re.compile(
    r"""\sxmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*("[^"<]*"|'[^'<]*')"""
)


class _FragmentCheck:
    """Whether a text field's content is well-formed XML, with the document's namespace
    prefixes declared (xhtml:div in a description is well-formed)."""

    def __init__(self, document: str) -> None:
        declared: dict[str, str] = {}
        for prefix, value in _NAMESPACE_DECLARATION.findall(document):
            declared.setdefault(prefix, value)
        self._start = (
            "<x"
            + "".join(
                f" xmlns:{prefix}={value}" if prefix else f" xmlns={value}"
                for prefix, value in declared.items()
            )
            + ">"
        )
        if not self(""):  # a declaration is itself broken: check without any
            self._start = "<x>"

    def __call__(self, content: str) -> bool:
        try:
            etree.fromstring(f"{self._start}{content}</x>".encode(), _parsers()[0])
        except etree.XMLSyntaxError:
            return False
        return True


def _fromstring(data: bytes, parser: etree.XMLParser, url: str) -> etree._Element:
    # The document's URL is the base of xml:base and relative links (lxml's `element.base`).
    if url:
        return etree.fromstring(data, parser, base_url=url)
    return etree.fromstring(data, parser)


def _refuse_depth(error: etree.XMLSyntaxError) -> None:
    """Refuse a document nested deeper than libxml2's limit (256 without huge_tree): recovery
    would only cut it, and no feed needs such depth."""
    if "Excessive depth" in str(error):
        raise ParseError(reasons.XML_TOO_DEEP) from None


def _key(tag: str, primary: str) -> str:
    """The short key of an element: "prefix:local", or the bare local name for elements of the
    document's main vocabulary (RSS; or Atom in an Atom document, whichever namespace its
    root uses). Local names are lowercased: feeds and iTunes treat them case-insensitively."""
    cache = _KEY_CACHE.get(primary)
    if cache is None:
        cache = _KEY_CACHE.setdefault(primary, {})
    key = cache.get(tag)
    if key is None:
        if tag.startswith("{"):
            namespace, _, local = tag[1:].partition("}")
        else:
            namespace, local = "", tag
        prefix = _NAMESPACES.get(namespace.lower(), "?")
        if primary and (namespace == primary or prefix in ("atom", "")):
            prefix = ""
        key = f"{prefix}:{local.lower()}" if prefix else local.lower()
        if len(cache) < _KEY_CACHE_LIMIT:
            cache[tag] = key
    return key


def _split_tag(tag: str) -> tuple[str, str]:
    """(namespace, local name) of an lxml tag ("{namespace}local"). Not etree.QName, which
    raises ValueError on the names a recovering parse keeps, such as "a:b:c"."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _children(element: etree._Element, primary: str) -> dict[str, list[etree._Element]]:
    """An element's children grouped by their key, in document order."""
    # The hottest loop of the parser: the key cache is read here directly, _key() only fills it.
    cache = _KEY_CACHE.get(primary) or {}
    grouped: dict[str, list[etree._Element]] = {}
    for child in element:
        tag = child.tag
        if isinstance(tag, str):
            key = cache.get(tag) or _key(tag, primary)
            found = grouped.get(key)
            if found is None:
                grouped[key] = [child]
            else:
                found.append(child)
    return grouped


def _first(grouped: dict[str, list[etree._Element]], *keys: str) -> etree._Element | None:
    for key in keys:
        found = grouped.get(key)
        if found:
            return found[0]
    return None


# --- text -------------------------------------------------------------------------------------


def plain_text(markup: str) -> str:
    """Plain text from XHTML that was elements in the feed: every tag dropped, entities decoded,
    ends trimmed. (HTML that was text in the feed is read by `text.html_text`, which keeps
    bracketed words that are no markup.)"""
    if "<" in markup:
        markup = _TAG.sub("", markup)
    if "&" in markup:
        markup = unescape_html(markup)
    return markup.strip()


def _all_text(element: etree._Element) -> str:
    if len(element) == 0:
        return element.text or ""
    return "".join(cast("Iterator[str]", element.itertext()))


def _inner_xml(element: etree._Element) -> str:
    """The element's content as HTML source: its text escaped, its child elements serialized
    without the XML namespace declarations a browser does not need."""
    parts = [html.escape(element.text or "", quote=False)]
    for child in element:
        if isinstance(child.tag, str):
            parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
        elif child.tail:
            parts.append(html.escape(child.tail, quote=False))
    markup = "".join(parts)
    # The XHTML namespace may be bound to any prefix ("x:p"); lxml declares it on the first
    # element that uses it, which is how the prefixes to drop are found before the
    # declarations go. Left in, "<x:p>" is no HTML element and the sanitizer drops the markup.
    prefixes = [p for p in _XHTML_PREFIX_DECLARATION.findall(markup) if p not in _XHTML_PREFIXES]
    markup = _XMLNS_ATTR.sub("", markup)
    markup = _XHTML_PREFIX.sub(r"\1", markup)
    if prefixes:
        names = "|".join(re.escape(prefix) for prefix in dict.fromkeys(prefixes))
        markup = re.sub(rf"(</?)(?:{names}):", r"\1", markup)
    return markup


def text_to_html(text: str) -> str:
    """Plain text as HTML: escaped, line breaks kept."""
    escaped = html.escape(text.strip(), quote=False)
    return escaped.replace("\r\n", "\n").replace("\n", "<br>\n")


def _construct_type(element: etree._Element) -> str:
    """The kind of an Atom text construct: "text", "html", "xhtml" or "base64"."""
    mode = element.get("mode")  # Atom 0.3
    if mode == "base64":
        return "base64"
    if mode == "xml":
        return "xhtml"
    kind = (element.get("type") or "text").strip().lower()
    if kind in ("html", "text/html"):
        return "html"
    if kind in ("xhtml", "application/xhtml+xml"):
        return "xhtml"
    if mode == "escaped":
        return "html"
    return "text" if kind in ("text", "text/plain") or kind.startswith("text/") else "other"


def _atom_html(element: etree._Element) -> str:
    """An Atom text construct (content, summary, title…) as HTML source."""
    kind = _construct_type(element)
    if kind == "xhtml":
        children = [child for child in element if isinstance(child.tag, str)]
        if len(children) == 1 and _split_tag(children[0].tag)[1] == "div":
            # Atom 1.0 wraps XHTML in a div that is not part of the content.
            return _inner_xml(children[0]).strip()
        return _inner_xml(element).strip()
    if kind == "base64":
        try:
            return base64.b64decode(element.text or "").decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return ""
    if kind == "html" and len(element):
        # Escaped HTML wrapped in an XHTML div (TypePad did this): the text is the HTML.
        return "".join(cast("Iterator[str]", element.itertext())).strip()
    if len(element):
        return _inner_xml(element).strip()
    if kind == "html":
        return (element.text or "").strip()
    if kind == "text":
        return text_to_html(element.text or "")
    # Atom 1.0: any other non-XML media type is base64. Keep it only if it decodes to text.
    if kind == "other" and not (element.get("type") or "").lower().endswith("xml"):
        try:
            decoded = base64.b64decode(element.text or "", validate=False)
            return decoded.decode("utf-8")
        except (binascii.Error, ValueError):
            return ""
    return ""  # XML of another vocabulary: nothing a reader can show as text


def _atom_text(element: etree._Element) -> str:
    """An Atom text construct as plain text: type="text" exactly as written, XHTML without its
    elements, HTML (escaped, or base64) read by `html_text`."""
    kind = _construct_type(element)
    if kind == "text" and len(element) == 0:
        return (element.text or "").strip()
    if kind == "xhtml" or (kind != "html" and len(element)):
        return plain_text(_atom_html(element))  # real elements: all of them are markup
    return html_text(_atom_html(element))


def _rss_html(element: etree._Element) -> str:
    """An RSS element holding HTML (description, content:encoded) as HTML source."""
    if len(element):
        # Unescaped markup right in the XML: the elements are the HTML.
        return _inner_xml(element).strip()
    return (element.text or "").strip()


def _rss_text(element: etree._Element) -> str:
    """An RSS text element (title, author, category, description) as plain text. RSS does not
    say whether a title is text or HTML: `maybe_html_text` decides from what it holds."""
    return maybe_html_text(_all_text(element))


# --- links --------------------------------------------------------------------------------------


def _resolve(element: etree._Element, href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if not href:
        return None
    if href.startswith(("http://", "https://")):
        return href  # already absolute: no need to ask lxml for the base
    base = element.base
    if not base:
        return href
    try:
        return urljoin(base, href)
    except ValueError:  # a malformed URL (bad IPv6 literal…): keep what the feed said
        return href


@dataclass(frozen=True, slots=True)
class _Links:
    alternate: str | None = None
    self_url: str | None = None
    hub: str | None = None
    enclosures: tuple[ParsedEnclosure, ...] = ()


_NO_LINKS = _Links()


def _atom_links(links: Iterable[etree._Element]) -> _Links:
    alternates: list[tuple[int, str]] = []
    self_url = hub = None
    enclosures: list[ParsedEnclosure] = []
    for link in links:
        href = link.get("href")
        if href is not None and not href.strip():
            href = link.base  # an empty reference is the base itself (RFC 3986 §5.2)
        else:
            href = _resolve(link, href or link.text)
        if href is None:
            continue
        rel = (link.get("rel") or "alternate").strip().lower()
        if rel in ("alternate", "http://www.iana.org/assignments/relation/alternate"):
            kind = (link.get("type") or "").lower()
            # Prefer the HTML page when several alternates are given (e.g. HTML and PDF).
            alternates.append(
                (0 if kind in ("", "text/html", "application/xhtml+xml") else 1, href)
            )
        elif rel == "self" and self_url is None:
            self_url = href
        elif rel == "hub" and hub is None:
            hub = href
        elif rel == "enclosure":
            enclosures.append(
                ParsedEnclosure(
                    url=href,
                    mime_type=(link.get("type") or "").strip(),
                    length=_int(link.get("length")),
                )
            )
    alternate = min(alternates, key=lambda pair: pair[0])[1] if alternates else None
    return _Links(alternate, self_url, hub, tuple(enclosures))


def _int(value: str | None) -> int | None:
    if not value:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


# --- authors ------------------------------------------------------------------------------------


# RSS 2.0's <author> is an email address, by convention followed by the name in parentheses
# ("jane@example.com (Jane Doe)"); some write "Jane Doe <jane@example.com>", as in mail.
_EMAIL = r"[^\s@()<>]+@[^\s@()<>]+"
_EMAIL_THEN_NAME = re.compile(rf"{_EMAIL}\s*\(([^()]*)\)")
_NAME_THEN_EMAIL = re.compile(rf"([^<>]*)<{_EMAIL}>")


def _rss_author(element: etree._Element) -> str:
    """An RSS author as text: the name, when it comes with an address (FreshRSS and Miniflux
    show the name too), else what the feed wrote."""
    text = _rss_text(element)
    if "@" in text:
        found = _EMAIL_THEN_NAME.fullmatch(text) or _NAME_THEN_EMAIL.fullmatch(text)
        name = found[1].strip() if found else ""
        if name:
            return name
    return text


def _person(element: etree._Element, primary: str) -> str:
    """An Atom person (name, email) as text: "name (email)", as feedparser writes it; an RSS
    author element is read by `_rss_author`. Atom's name and email are text, kept as written."""
    if len(element) == 0:
        return _rss_author(element)
    grouped = _children(element, primary or ATOM10)
    name_el = _first(grouped, "name")
    email_el = _first(grouped, "email")
    if name_el is None and email_el is None:
        return _rss_author(element)
    name = _all_text(name_el).strip() if name_el is not None else ""
    email = _all_text(email_el).strip() if email_el is not None else ""
    if name and email:
        return f"{name} ({email})"
    return name or email


# --- media --------------------------------------------------------------------------------------


def _media(grouped: dict[str, list[etree._Element]]) -> tuple[list[ParsedEnclosure], str, str]:
    """Enclosures, a description (HTML) and a thumbnail URL from media:* elements, looking
    inside media:group too (YouTube puts everything there)."""
    enclosures: list[ParsedEnclosure] = []
    description = ""
    thumbnail = ""
    if not any(key in grouped for key in _MEDIA_KEYS):
        return enclosures, description, thumbnail
    pending = [grouped]
    for group in grouped.get("media:group", ()):
        pending.append(_children(group, _RSS))
    for elements in pending:
        for content in elements.get("media:content", ()):
            url = _resolve(content, content.get("url"))
            if url:
                enclosures.append(
                    ParsedEnclosure(
                        url=url,
                        mime_type=(content.get("type") or "").strip(),
                        length=_int(content.get("fileSize")),
                    )
                )
        if not description:
            found = _first(elements, "media:description")
            if found is not None:
                if (found.get("type") or "plain").lower() == "html":
                    description = _rss_html(found)
                else:
                    description = text_to_html(_all_text(found))
        if not thumbnail:
            found = _first(elements, "media:thumbnail")
            if found is not None:
                thumbnail = _resolve(found, found.get("url")) or ""
    return enclosures, description, thumbnail


# --- documents ----------------------------------------------------------------------------------


def read_document(root: etree._Element, url: str) -> ParsedFeed:
    """The ParsedFeed a parsed XML document holds; ParseError if it is no feed."""
    namespace, local = _split_tag(root.tag if isinstance(root.tag, str) else "")
    local = local.lower()
    if local == "feed":
        return _read_atom(root, url, "atom03" if namespace == ATOM03 else "atom10")
    if local == "rss":
        version = (root.get("version") or "2.0").strip()
        return _read_rss(root, url, "rss09x" if version.startswith("0.9") else "rss20")
    if local == "rdf":
        namespaces = {_split_tag(child.tag)[0] for child in root if isinstance(child.tag, str)}
        return _read_rss(root, url, "rss09x" if RSS090 in namespaces else "rss10")
    if local == "channel":  # RSS without its <rss> wrapper: seen in the wild
        return _read_rss(root, url, "rss20")
    if local in ("html", "xhtml", "body"):
        raise ParseError(reasons.HTML_PAGE)
    raise ParseError(reasons.XML_NOT_A_FEED.format(element=local or "?"))


def _read_rss(root: etree._Element, url: str, kind: str) -> ParsedFeed:
    root_children = _children(root, _RSS)
    channel = _first(root_children, "channel")
    if channel is None and _split_tag(root.tag)[1].lower() == "channel":
        channel = root
    grouped = _children(channel, _RSS) if channel is not None else {}

    title_el = _first(grouped, "title", "dc:title")
    link_el = _first(grouped, "link")
    links = _atom_links(grouped.get("atom:link", ()))
    description_el = _first(grouped, "description", "dc:description", "itunes:summary")
    image_url = None
    image = _first(grouped, "image")
    if image is None:
        image = _first(root_children, "image")
    if image is not None:
        image_grouped = _children(image, _RSS)
        image_url_el = _first(image_grouped, "url")
        if image_url_el is not None:
            image_url = _resolve(image_url_el, _all_text(image_url_el))
    itunes_image = _first(grouped, "itunes:image")
    if image_url is None and itunes_image is not None:
        image_url = _resolve(itunes_image, itunes_image.get("href"))
    ttl_el = _first(grouped, "ttl")
    language_el = _first(grouped, "language", "dc:language")

    # Items live in the channel (RSS 0.9x/2.0) or beside it (RSS 1.0); broken feeds mix both.
    items = grouped.get("item", []) + root_children.get("item", [])
    feed_link = (
        _resolve(link_el, _all_text(link_el)) if link_el is not None else None
    ) or links.alternate
    entries = tuple(_read_rss_item(item, url) for item in items)
    return ParsedFeed(
        format=kind,
        title=_rss_text(title_el) if title_el is not None else "",
        link=feed_link,
        self_url=links.self_url,
        hub_url=links.hub,
        description=_rss_text(description_el) if description_el is not None else "",
        icon_url=image_url,
        ttl_minutes=_int(_all_text(ttl_el)) if ttl_el is not None else None,
        language=_all_text(language_el) if language_el is not None else "",
        entries=entries,
    )


def _read_rss_item(item: etree._Element, url: str) -> ParsedEntry:
    grouped = _children(item, _RSS)
    title_el = _first(grouped, "title", "dc:title", "media:title")

    guid_el = _first(grouped, "guid")
    guid = _all_text(guid_el).strip() if guid_el is not None else ""
    about = item.get(_RDF_ABOUT)
    link_el = _first(grouped, "link")
    link = _resolve(link_el, _all_text(link_el)) if link_el is not None else None
    atom_links = _atom_links(grouped["atom:link"]) if "atom:link" in grouped else _NO_LINKS
    link = link or atom_links.alternate
    if link is None and guid_el is not None:
        permalink = (guid_el.get("isPermaLink") or "true").strip().lower() != "false"
        if permalink and _HTTP_URL.match(guid):
            link = _resolve(guid_el, guid)
    if link is None and about and _HTTP_URL.match(about):
        link = about

    content_key = next((key for key in _RSS_CONTENT_KEYS if key in grouped), None)
    content_el = grouped[content_key][0] if content_key else None
    description_el = _first(grouped, "description", "dc:description", "atom:summary")
    summary = _rss_html(description_el) if description_el is not None else ""
    if not summary:
        itunes_summary = _first(grouped, "itunes:summary", "itunes:subtitle")
        if itunes_summary is not None:
            summary = text_to_html(_all_text(itunes_summary))
    media_enclosures, media_description, thumbnail = _media(grouped)
    if content_el is None:
        content = summary or media_description
    elif content_key == "atom:content":
        content = _atom_html(content_el)
    else:
        # content:encoded and fullitem hold escaped HTML; xhtml:body and body hold elements.
        content = _rss_html(content_el)
    summary = summary or media_description

    author_el = _first(grouped, "author", "dc:creator", "dc:author", "itunes:author", "atom:author")
    author = _person(author_el, _RSS) if author_el is not None else ""

    published = _date(grouped, "pubdate", "dc:date", "dc:issued", "dc:created", "atom:published")
    updated = _date(grouped, "atom:updated", "dc:modified", "lastbuilddate")

    categories: list[str] = []
    for category in grouped.get("category", []) + grouped.get("dc:subject", []):
        text = _rss_text(category)
        if text and text not in categories:
            categories.append(text)
    for category in grouped.get("atom:category", ()):
        text = (category.get("term") or category.get("label") or "").strip()
        if text and text not in categories:
            categories.append(text)
    if "itunes:category" in grouped or "media:category" in grouped or "media:group" in grouped:
        _extension_categories(grouped, categories)

    enclosures: list[ParsedEnclosure] = []
    for enclosure in grouped.get("enclosure", ()):
        href = _resolve(enclosure, enclosure.get("url") or enclosure.get("href"))
        if href:
            enclosures.append(
                ParsedEnclosure(
                    url=href,
                    mime_type=(enclosure.get("type") or "").strip(),
                    length=_int(enclosure.get("length")),
                )
            )
    enclosures.extend(atom_links.enclosures)
    if media_enclosures:
        _add_new(enclosures, media_enclosures)
    if not thumbnail:
        # A podcast episode's own artwork.
        image_el = _first(grouped, "itunes:image")
        if image_el is not None:
            thumbnail = _resolve(image_el, image_el.get("href") or image_el.get("url")) or ""

    return ParsedEntry(
        guid=guid or about or None,
        link=link,
        title=_rss_text(title_el) if title_el is not None else "",
        content=content,
        summary=summary,
        author=author,
        published=published,
        updated=updated,
        categories=tuple(categories),
        enclosures=tuple(enclosures),
        base_url=_content_base(_some(content_el, description_el, item), link, url),
        thumbnail=thumbnail or None,
    )


def _extension_categories(grouped: dict[str, list[etree._Element]], categories: list[str]) -> None:
    """Add iTunes categories (the `text` attribute, nested for subcategories) and media:category
    elements to `categories`."""
    pending = list(grouped.get("itunes:category", ()))
    while pending:
        category = pending.pop(0)
        text = (category.get("text") or "").strip()
        if text and text not in categories:
            categories.append(text)
        pending.extend(child for child in category if isinstance(child.tag, str))
    for group in [grouped, *(_children(g, _RSS) for g in grouped.get("media:group", ()))]:
        for category in group.get("media:category", ()):
            text = _rss_text(category)
            if text and text not in categories:
                categories.append(text)


def _add_new(enclosures: list[ParsedEnclosure], more: Iterable[ParsedEnclosure]) -> None:
    """Add enclosures whose URL is not there yet (media:content often repeats <enclosure>)."""
    seen = {enclosure.url for enclosure in enclosures}
    for enclosure in more:
        if enclosure.url not in seen:
            seen.add(enclosure.url)
            enclosures.append(enclosure)


def _date(grouped: dict[str, list[etree._Element]], *keys: str) -> datetime | None:
    for key in keys:
        for element in grouped.get(key, ()):
            parsed = parse_date(_all_text(element))
            if parsed is not None:
                return parsed
    return None


def _some(*elements: etree._Element | None) -> etree._Element:
    """The first element that is there (an lxml element without children is falsy, so `or`
    cannot be used)."""
    for element in elements:
        if element is not None:
            return element
    raise ValueError("no element")  # pragma: no cover - callers always pass one last


def _content_base(element: etree._Element, link: str | None, url: str) -> str | None:
    """The base for relative URLs in an entry's content: the xml:base in force where the
    content is, else the entry's link, else the feed's own URL."""
    base = element.base
    if base and base != url:
        return base
    return link or url or None


def _read_atom(root: etree._Element, url: str, kind: str) -> ParsedFeed:
    primary = _split_tag(root.tag)[0] or ATOM10
    grouped = _children(root, primary)
    links = _atom_links(grouped.get("link", ()))
    title_el = _first(grouped, "title")
    subtitle_el = _first(grouped, "subtitle", "tagline", "info")
    icon_el = _first(grouped, "icon", "logo")
    feed_author_el = _first(grouped, "author")
    feed_author = _person(feed_author_el, primary) if feed_author_el is not None else ""
    entries = tuple(
        _read_atom_entry(entry, url, feed_author, primary) for entry in grouped.get("entry", ())
    )
    return ParsedFeed(
        format=kind,
        title=_atom_text(title_el) if title_el is not None else "",
        link=links.alternate,
        self_url=links.self_url,
        hub_url=links.hub,
        description=_atom_text(subtitle_el) if subtitle_el is not None else "",
        icon_url=_resolve(icon_el, _all_text(icon_el)) if icon_el is not None else None,
        language=root.get(_XML_LANG) or "",
        entries=entries,
    )


def _read_atom_entry(
    entry: etree._Element, url: str, feed_author: str, primary: str
) -> ParsedEntry:
    grouped = _children(entry, primary)
    links = _atom_links(grouped.get("link", ()))
    title_el = _first(grouped, "title", "media:title")
    id_el = _first(grouped, "id")
    content_el = _first(grouped, "content")
    summary_el = _first(grouped, "summary")
    media_enclosures, media_description, thumbnail = _media(grouped)

    summary = _atom_html(summary_el) if summary_el is not None else ""
    content = _atom_html(content_el) if content_el is not None else ""
    content = content or summary or media_description
    summary = summary or media_description

    author_el = _first(grouped, "author", "dc:creator")
    author = _person(author_el, primary) if author_el is not None else ""
    if not author:
        source = _first(grouped, "source")
        source_author = _first(_children(source, primary), "author") if source is not None else None
        author = _person(source_author, primary) if source_author is not None else feed_author

    categories: list[str] = []
    for category in grouped.get("category", ()):
        text = (category.get("term") or category.get("label") or "").strip()
        if text and text not in categories:
            categories.append(text)
    for category in grouped.get("dc:subject", ()):
        text = _rss_text(category)
        if text and text not in categories:
            categories.append(text)
    if "media:category" in grouped or "media:group" in grouped:
        _extension_categories(grouped, categories)

    enclosures = list(links.enclosures)
    if media_enclosures:
        _add_new(enclosures, media_enclosures)
    link = links.alternate
    return ParsedEntry(
        guid=_all_text(id_el).strip() or None if id_el is not None else None,
        link=link,
        title=_atom_text(title_el) if title_el is not None else "",
        content=content,
        summary=summary,
        author=author,
        published=_date(grouped, "published", "issued", "created", "dc:date"),
        updated=_date(grouped, "updated", "modified"),
        categories=tuple(categories),
        enclosures=tuple(enclosures),
        base_url=_content_base(_some(content_el, summary_el, entry), link, url),
        thumbnail=thumbnail or None,
    )
