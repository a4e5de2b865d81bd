"""Parsing ill-formed real feeds: what a server prints before the feed, Atom XHTML prefixes."""

from __future__ import annotations

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
