"""How fast liseuse parses feeds, next to feedparser (and fastfeedparser, if installed).

    .venv/bin/python bench/parse_speed.py [--entries N] [--reference-entries N]

The corpus is generated in memory and is the same on every run (a fixed seed): feeds in the
four formats (RSS 2.0 with content:encoded, Atom 1.0, RSS 1.0/RDF, JSON Feed 1.1), 50 entries
each, every entry carrying 1–6 KB of French HTML. Prints entries per second on one core (the
process runs single-threaded) and the time 35,000 entries would take.
"""

from __future__ import annotations

import argparse
import gc
import html
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from liseuse.pipeline.parse import parse_feed

ENTRIES_PER_FEED = 50
WORDS = [
    "le",
    "la",
    "les",
    "des",
    "une",
    "un",
    "liberté",
    "logiciel",
    "libre",
    "association",
    "numérique",
    "éducation",
    "données",
    "vie",
    "privée",
    "hébergement",
    "alternatif",
    "communauté",
    "contribution",
    "décentralisé",
    "Framasoft",
    "Mastodon",
    "PeerTube",
    "ateliers",
    "été",
    "hiver",
    "réseau",
    "fédéré",
    "émancipation",
    "très",
    "où",
    "déjà",
    "être",
    "ça",
    "coopération",
    "bénévoles",
    "internet",
    "services",
    "éthiques",
]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
    return " ".join(words).capitalize() + "."


def _body(rng: random.Random) -> str:
    """1–6 KB of French HTML: paragraphs, a link, an image, a list."""
    target = rng.randint(1024, 6144)
    parts: list[str] = []
    size = 0
    while size < target:
        kind = rng.random()
        if kind < 0.7:
            chunk = f'<p>{_sentence(rng)} {_sentence(rng)} <a href="/page/{rng.randint(1, 999)}">lien</a></p>'
        elif kind < 0.85:
            chunk = f'<p><img src="https://exemple.fr/img/{rng.randint(1, 99)}.jpg" alt="{_sentence(rng)}"></p>'
        else:
            chunk = "<ul>" + "".join(f"<li>{_sentence(rng)}</li>" for _ in range(3)) + "</ul>"
        parts.append(chunk)
        size += len(chunk.encode("utf-8"))
    return "\n".join(parts)


def _rss20(rng: random.Random, number: int) -> bytes:
    items = []
    for index in range(ENTRIES_PER_FEED):
        items.append(
            f"""<item><title>{html.escape(_sentence(rng))}</title>
<link>https://exemple.fr/{number}/{index}</link>
<dc:creator>Camille</dc:creator>
<pubDate>Mon, 15 Jan 2024 {index % 24:02d}:09:00 +0100</pubDate>
<guid isPermaLink="false">https://exemple.fr/?p={number}-{index}</guid>
<category>Libre</category>
<description>{html.escape(_sentence(rng))}</description>
<content:encoded><![CDATA[{_body(rng)}]]></content:encoded></item>"""
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Blog</title>'
        "<link>https://exemple.fr/</link><description>Un blog</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode("utf-8")


def _atom(rng: random.Random, number: int) -> bytes:
    entries = []
    for index in range(ENTRIES_PER_FEED):
        entries.append(
            f"""<entry><title>{html.escape(_sentence(rng))}</title>
<link rel="alternate" href="https://exemple.fr/{number}/{index}"/>
<id>tag:exemple.fr,2024:{number}-{index}</id>
<updated>2024-01-15T{index % 24:02d}:09:00+01:00</updated>
<author><name>Dominique</name></author>
<category term="libre"/>
<content type="html">{html.escape(_body(rng))}</content></entry>"""
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        '<title>Blog</title><link href="https://exemple.fr/"/><id>tag:exemple.fr,2024:feed</id>'
        "<updated>2024-01-15T00:00:00Z</updated>" + "".join(entries) + "</feed>"
    ).encode("utf-8")


def _rdf(rng: random.Random, number: int) -> bytes:
    items = []
    for index in range(ENTRIES_PER_FEED):
        items.append(
            f"""<item rdf:about="https://exemple.fr/{number}/{index}">
<title>{html.escape(_sentence(rng))}</title><link>https://exemple.fr/{number}/{index}</link>
<dc:date>2024-01-15T{index % 24:02d}:09:00+01:00</dc:date><dc:creator>Alix</dc:creator>
<description>{html.escape(_sentence(rng))}</description>
<content:encoded><![CDATA[{_body(rng)}]]></content:encoded></item>"""
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="https://exemple.fr/"><title>Blog</title>'
        "<link>https://exemple.fr/</link><description>Un blog</description></channel>"
        + "".join(items)
        + "</rdf:RDF>"
    ).encode("utf-8")


def _json(rng: random.Random, number: int) -> bytes:
    items = [
        {
            "id": f"{number}-{index}",
            "url": f"https://exemple.fr/{number}/{index}",
            "title": _sentence(rng),
            "content_html": _body(rng),
            "date_published": f"2024-01-15T{index % 24:02d}:09:00+01:00",
            "authors": [{"name": "Sacha"}],
            "tags": ["libre"],
        }
        for index in range(ENTRIES_PER_FEED)
    ]
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Blog",
        "home_page_url": "https://exemple.fr/",
        "items": items,
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


GENERATORS: dict[str, Callable[[random.Random, int], bytes]] = {
    "rss20": _rss20,
    "atom10": _atom,
    "rss10": _rdf,
    "json11": _json,
}


def corpus(entries: int) -> dict[str, list[bytes]]:
    """About `entries` entries, split evenly over the four formats; the same on every run."""
    rng = random.Random(20240115)
    feeds_per_format = max(1, entries // (ENTRIES_PER_FEED * len(GENERATORS)))
    return {
        name: [generate(rng, number) for number in range(feeds_per_format)]
        for name, generate in GENERATORS.items()
    }


def measure(parse: Callable[[bytes], int], bodies: list[bytes]) -> tuple[int, float]:
    """Entries parsed and seconds taken (best of two passes, garbage collection paused)."""
    best = float("inf")
    count = 0
    for _ in range(2):
        gc.collect()
        gc.disable()
        started = time.perf_counter()
        count = sum(parse(body) for body in bodies)
        best = min(best, time.perf_counter() - started)
        gc.enable()
    return count, best


def _liseuse(body: bytes) -> int:
    return len(parse_feed(body, url="https://exemple.fr/flux").entries)


def _feedparser() -> Callable[[bytes], int] | None:
    try:
        import feedparser
    except ImportError:
        return None

    def parse(body: bytes) -> int:
        return len(feedparser.parse(body)["entries"])

    return parse


def _fastfeedparser() -> Callable[[bytes], int] | None:
    try:
        import fastfeedparser
    except ImportError:
        return None

    def parse(body: bytes) -> int:
        try:
            return len(fastfeedparser.parse(body)["entries"])
        except Exception:
            return 0

    return parse


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--entries", type=int, default=8000, help="corpus size for liseuse")
    arguments.add_argument(
        "--reference-entries", type=int, default=800, help="corpus size for the slow reference"
    )
    options = arguments.parse_args()
    big = corpus(options.entries)
    small = corpus(options.reference_entries)
    total_bytes = sum(len(body) for bodies in big.values() for body in bodies)
    print(f"corpus: {options.entries} entries target, {total_bytes / 1e6:.1f} MB, 1–6 KB HTML each")
    print(f"{'parser':<16}{'format':<9}{'entries':>8}{'seconds':>9}{'entries/s':>11}")
    contenders: list[tuple[str, Callable[[bytes], int] | None, dict[str, list[bytes]]]] = [
        ("liseuse", _liseuse, big),
        ("fastfeedparser", _fastfeedparser(), big),
        ("feedparser", _feedparser(), small),
    ]
    for name, parse, bodies_by_format in contenders:
        if parse is None:
            print(f"{name:<16}(not installed)")
            continue
        total_entries = 0
        total_seconds = 0.0
        for kind, bodies in bodies_by_format.items():
            count, seconds = measure(parse, bodies)
            total_entries += count
            total_seconds += seconds
            print(f"{name:<16}{kind:<9}{count:>8}{seconds:>9.2f}{count / seconds:>11,.0f}")
        rate = total_entries / total_seconds
        print(
            f"{name:<16}{'all':<9}{total_entries:>8}{total_seconds:>9.2f}{rate:>11,.0f}"
            f"   → 35,000 entries in {35_000 / rate:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
