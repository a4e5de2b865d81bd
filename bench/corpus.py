"""The deterministic feed corpus of the refresh benchmark.

Every feed is a pure function of (seed, index, base URL): the feed server renders feeds from it on
the fly, so nothing of the corpus lives in the repository, and a run with the same seed and size
serves the same bytes every time. The mix follows the benchmark's brief: RSS 2.0 60 %, Atom 30 %,
RSS 1.0 (RDF) 5 %, JSON Feed 5 %; 20 to 50 entries per feed; 1 to 6 KB of French HTML per entry with
links and images.

Feeds are spread over many loopback addresses (127.0.0.2, 127.0.0.3, …; about 20 feeds per
address, never fewer than 50 addresses) so that a reader's per-host politeness limit behaves as it
would against real sites. Every URL in the corpus (feed, site, entry, image) points back at the
feed server itself: a reader that follows one (a favicon, an image proxy) never leaves the machine.

Run as a script, it writes the OPML file of a corpus, and optionally every feed as a file:

    python bench/corpus.py --feeds 1000 --port 8400 --opml out/feeds.opml [--write-dir out/feeds]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import html
import ipaddress
import json
import random
import sys
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

DEFAULT_SEED = 20240611
FEEDS_PER_HOST = 20
MIN_HOSTS = 50
ADMIN_HOST = "127.0.0.1"  # the feed server's admin side; no feed is served there
FIRST_HOST = ipaddress.IPv4Address("127.0.0.2")

# The proportions of the brief, as counts in every block of 20 consecutive feeds, so that any
# corpus whose size is a multiple of 20 has them exactly.
FORMAT_BLOCK = ("rss",) * 12 + ("atom",) * 6 + ("rdf",) + ("json",)

CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "rdf": "application/rdf+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}

# Every date of the corpus is counted back from this instant, never from the clock, so that the
# bytes, the ETags and the Last-Modified dates are the same on every run.
EPOCH = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_WORDS = _words(
    "le la les un une des du de et à où qui que quoi dont mais donc or ni car pour avec sans sous "
    "sur dans entre vers chez pendant depuis avant après très plus moins aussi encore déjà jamais "
    "toujours souvent parfois ville village région pays métropole quartier rue place marché école "
    "hôpital mairie gare musée théâtre bibliothèque université forêt rivière fleuve montagne côte "
    "plage île lac vallée campagne été hiver printemps automne matin soir nuit journée semaine "
    "année siècle époque élection député ministre gouvernement assemblée réforme budget impôt "
    "économie entreprise salarié grève syndicat emploi chômage croissance inflation prix énergie "
    "électricité chaleur sécheresse pluie orage tempête neige climat écologie biodiversité forêts "
    "agriculteur récolte vigne vendange fromage boulangerie café restaurant cuisine recette goût "
    "chanson cinéma réalisateur actrice roman écrivain poème peintre exposition festival concert "
    "équipe match victoire défaite entraîneur joueuse supporter stade championnat médaille vélo "
    "étudiant lycéen professeur enfant famille voisin habitant citoyen association bénévole "
    "projet décision débat enquête rapport étude chiffre hausse baisse question réponse problème "
    "solution idée histoire mémoire patrimoine château église cathédrale abbaye pont phare port "
    "nouveau nouvelle ancien ancienne grand grande petit petite premier première dernier dernière "
    "public publique local locale national nationale européen européenne français française "
    "important importante difficile facile rapide lent lente heureux heureuse fragile solide "
    "annonce explique rappelle estime souligne affirme découvre présente prépare organise "
    "accueille ouvre ferme lance propose refuse accepte attend espère craint observe raconte "
    "œuvre cœur sœur naïf maïs noël où çà garçon façon reçu déçu aperçu leçon français"
)

_FIRST_NAMES = _words(
    "Camille Léa Chloé Manon Inès Jade Louise Zoé Lucas Hugo Théo Nathan Mathéo Raphaël Gabriel "
    "Élodie Noémie Hélène Agnès Jérôme Loïc Gaëlle Benoît Cécile Amélie François Stéphane"
)
_LAST_NAMES = _words(
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèbvre "
    "Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefèvre Mercier Dupré"
)
_TOPICS = _words(
    "Actualités Politique Économie Culture Sport Sciences Environnement Société Cuisine Voyages "
    "Technologie Éducation Santé Patrimoine Régions"
)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
    words[0] = words[0].capitalize()
    end = rng.choice((".", ".", ".", " !", " ?", " ; la suite demain."))
    return " ".join(words) + end


# Paragraph text is drawn from a fixed pool of sentences: building ~150 MB of HTML one word at a
# time would make corpus generation, not the readers, the slow part of a benchmark run.
_SENTENCES = tuple(_sentence(random.Random(f"sentence:{i}")) for i in range(4000))


@dataclass(frozen=True, slots=True)
class Entry:
    guid: str
    title: str
    link: str
    author: str
    category: str
    published: datetime
    updated: datetime
    summary: str  # plain text
    content_html: str


@dataclass(frozen=True, slots=True)
class Feed:
    index: int
    format: str  # rss, atom, rdf or json
    url: str
    site_url: str
    title: str
    description: str
    entries: tuple[Entry, ...]

    @property
    def updated(self) -> datetime:
        return max(entry.updated for entry in self.entries)


@dataclass(frozen=True, slots=True)
class Document:
    """A feed as served: its bytes and the HTTP validators that go with them."""

    index: int
    format: str
    body: bytes
    content_type: str
    etag: str
    last_modified: str  # an HTTP date
    entries: int


def host_count(feeds: int) -> int:
    """How many loopback addresses a corpus of `feeds` feeds is spread over."""
    return max(MIN_HOSTS, -(-feeds // FEEDS_PER_HOST))


@functools.cache
def host_address(host: int) -> str:
    """The loopback address of host number `host` (0 → 127.0.0.2), skipping .0 and .255."""
    address = int(FIRST_HOST)
    for _ in range(host):
        address += 1
        # .0 and .255 are legal on loopback, but tools print them oddly: just skip them.
        while address % 256 in (0, 255):
            address += 1
    return str(ipaddress.IPv4Address(address))


def host_addresses(feeds: int) -> list[str]:
    return [host_address(host) for host in range(host_count(feeds))]


def feed_host(index: int, feeds: int) -> str:
    return host_address(index % host_count(feeds))


def feed_url(index: int, feeds: int, port: int, seed: int = DEFAULT_SEED) -> str:
    path = f"/feeds/{index}.{extension(feed_format(index, seed))}"
    return f"http://{feed_host(index, feeds)}:{port}{path}"


def feed_format(index: int, seed: int = DEFAULT_SEED) -> str:
    # Shuffled per block, so that the format is not tied to the host (index % hosts).
    block = list(FORMAT_BLOCK)
    random.Random(f"{seed}:formats:{index // len(FORMAT_BLOCK)}").shuffle(block)
    return block[index % len(FORMAT_BLOCK)]


def extension(fmt: str) -> str:
    """The file extension of a feed's URL: .json for JSON Feed, .xml for the others."""
    return "json" if fmt == "json" else "xml"


def feed_validators(seed: int, index: int) -> tuple[str, str]:
    """The ETag and Last-Modified of a feed, known without rendering it (cheap 304s)."""
    digest = hashlib.sha1(f"{seed}:{index}:v1".encode()).hexdigest()[:16]
    return f'"{digest}"', format_datetime(_feed_updated(seed, index), usegmt=True)


def _feed_updated(seed: int, index: int) -> datetime:
    # The newest entry of a feed is its Last-Modified: between 0 and 30 days before EPOCH.
    rng = random.Random(f"{seed}:feed-updated:{index}")
    return EPOCH - timedelta(seconds=rng.randint(0, 30 * 86400))


def build_feed(seed: int, index: int, base_url: str) -> Feed:
    """The content of feed `index`; `base_url` is its server, e.g. http://127.0.0.5:8400."""
    rng = random.Random(f"{seed}:feed:{index}")
    fmt = feed_format(index, seed)
    site_url = f"{base_url}/site/{index}/"
    topic = rng.choice(_TOPICS)
    title = f"{rng.choice(_LAST_NAMES)} & {rng.choice(_LAST_NAMES)} — {topic} n°{index}"
    newest = _feed_updated(seed, index)
    entries = []
    when = newest
    for number in range(rng.randint(20, 50), 0, -1):
        entries.append(_build_entry(rng, index, number, site_url, topic, when))
        when -= timedelta(seconds=rng.randint(600, 2 * 86400))
    return Feed(
        index=index,
        format=fmt,
        url=f"{base_url}/feeds/{index}.{extension(fmt)}",
        site_url=site_url,
        title=title,
        description=" ".join(rng.choice(_SENTENCES) for _ in range(2)),
        entries=tuple(entries),
    )


def _build_entry(
    rng: random.Random, index: int, number: int, site_url: str, topic: str, published: datetime
) -> Entry:
    slug = f"article-{number}"
    link = f"{site_url}{slug}.html"
    title = rng.choice(_SENTENCES).rstrip(".!? ;").split(";")[0][:90].rstrip()
    updated = published + timedelta(seconds=rng.choice((0, 0, 0, 3600, 7200)))
    return Entry(
        guid=f"tag:bench.liseuse,2024:{index}/{number}",
        title=f"{title} ({number})",
        link=link,
        author=f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}",
        category=topic,
        published=published,
        updated=updated,
        summary=rng.choice(_SENTENCES),
        content_html=_build_html(rng, index, number, site_url),
    )


def _build_html(rng: random.Random, index: int, number: int, site_url: str) -> str:
    target = rng.randint(1000, 6000)
    parts: list[str] = []
    size = 0
    image = 0
    while size < target:
        kind = rng.random()
        if kind < 0.12:
            image += 1
            src = f"{site_url}images/{number}-{image}.jpg"
            alt = html.escape(rng.choice(_SENTENCES)[:60])
            piece = (
                f'<figure><img src="{src}" alt="{alt}" width="640" height="360">'
                f"<figcaption>{html.escape(rng.choice(_SENTENCES))}</figcaption></figure>"
            )
        elif kind < 0.2:
            items = "".join(
                f'<li><a href="{site_url}article-{rng.randint(1, 50)}.html">'
                f"{html.escape(rng.choice(_SENTENCES)[:50])}</a></li>"
                for _ in range(rng.randint(2, 5))
            )
            piece = f"<ul>{items}</ul>"
        elif kind < 0.25:
            piece = f"<blockquote><p>« {html.escape(rng.choice(_SENTENCES))} »</p></blockquote>"
        else:
            sentences = [html.escape(rng.choice(_SENTENCES)) for _ in range(rng.randint(2, 6))]
            # Inline markup and links, relative ones too, as real articles have.
            pick = rng.randrange(len(sentences))
            if rng.random() < 0.5:
                sentences[pick] = f'<a href="../tags/{rng.choice(_TOPICS)}">{sentences[pick]}</a>'
            elif rng.random() < 0.5:
                sentences[pick] = f"<strong>{sentences[pick]}</strong>"
            else:
                sentences[pick] = f"<em>{sentences[pick]}</em>"
            piece = f"<p>{' '.join(sentences)}</p>"
        parts.append(piece)
        size += len(piece.encode())
    if index % 7 == 0:
        # A tracking pixel now and then, as newsletters-turned-feeds have.
        parts.append(f'<img src="{site_url}pixel.gif?u={index}-{number}" width="1" height="1">')
    return "\n".join(parts)


def render(seed: int, index: int, base_url: str) -> Document:
    feed = build_feed(seed, index, base_url)
    etag, last_modified = feed_validators(seed, index)
    renderer = {"rss": _render_rss, "atom": _render_atom, "rdf": _render_rdf, "json": _render_json}
    body = renderer[feed.format](feed)
    return Document(
        index=index,
        format=feed.format,
        body=body.encode(),
        content_type=CONTENT_TYPES[feed.format],
        etag=etag,
        last_modified=last_modified,
        entries=len(feed.entries),
    )


def _http_date(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _render_rss(feed: Feed) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">'
        "<channel>",
        f"<title>{escape(feed.title)}</title><link>{escape(feed.site_url)}</link>",
        f"<description>{escape(feed.description)}</description><language>fr-FR</language>",
        f'<atom:link rel="self" type="application/rss+xml" href={quoteattr(feed.url)}/>',
        f"<lastBuildDate>{_http_date(feed.updated)}</lastBuildDate>",
    ]
    for entry in feed.entries:
        out.append(
            f"<item><title>{escape(entry.title)}</title><link>{escape(entry.link)}</link>"
            f'<guid isPermaLink="false">{escape(entry.guid)}</guid>'
            f"<pubDate>{_http_date(entry.published)}</pubDate>"
            f"<dc:creator>{escape(entry.author)}</dc:creator>"
            f"<category>{escape(entry.category)}</category>"
            f"<description>{escape(entry.summary)}</description>"
            f"<content:encoded>{_cdata(entry.content_html)}</content:encoded></item>"
        )
    out.append("</channel></rss>\n")
    return "\n".join(out)


def _render_atom(feed: Feed) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">',
        f"<title>{escape(feed.title)}</title><subtitle>{escape(feed.description)}</subtitle>",
        f"<id>tag:bench.liseuse,2024:feed/{feed.index}</id>",
        f"<updated>{_iso(feed.updated)}</updated>",
        f'<link rel="self" type="application/atom+xml" href={quoteattr(feed.url)}/>',
        f'<link rel="alternate" type="text/html" href={quoteattr(feed.site_url)}/>',
    ]
    for entry in feed.entries:
        out.append(
            f"<entry><title>{escape(entry.title)}</title><id>{escape(entry.guid)}</id>"
            f'<link rel="alternate" type="text/html" href={quoteattr(entry.link)}/>'
            f"<published>{_iso(entry.published)}</published>"
            f"<updated>{_iso(entry.updated)}</updated>"
            f"<author><name>{escape(entry.author)}</name></author>"
            f"<category term={quoteattr(entry.category)}/>"
            f"<summary>{escape(entry.summary)}</summary>"
            f'<content type="html">{escape(entry.content_html)}</content></entry>'
        )
    out.append("</feed>\n")
    return "\n".join(out)


def _render_rdf(feed: Feed) -> str:
    items = "".join(f"<rdf:li rdf:resource={quoteattr(entry.link)}/>" for entry in feed.entries)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel rdf:about={quoteattr(feed.url)}><title>{escape(feed.title)}</title>",
        f"<link>{escape(feed.site_url)}</link>",
        f"<description>{escape(feed.description)}</description>",
        f"<dc:language>fr</dc:language><dc:date>{_iso(feed.updated)}</dc:date>",
        f"<items><rdf:Seq>{items}</rdf:Seq></items></channel>",
    ]
    for entry in feed.entries:
        out.append(
            f"<item rdf:about={quoteattr(entry.link)}><title>{escape(entry.title)}</title>"
            f"<link>{escape(entry.link)}</link>"
            f"<description>{escape(entry.summary)}</description>"
            f"<dc:date>{_iso(entry.published)}</dc:date>"
            f"<dc:creator>{escape(entry.author)}</dc:creator>"
            f"<dc:subject>{escape(entry.category)}</dc:subject>"
            f"<content:encoded>{_cdata(entry.content_html)}</content:encoded></item>"
        )
    out.append("</rdf:RDF>\n")
    return "\n".join(out)


def _render_json(feed: Feed) -> str:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.site_url,
        "feed_url": feed.url,
        "description": feed.description,
        "language": "fr-FR",
        "items": [
            {
                "id": entry.guid,
                "url": entry.link,
                "title": entry.title,
                "content_html": entry.content_html,
                "summary": entry.summary,
                "date_published": _iso(entry.published),
                "date_modified": _iso(entry.updated),
                "authors": [{"name": entry.author}],
                "tags": [entry.category],
            }
            for entry in feed.entries
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def opml(feeds: int, port: int, seed: int = DEFAULT_SEED) -> str:
    """An OPML 2.0 subscription list of the whole corpus, in a few categories."""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<opml version="2.0"><head><title>liseuse refresh benchmark</title></head><body>',
    ]
    for category in range(min(10, feeds)):
        lines.append(f'<outline text="Catégorie {category}" title="Catégorie {category}">')
        for index in range(category, feeds, 10):
            fmt = feed_format(index, seed)
            kind = "rss" if fmt != "json" else "json"
            url = feed_url(index, feeds, port, seed)
            lines.append(
                f'<outline type="{kind}" text="Flux {index}" title="Flux {index}" '
                f"xmlUrl={quoteattr(url)}/>"
            )
        lines.append("</outline>")
    lines.append("</body></opml>")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--port", type=int, required=True, help="the feed server's port")
    parser.add_argument("--opml", type=Path, required=True, help="where to write the OPML file")
    parser.add_argument("--write-dir", type=Path, help="also write every feed as a file here")
    args = parser.parse_args(argv)
    args.opml.parent.mkdir(parents=True, exist_ok=True)
    args.opml.write_text(opml(args.feeds, args.port, args.seed), encoding="utf-8")
    if args.write_dir:
        args.write_dir.mkdir(parents=True, exist_ok=True)
        total = 0
        for index in range(args.feeds):
            base = f"http://{feed_host(index, args.feeds)}:{args.port}"
            document = render(args.seed, index, base)
            name = f"{index}.{extension(document.format)}"
            (args.write_dir / name).write_bytes(document.body)
            total += document.entries
        print(f"{args.feeds} feeds, {total} entries written to {args.write_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
