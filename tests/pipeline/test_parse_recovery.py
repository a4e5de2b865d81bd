"""Parsing ill-formed real feeds: what a server prints before the feed, Atom XHTML prefixes."""

from __future__ import annotations

import contextlib
import time

import pytest

from liseuse.pipeline.parse import parse_feed
from liseuse.pipeline.types import ParseError

FEED = (
    "<rss version='2.0'><channel><title>Été</title>"
    "<item><title>Привет, été</title><link>https://example.org/1</link></item></channel></rss>"
)
# What PHP prints before the feed when a plugin warns (html_errors on, the default).
PHP_WARNING = (
    "<br />\n<b>Warning</b>:  Cannot modify header information - headers already sent by"
    " (output started at /var/www/wp-config.php:1) in <b>/var/www/wp-includes/feed.php</b>"
    " on line <b>8</b><br />\n"
)


def rss_with_title(title: str) -> bytes:
    channel = f"<channel><title>c</title><item><title>{title}</title></item></channel>"
    return f"<rss version='2.0'>{channel}</rss>".encode()


@pytest.mark.parametrize(
    "encoding", ["utf-8", "iso-8859-1", "windows-1252", "windows-1251", "koi8-r"]
)
@pytest.mark.parametrize("garbage", ["Notice: undefined index\n", PHP_WARNING])
def test_garbage_before_the_xml_declaration_keeps_the_declared_encoding(
    garbage: str, encoding: str
) -> None:
    title = "Привет" if encoding in ("windows-1251", "koi8-r") else "Été"
    document = FEED.replace("Été", title).replace("Привет, été", title)
    body = f"{garbage}<?xml version='1.0' encoding='{encoding}'?>\n{document}".encode(encoding)

    feed = parse_feed(body, url="https://example.org/feed")

    assert feed.title == title
    assert [entry.title for entry in feed.entries] == [title]


def test_an_xml_declaration_inside_the_feed_is_not_taken_for_its_start() -> None:
    # No declaration at the top, one quoted in the first item: nothing before it is garbage.
    body = (
        "<rss version='2.0'><channel><title>XML tips</title><item><title>Déclarer</title>"
        "<description><![CDATA[Start with <?xml version='1.0' encoding='iso-8859-1'?>]]>"
        "</description></item></channel></rss>"
    ).encode()

    feed = parse_feed(body, url="https://example.org/feed")

    assert feed.title == "XML tips"
    assert feed.entries[0].title == "Déclarer"
    assert "encoding='iso-8859-1'" in feed.entries[0].summary


@pytest.mark.parametrize("prefix", ["xhtml", "x", "xh"])
def test_atom_xhtml_content_keeps_its_markup_whatever_the_prefix(prefix: str) -> None:
    p = f"{prefix}:"
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>1</id>'
        f'<title>e</title><content type="xhtml"><{p}div xmlns:{prefix}="http://www.w3.org/1999/xhtml">'
        f'<{p}p>Hi <{p}a href="/x">link</{p}a><{p}img src="a.png"/></{p}p></{p}div></content>'
        "</entry></feed>"
    ).encode()

    entry = parse_feed(body, url="https://example.org/feed").entries[0]

    assert entry.content == '<p>Hi <a href="/x">link</a><img src="a.png"/></p>'


def test_atom_xhtml_content_keeps_prefixes_of_other_vocabularies() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:m="http://www.w3.org/1998/Math/MathML">'
        b'<title>t</title><entry><id>1</id><title>e</title><content type="xhtml">'
        b'<div xmlns="http://www.w3.org/1999/xhtml"><p>a <m:math><m:mi>x</m:mi></m:math></p></div>'
        b"</content></entry></feed>"
    )

    entry = parse_feed(body, url="https://example.org/feed").entries[0]

    assert entry.content == "<p>a <m:math><m:mi>x</m:mi></m:math></p>"


@pytest.mark.parametrize("size", ["Infinity", "1e400", "-1", "NaN", "12.5", "true"])
def test_a_json_feed_attachment_size_never_breaks_the_feed(size: str) -> None:
    # Python's json reads Infinity, NaN and 1e400 (as infinity): none is a length.
    body = (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1",'
        f' "attachments": [{{"url": "https://example.org/a.mp3", "size_in_bytes": {size}}}]}}]}}'
    ).encode()

    enclosure = parse_feed(body, url="https://example.org/feed.json").entries[0].enclosures[0]

    assert enclosure.url == "https://example.org/a.mp3"
    assert enclosure.length == (12 if size == "12.5" else None)


def test_a_root_element_with_an_impossible_name_is_refused_cleanly() -> None:
    # Recovery keeps "feedx:y:z" as a tag name, which lxml's QName refuses with a ValueError.
    with pytest.raises(ParseError):
        parse_feed(b"<feedx:y:z version='1'><title>t</title></feedx:y:z>", url="")


def test_a_child_with_an_impossible_name_does_not_break_the_feed() -> None:
    rdf = (
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://purl.org/rss/1.0/"><a:b:c/><channel><title>R</title></channel>'
        b"<item><title>i</title></item></rdf:RDF>"
    )
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><id>1</id>'
        b'<title>e</title><content type="xhtml"><a:b:div>hi</a:b:div></content></entry></feed>'
    )

    assert [entry.title for entry in parse_feed(rdf, url="").entries] == ["i"]
    assert "hi" in parse_feed(atom, url="").entries[0].content


def test_a_namespace_with_a_control_character_does_not_break_the_feed() -> None:
    body = b'<feed xmlns="http:&#x11;//purl.org/atom/ns#"><title>t</title></feed>'

    assert parse_feed(body, url="").title == "t"


@pytest.mark.parametrize(
    ("reference", "text"),
    [
        ("&amp;#" + "0" * 5000 + "65;", "A"),
        ("&amp;#x" + "0" * 5000 + "41;", "A"),
        ("&amp;#" + "9" * 5000 + ";", "\ufffd"),
        ("&amp;#X" + "f" * 5000 + ";", "\ufffd"),
    ],
)
def test_a_character_reference_of_thousands_of_digits_is_read(reference: str, text: str) -> None:
    # html.unescape calls int() on the digits, which refuses more than 4300 of them.
    body = rss_with_title(f"a {reference} b")

    assert parse_feed(body, url="").entries[0].title == f"a {text} b"


# One malformed spot: the rest of the feed reads as it would without it


def feed_with(spot: str, *, where: str = "item") -> bytes:
    """A feed whose first item (or the channel's description) holds `spot`, and two good items
    with escaped HTML, CDATA, entities and a link with a query string."""
    channel_description = spot if where == "channel" else "Le carnet"
    first_item = spot if where == "item" else "rien"
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Carnet</title>"
        f"<link>https://example.org/</link><description>{channel_description}</description>"
        "<item><title>Fautif</title><link>https://example.org/0</link>"
        f"<description>{first_item}</description></item>"
        "<item><title>Café &amp; crème</title><link>https://example.org/1?a=1&amp;b=2</link>"
        "<description>&lt;p&gt;zebra &lt;b&gt;bold&lt;/b&gt; &amp;amp; été&lt;/p&gt;</description>"
        "</item><item><title>Deux &lt;T&gt;</title><link>https://example.org/2</link>"
        "<description><![CDATA[<p>cdata &amp; <i>it</i></p>]]></description></item>"
        "</channel></rss>"
    ).encode()


def good_items(body: bytes) -> list[tuple[str, str | None, str, str]]:
    feed = parse_feed(body, url="https://example.org/feed")
    return [(e.title, e.link, e.content, e.summary) for e in feed.entries[1:]]


CLEAN = feed_with("fine")


@pytest.mark.parametrize(
    "spot",
    [
        "bad <b x=1> here",  # a stray tag with an unquoted attribute
        "line<br>more",  # an HTML void element left open
        "<p>unclosed",
        "</div> a stray end tag",
        "x <img src=a.png> y",
        "a < b",
        "Fish & chips",  # a bare &
        "a&nbsp;b &eacute;t&eacute;",  # HTML entities XML does not know
        "&unknown; entity",
    ],
)
@pytest.mark.parametrize("where", ["item", "channel"])
def test_one_malformed_spot_leaves_the_other_items_as_they_were(spot: str, where: str) -> None:
    assert good_items(feed_with(spot, where=where)) == good_items(CLEAN)


def test_the_channel_keeps_its_title_and_link_past_a_malformed_spot() -> None:
    feed = parse_feed(feed_with("bad <b x=1> here", where="item"), url="https://example.org/feed")

    assert (feed.title, feed.link) == ("Carnet", "https://example.org/")
    assert len(feed.entries) == 3


def test_a_malformed_spot_keeps_its_own_text() -> None:
    feed = parse_feed(feed_with("bad <b x=1> here", where="channel"), url="")

    assert feed.description.split() == ["bad", "here"]  # the tag was HTML: read as HTML
    assert parse_feed(feed_with("line<br>more"), url="").entries[0].summary == "line<br>more"


def test_a_bad_byte_in_a_utf8_feed_leaves_the_other_items_as_they_were() -> None:
    body = CLEAN.replace(b"<description>fine", b"<description>caf\xe9 \xff")

    assert good_items(body) == good_items(CLEAN)
    feed = parse_feed(body, url="")
    assert feed.title == "Carnet"
    assert feed.entries[0].summary == "café ÿ"  # the stray bytes read as windows-1252


@pytest.mark.parametrize(
    ("fault", "written"),
    [
        (b"<item><title>Fautif", b"<item x=1><title>Fautif"),  # an unquoted attribute
        (b"</item><item><title>Caf", b"</item></foo><item><title>Caf"),  # a stray end tag
        (b"<description>fine</description>", b"<description>fine</descriptio>"),
    ],
)
def test_a_fault_in_the_structure_keeps_the_escaped_markup_after_it(
    fault: bytes, written: bytes
) -> None:
    # No text field is at fault: the lenient parse reads the document. libxml2 drops every
    # &lt; &gt; &amp; after its first error, so they reach it as character references.
    assert good_items(CLEAN.replace(fault, written)) == good_items(CLEAN)


# Recovering stays linear in the size of the body


def test_unterminated_cdata_sections_take_no_quadratic_time() -> None:
    # Each CDATA section left open used to be searched for its end to the end of the body:
    # 20,000 of them (180 KB, with a bare & that sends the body to the repairs) took 25 s.
    body = b"<rss><channel><title>a & b</title>" + b"<![CDATA[" * 20_000 + b"</channel></rss>"

    started = time.perf_counter()
    with contextlib.suppress(ParseError):
        parse_feed(body, url="")
    assert time.perf_counter() - started < 5


def test_text_fields_left_open_take_no_quadratic_time() -> None:
    body = (
        b"<rss><channel><title>a <b x=1></title>"
        + b"".join(b"<p%d:title>" % n for n in range(30_000))
        + b"<title>" * 30_000
        + b"</titlex" * 30_000
        + b"</channel></rss>"
    )

    started = time.perf_counter()
    with contextlib.suppress(ParseError):
        parse_feed(body, url="")
    assert time.perf_counter() - started < 5


# --- structural faults: an element left open -------------------------------------------------

ITEMS = "".join(
    f"<item><title>{name}</title><link>https://example.org/{name}</link>"
    f"<description>about {name}</description></item>\n"
    for name in ("one", "two", "three", "four")
)


def rss_items(items: str) -> bytes:
    return f"<rss version='2.0'><channel><title>c</title>\n{items}</channel></rss>".encode()


def read(body: bytes) -> list[tuple[str, str | None, str]]:
    return [(e.title, e.link, e.content) for e in parse_feed(body, url="").entries]


EXPECTED = [
    (name, f"https://example.org/{name}", f"about {name}")
    for name in ("one", "two", "three", "four")
]


def test_a_stray_tag_between_items_keeps_every_item_after_it() -> None:
    # A recovering parse leaves the <br> open to the end: the later items were inside it.
    body = rss_items(ITEMS.replace("</item>\n<item><title>two", "</item><br>\n<item><title>two"))

    assert read(body) == EXPECTED


def test_two_stray_tags_keep_every_item_in_order() -> None:
    items = ITEMS.replace("</item>\n", "</item><br>\n", 1).replace(
        "</item>\n<item><title>four", "</item><hr>\n<item><title>four"
    )

    assert read(rss_items(items)) == EXPECTED


def test_an_items_unclosed_title_keeps_its_fields_and_the_later_items() -> None:
    body = rss_items(ITEMS.replace("<title>two</title>", "<title>two"))

    assert read(body) == EXPECTED


def test_a_stray_tag_between_atom_entries_keeps_every_entry() -> None:
    entries = "".join(
        f"<entry><id>urn:{n}</id><title>{n}</title><content>about {n}</content></entry>"
        for n in ("one", "two", "three")
    ).replace("</entry><entry><id>urn:two", "</entry><hr><entry><id>urn:two")
    body = f"<feed xmlns='http://www.w3.org/2005/Atom'><title>f</title>{entries}</feed>".encode()

    feed = parse_feed(body, url="")

    assert [(e.title, e.content) for e in feed.entries] == [
        ("one", "about one"),
        ("two", "about two"),
        ("three", "about three"),
    ]


def test_a_stray_tag_between_rss_1_items_keeps_every_item() -> None:
    items = "".join(
        f"<item rdf:about='https://example.org/{n}'><title>{n}</title>"
        f"<link>https://example.org/{n}</link></item>"
        for n in ("one", "two", "three")
    ).replace(
        "</item><item rdf:about='https://example.org/two'>",
        "</item><br><item rdf:about='https://example.org/two'>",
    )
    body = (
        "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'"
        " xmlns='http://purl.org/rss/1.0/'><channel><title>c</title></channel>"
        f"{items}</rdf:RDF>"
    ).encode()

    assert [e.title for e in parse_feed(body, url="").entries] == ["one", "two", "three"]
