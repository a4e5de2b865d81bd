"""Tests for the parse step: formats, extensions, recovery from broken feeds, hostile input."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import tracemalloc
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest

from liseuse.pipeline.parse import parse_feed
from liseuse.pipeline.parsers.dates import parse_date
from liseuse.pipeline.types import ParsedEnclosure
from liseuse.pipeline.types import ParsedFeed
from liseuse.pipeline.types import ParseError

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"


def parse_fixture(name: str, url: str = "https://example.org/feed") -> ParsedFeed:
    return parse_feed((FEEDS / name).read_bytes(), url=url)


def rss(items: str, *, channel: str = "<title>T</title>", prolog: str = "") -> bytes:
    return f"{prolog}<rss version='2.0'><channel>{channel}{items}</channel></rss>".encode()


# --- the reference fixture --------------------------------------------------------------------


def test_it_reads_the_framablog_reference_feed() -> None:
    feed = parse_fixture("framablog.rss", "https://framablog.org/feed/")

    assert feed.format == "rss20"
    assert feed.title == "Framablog"
    assert feed.self_url == "https://framablog.org/feed/"
    first = feed.entries[0]
    assert first.title == "Des ateliers solarpunk pour imaginer un avenir low-tech"
    assert first.author == "Framasoft"
    assert first.published == datetime(2024, 1, 15, 2, 9, tzinfo=UTC)
    assert first.content.startswith("<p>Cette semaine, à l’Université de Technologie")
    assert "<h2>Solarpunk\xa0?</h2>" in first.content  # the content:encoded body, not description
    assert first.summary.startswith("Cette semaine") and "<p>" not in first.summary
    assert first.guid == "https://framablog.org/?p=32296"


def test_an_entry_without_author_has_an_empty_author() -> None:
    feed = parse_fixture("framablog.rss")

    assert feed.entries[1].author == ""


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        # RSS 2.0 wants an email address; "email (Name)" is its convention for the name.
        ("jane@example.com (Jane Doe)", "Jane Doe"),
        ("Jane Doe &lt;jane@example.com&gt;", "Jane Doe"),
        ("jane@example.com", "jane@example.com"),
        ("Jane Doe", "Jane Doe"),
        ("Jane (the editor)", "Jane (the editor)"),
    ],
)
def test_an_rss_author_shows_the_name_when_it_gives_one_beside_an_address(
    written: str, shown: str
) -> None:
    body = rss(f"<item><title>a</title><author>{written}</author></item>")

    assert parse_feed(body, url="").entries[0].author == shown


# --- formats and extensions -------------------------------------------------------------------


def test_it_reads_rss20_with_its_extensions() -> None:
    feed = parse_fixture("rss20_extensions.xml")

    assert feed.format == "rss20"
    assert feed.title == "Le balado du mardi"  # HTML title made plain text
    assert feed.description == "Des histoires courtes"
    assert feed.link == "https://balado.example.org/"
    assert feed.self_url == "https://balado.example.org/flux.xml"
    assert feed.hub_url == "https://hub.example.net/"
    assert feed.ttl_minutes == 90
    assert feed.icon_url == "https://balado.example.org/pochette.jpg"
    entry = feed.entries[0]
    assert entry.title == "Épisode 12 : la forêt"
    assert entry.guid == "balado-12"
    assert entry.link == "https://balado.example.org/12"
    assert entry.author == "Léa Martin"
    assert entry.published == datetime(2024, 4, 2, 6, 30, tzinfo=UTC)
    assert entry.categories == ("Nature", "Forêt")
    assert entry.summary == "Un résumé <b>court</b>."
    assert entry.content == "<p>Le texte <em>complet</em> de l’épisode.</p>"
    assert entry.enclosures == (
        ParsedEnclosure("https://balado.example.org/12.mp3", "audio/mpeg", 1234567),
        ParsedEnclosure("https://balado.example.org/12.ogg", "audio/ogg", 999),
    )


def test_it_reads_itunes_fields_and_a_permalink_guid() -> None:
    entry = parse_fixture("rss20_extensions.xml").entries[1]

    assert entry.link == "https://balado.example.org/11"  # from the permalink guid
    assert entry.author == "Sam Petit"
    assert entry.summary == "Une ligne<br>\net une autre &lt;pas du HTML&gt;"
    assert entry.content == entry.summary
    assert entry.categories == ("Science", "Nature")
    assert entry.published == datetime(2024, 3, 31, 15, 0, tzinfo=UTC)  # EST is UTC-5


def test_it_reads_rss10_rdf_with_content_encoded() -> None:
    feed = parse_fixture("rss10.rdf")

    assert feed.format == "rss10"
    assert feed.title == "Le journal"
    entry = feed.entries[0]
    assert entry.content == "<p>Samedi, <strong>fête</strong> de la rue.</p>"
    assert entry.summary == "Samedi, fête."
    assert entry.author == "Noé"
    assert entry.published == datetime(2024, 5, 4, 16, 0, tzinfo=UTC)
    assert entry.categories == ("Quartier",)
    assert entry.guid == "https://journal.example.org/a1"  # rdf:about


def test_it_reads_rss091_and_rss090() -> None:
    rss091 = parse_fixture("rss091.xml")
    rss090 = parse_fixture("rss090.rdf")

    assert rss091.format == "rss09x"
    assert rss091.description == "Toujours là"
    assert rss091.entries[0].summary == "Bonjour été"
    assert rss090.format == "rss09x"
    assert rss090.entries[0].link == "http://old.example.org/un"


@pytest.mark.parametrize("version", ["0.92", "0.93", "0.94"])
def test_it_reads_the_rss_versions_between_091_and_20(version: str) -> None:
    # What these versions added to 0.91: optional titles, enclosures, categories, and (0.94)
    # guid and pubDate on items.
    document = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="{version}"><channel>
  <title>Radio d'autrefois</title><link>http://radio.example.org/</link>
  <description>Émissions</description>
  <item>
    <description>&lt;p&gt;Sans titre, comme 0.92 le permet&lt;/p&gt;</description>
    <link>http://radio.example.org/1</link>
    <enclosure url="http://radio.example.org/1.mp3" length="12216320" type="audio/mpeg"/>
    <category domain="http://radio.example.org/themes">Musique</category>
    <guid isPermaLink="false">radio-1</guid>
    <pubDate>Sun, 19 May 2002 15:21:36 GMT</pubDate>
  </item>
</channel></rss>""".encode()
    feed = parse_feed(document, url="http://radio.example.org/rss")

    assert feed.format == "rss09x"
    assert (feed.title, feed.link, feed.description) == (
        "Radio d'autrefois",
        "http://radio.example.org/",
        "Émissions",
    )
    [entry] = feed.entries
    assert entry.title == ""
    assert entry.summary == "<p>Sans titre, comme 0.92 le permet</p>"
    assert entry.link == "http://radio.example.org/1"
    assert entry.enclosures == (
        ParsedEnclosure("http://radio.example.org/1.mp3", "audio/mpeg", 12216320),
    )
    assert entry.categories == ("Musique",)
    assert entry.guid == "radio-1"
    assert entry.published == datetime(2002, 5, 19, 15, 21, 36, tzinfo=UTC)


def test_it_reads_atom10_and_resolves_xml_base() -> None:
    feed = parse_fixture("atom10_base.xml", "https://carnet.example.org/blog/atom.xml")

    assert feed.format == "atom10"
    assert feed.title == "Carnet & notes"
    assert feed.description == "Ce que je lis"
    assert feed.link == "https://carnet.example.org/blog/"
    assert feed.self_url == "https://carnet.example.org/blog/atom.xml"
    assert feed.hub_url == "https://hub.example.net/"
    assert feed.icon_url == "https://carnet.example.org/favicon.ico"
    first, second = feed.entries
    assert first.title == "Premier <em>billet</em>"  # type="text": the markup is literal text
    assert first.link == "https://carnet.example.org/blog/billets/premier.html"
    assert first.guid == "tag:carnet.example.org,2024:1"
    assert first.author == "Ana"  # the feed's author applies to its entries
    assert first.published == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    assert first.updated == datetime(2024, 6, 2, 9, 15, 30, tzinfo=UTC)
    assert first.categories == ("lecture",)
    assert first.summary == "Résumé simple &amp; court"  # text construct, as HTML
    assert first.content == '<p>Voir <img src="chat.png" alt="un chat"/></p>'
    assert first.base_url == "https://images.example.org/"  # the content's own xml:base
    assert first.enclosures == (
        ParsedEnclosure(
            "https://carnet.example.org/blog/billets/premier.pdf", "application/pdf", 2048
        ),
    )
    assert second.link == "https://carnet.example.org/second"
    assert second.content == "a &lt; b"
    assert second.base_url == "https://carnet.example.org/blog/"


def test_an_entry_without_xml_base_takes_its_link_as_base() -> None:
    body = rss("<item><link>https://example.org/a/b</link><description>x</description></item>")

    entry = parse_feed(body, url="https://example.org/feed").entries[0]

    assert entry.base_url == "https://example.org/a/b"


def test_it_reads_atom03() -> None:
    feed = parse_fixture("atom03.xml")

    assert feed.format == "atom03"
    assert feed.description == "Version 0.3"
    entry = feed.entries[0]
    assert entry.link == "http://ancien.example.org/1"
    assert entry.published == datetime(2004, 1, 1, 14, 0, tzinfo=UTC)
    assert entry.updated == datetime(2004, 1, 2, 9, 0, tzinfo=UTC)
    assert entry.content == "<p>Contenu</p>"
    assert entry.author == "Max (max@example.org)"


def test_it_reads_a_youtube_feed_with_media_group() -> None:
    feed = parse_fixture("youtube.xml")

    entry = feed.entries[0]
    assert feed.title == "Chaîne d’essai"
    assert entry.title == "Vidéo & démo"
    assert entry.link == "https://www.youtube.com/watch?v=abc123"
    assert entry.content == "Première ligne &lt;pas une balise&gt;<br>\nDeuxième ligne"
    assert entry.enclosures[0].url == "https://www.youtube.com/v/abc123?version=3"
    assert entry.published == datetime(2024, 2, 10, 15, 0, 5, tzinfo=UTC)
    assert entry.thumbnail == "https://i1.ytimg.com/vi/abc123/hqdefault.jpg"  # the video's still


def test_an_entrys_picture_comes_from_media_thumbnail_itunes_image_or_json_feeds_image() -> None:
    fixture = parse_fixture("rss20_extensions.xml")
    assert [e.thumbnail for e in fixture.entries] == ["https://balado.example.org/12.jpg", None]
    episode = parse_feed(
        b'<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        b'<itunes:image href="https://pod.example/show.jpg"/>'
        b'<item><guid>1</guid><itunes:image href="/ep1.jpg"/></item>'
        b"<item><guid>2</guid></item></channel></rss>",
        url="https://pod.example/feed",
    )
    # The episode's own artwork; the show's is the feed's, not each episode's.
    assert [e.thumbnail for e in episode.entries] == ["https://pod.example/ep1.jpg", None]
    note = parse_feed(
        json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": "Notes",
                "home_page_url": "https://notes.example/",
                "items": [{"id": "1", "content_text": "Vu", "image": "/img/1.png"}, {"id": "2"}],
            }
        ).encode(),
        url="https://notes.example/feed.json",
    )
    assert [e.thumbnail for e in note.entries] == ["https://notes.example/img/1.png", None]


def test_it_reads_json_feed_11() -> None:
    feed = parse_fixture("jsonfeed11.json", "https://micro.example.org/feed.json")

    assert feed.format == "json11"
    assert feed.title == "Microblog"
    assert feed.link == "https://micro.example.org/"
    assert feed.hub_url == "https://hub.example.net/"
    assert feed.icon_url == "https://micro.example.org/icone.png"  # the only one it gives
    both = parse_feed(
        json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": "T",
                "icon": "/big-512.png",
                "favicon": "/small.png",
                "items": [],
            }
        ).encode(),
        url="https://micro.example.org/feed.json",
    )
    assert both.icon_url == "https://micro.example.org/small.png"  # for a 16-pixel icon
    first, second = feed.entries
    assert first.guid == "42"
    assert first.link == "https://micro.example.org/2024/42"
    assert first.title == "Bonjour <b>monde</b>"  # JSON Feed titles are text, tags and all
    assert first.content == "<p>Salut</p>"
    assert first.summary == "Un mot"
    assert first.author == "Iris"
    assert first.published == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert first.updated == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert first.categories == ("salut", "monde")
    assert first.enclosures == (
        ParsedEnclosure("https://micro.example.org/son.mp3", "audio/mpeg", 100),
    )
    assert second.content == "Texte &lt;brut&gt;<br>\nsur deux lignes"
    assert second.author == "Zoé"


def test_it_reads_json_feed_10_with_its_single_author() -> None:
    feed = parse_fixture("jsonfeed10.json")

    assert feed.format == "json10"
    assert feed.entries[0].author == "Théo"
    assert feed.entries[0].published == datetime(2019, 5, 1, 12, 0, tzinfo=UTC)


# --- recovery from ill-formed feeds -----------------------------------------------------------


def test_it_reads_utf8_declared_as_latin1() -> None:
    body = rss(
        "<item><title>Café déjà</title></item>",
        prolog="<?xml version='1.0' encoding='ISO-8859-1'?>",
    )

    assert parse_feed(body, url="").entries[0].title == "Café déjà"


def test_it_reads_windows_1252_declared_as_utf8() -> None:
    body = (
        "<?xml version='1.0' encoding='utf-8'?><rss><channel><title>l’été</title></channel></rss>"
    )

    assert parse_feed(body.encode("cp1252"), url="").title == "l’été"


def test_bytes_that_fit_no_encoding_are_replaced_not_fatal() -> None:
    body = b"<rss><channel><title>caf\xc3\xa9 \x81\xff</title></channel></rss>"

    assert parse_feed(body, url="").title.startswith("caf")


def test_it_reads_latin1_as_declared() -> None:
    body = "<?xml version='1.0' encoding='iso-8859-1'?><rss><channel><title>Noël</title></channel></rss>"

    assert parse_feed(body.encode("latin-1"), url="").title == "Noël"


def test_the_http_charset_is_used_when_the_body_declares_none() -> None:
    body = "<rss><channel><title>Grüße</title></channel></rss>".encode("latin-1")

    feed = parse_feed(body, url="", content_type="application/xml; charset=iso-8859-1")

    assert feed.title == "Grüße"


def test_it_reads_html_entities_and_stray_ampersands() -> None:
    body = rss(
        "<item><title>AT&T&nbsp;&eacute;t&eacute; &amp; &unknown; &#X41;</title>"
        "<description><![CDATA[<p>a&nbsp;b &copy;</p>]]></description></item>"
    )

    entry = parse_feed(body, url="").entries[0]

    assert entry.title == "AT&T\xa0été & &unknown; A"
    assert entry.summary == "<p>a&nbsp;b &copy;</p>"  # CDATA is left as it was


def test_it_skips_a_bom_and_leading_garbage() -> None:
    body = b"\xef\xbb\xbf\n\n  Warning: something in PHP\n" + rss("<item><title>ok</title></item>")

    assert parse_feed(body, url="").entries[0].title == "ok"


def test_it_reads_utf16_with_a_bom() -> None:
    body = "\ufeff<?xml version='1.0' encoding='utf-16'?><rss><channel><title>ça</title></channel></rss>"

    assert parse_feed(body.encode("utf-16-le"), url="").title == "ça"


def test_it_ignores_a_wrong_content_type() -> None:
    feed = parse_feed(rss("<item><title>x</title></item>"), url="", content_type="text/html")

    assert feed.entries[0].title == "x"


def test_windows_1252_characters_in_disguise_are_repaired() -> None:
    body = rss("<item><title>don&#146;t \u0092</title></item>")

    assert parse_feed(body, url="").entries[0].title == "don’t ’"


def test_it_recovers_from_unclosed_tags() -> None:
    body = b"<rss><channel><title>T</title><item><title>a</title></item><item><title>b</title>"

    assert [entry.title for entry in parse_feed(body, url="").entries] == ["a", "b"]


# --- hostile input ----------------------------------------------------------------------------


def test_it_never_reads_a_local_file_through_an_external_entity(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        "<rss><channel><title>&xxe;</title><item><title>a &xxe; b</title>"
        "<description>&xxe;</description></item></channel></rss>"
    ).encode()

    try:
        feed = parse_feed(body, url="")
    except ParseError:
        return
    assert "TOP-SECRET-VALUE" not in repr(feed)


def test_a_doctype_hidden_after_a_comment_is_still_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    laughs = '<!ENTITY a "ha">' + "".join(
        f'<!ENTITY {chr(98 + n)} "{f"&{chr(97 + n)};" * 10}">' for n in range(8)
    )
    body = (
        f'<?xml version="1.0"?><!-- 1 < 2 --><!DOCTYPE rss [{laughs}'
        f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        "<rss><channel><title>&xxe;&i;</title><item><title>&xxe;</title></item></channel></rss>"
    ).encode()

    feed = parse_feed(body, url="")

    assert "TOP-SECRET-VALUE" not in repr(feed)
    assert "hahaha" not in feed.title


def test_it_never_fetches_an_external_entity_or_dtd() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1:{port}/x.dtd" '
        f'[<!ENTITY % remote SYSTEM "http://127.0.0.1:{port}/p">%remote;'
        f'<!ENTITY web SYSTEM "http://127.0.0.1:{port}/e">]>'
        "<rss><channel><title>&web;</title></channel></rss>"
    ).encode()
    try:
        with contextlib.suppress(ParseError):
            parse_feed(body, url="")
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    finally:
        listener.close()


def test_billion_laughs_is_not_expanded() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]>'
        "<rss><channel><title>&lol9;</title></channel></rss>"
    ).encode()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        feed = parse_feed(body, url="")
        title = feed.title
    except ParseError:
        title = ""
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    assert time.perf_counter() - started < 1
    assert peak < 10_000_000
    assert "lollol" not in title


def test_deep_nesting_fails_cleanly() -> None:
    body = b"<rss><channel>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</channel></rss>"

    with pytest.raises(ParseError, match="nests too deeply"):
        parse_feed(body, url="")


def test_deeply_nested_json_fails_cleanly() -> None:
    with pytest.raises(ParseError):
        parse_feed(b"[" * 100_000 + b"]" * 100_000, url="")


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><head><title>Accueil</title></head><body>x</body></html>",
        b"\n<html lang='fr'><body><p>Bonjour</p></body></html>",
        b"<!doctype html><meta charset=utf-8><title>Sans balise html</title><p>x",
    ],
)
def test_an_html_page_is_refused_with_a_reason(body: bytes) -> None:
    with pytest.raises(ParseError, match="this is an HTML page, not a feed"):
        parse_feed(body, url="", content_type="application/rss+xml")


@pytest.mark.parametrize("body", [b"", b"   \n\t ", b"\xef\xbb\xbf"])
def test_an_empty_body_is_refused(body: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_feed(body, url="")


@pytest.mark.parametrize(
    "document", [{"hello": "world"}, [1, 2, 3], {"version": "1.0", "data": []}]
)
def test_json_that_is_not_a_json_feed_is_refused(document: object) -> None:
    with pytest.raises(ParseError, match="not a JSON Feed"):
        parse_feed(json.dumps(document).encode(), url="", content_type="application/json")


def test_broken_json_is_refused() -> None:
    with pytest.raises(ParseError, match="not valid JSON"):
        parse_feed(b'{"version": "https://jsonfeed.org/version/1.1", ', url="")


def test_xml_that_is_not_a_feed_is_refused() -> None:
    with pytest.raises(ParseError, match=r"not a feed \(its root element is <svg>\)"):
        parse_feed(b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', url="")


def test_plain_text_is_refused() -> None:
    with pytest.raises(ParseError, match="neither XML nor JSON"):
        parse_feed(b"Service Unavailable", url="")


# --- size -------------------------------------------------------------------------------------


def test_it_parses_ten_thousand_entries_quickly() -> None:
    item = (
        "<item><title>Billet {n}</title><link>https://example.org/{n}</link>"
        "<guid>id-{n}</guid><pubDate>Mon, 15 Jan 2024 02:09:00 +0000</pubDate>"
        "<description>&lt;p&gt;Texte {n}&lt;/p&gt;</description></item>"
    )
    body = rss("".join(item.format(n=n) for n in range(10_000)))

    started = time.perf_counter()
    feed = parse_feed(body, url="https://example.org/feed")
    elapsed = time.perf_counter() - started

    assert len(feed.entries) == 10_000
    assert feed.entries[-1].guid == "id-9999"
    assert feed.entries[-1].summary == "<p>Texte 9999</p>"
    assert elapsed < 2  # about 0.2 s on the project's machine; generous for a busy one


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mon, 15 Jan 2024 02:09:00 +0000", datetime(2024, 1, 15, 2, 9, tzinfo=UTC)),
        ("Mon, 15 Jan 2024 03:09:00 +0100", datetime(2024, 1, 15, 2, 9, tzinfo=UTC)),
        ("15 Jan 2024 02:09 GMT", datetime(2024, 1, 15, 2, 9, tzinfo=UTC)),
        ("Mon, 15 Jan 24 02:09:00 PST", datetime(2024, 1, 15, 10, 9, tzinfo=UTC)),
        ("Mon, 15 Jan 2024 02:09:00 CEST", datetime(2024, 1, 15, 0, 9, tzinfo=UTC)),
        ("Mon, 15 Jan 2024 02:09:00 GMT+2", datetime(2024, 1, 15, 0, 9, tzinfo=UTC)),
        ("Mon, 15 Jan 2024 02:09:00", datetime(2024, 1, 15, 2, 9, tzinfo=UTC)),
        ("lun., 15 janv. 2024 02:09:00 +0000", datetime(2024, 1, 15, 2, 9, tzinfo=UTC)),
        ("Mon,15 Jan 2024 02:09:60 Z", datetime(2024, 1, 15, 2, 9, 59, tzinfo=UTC)),
        ("2024-01-15T02:09:00Z", datetime(2024, 1, 15, 2, 9, tzinfo=UTC)),
        ("2024-01-15T03:09:00.123+01:00", datetime(2024, 1, 15, 2, 9, tzinfo=UTC)),
        ("2024-01-15 03:09:00+0100", datetime(2024, 1, 15, 2, 9, tzinfo=UTC)),
        ("20240115T030900+0100", datetime(2024, 1, 15, 2, 9, tzinfo=UTC)),
        ("2024-01-15", datetime(2024, 1, 15, tzinfo=UTC)),
        ("2024-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-15T24:00:00Z", datetime(2024, 1, 16, tzinfo=UTC)),
        ("2024/01/15 02:09:00", datetime(2024, 1, 15, 2, 9, tzinfo=UTC)),
        ("Monday, January 15, 2024 2:09 AM EST", datetime(2024, 1, 15, 7, 9, tzinfo=UTC)),
    ],
)
def test_it_reads_dates_as_utc_instants(text: str, expected: datetime) -> None:
    parsed = parse_date(text)

    assert parsed == expected
    assert parsed is not None and parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text",
    ["", "   ", "hier", "Mon, 32 Jan 2024 02:09:00 GMT", "2024-13-01", "10:30", "x" * 500, None],
)
def test_an_unreadable_date_is_none(text: str | None) -> None:
    assert parse_date(text) is None


def test_an_unreadable_entry_date_leaves_the_entry() -> None:
    body = rss("<item><title>a</title><pubDate>un jour</pubDate></item>")

    entry = parse_feed(body, url="").entries[0]

    assert entry.title == "a"
    assert entry.published is None


# --- the feed's language ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "language"),
    [
        (rss("", channel="<title>T</title><language>fr-FR</language>"), "fr-FR"),
        (
            b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'"
            b" xmlns='http://purl.org/rss/1.0/' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
            b"<channel><title>T</title><dc:language>de</dc:language></channel></rdf:RDF>",
            "de",
        ),
        (
            b"<feed xmlns='http://www.w3.org/2005/Atom' xml:lang='pt-BR'><title>T</title></feed>",
            "pt-BR",
        ),
        (
            json.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "title": "T",
                    "language": "ja",
                    "items": [],
                }
            ).encode(),
            "ja",
        ),
        (rss(""), ""),
    ],
)
def test_the_feeds_language_is_read_from_each_format(body: bytes, language: str) -> None:
    assert parse_feed(body, url="https://example.org/feed").language == language
