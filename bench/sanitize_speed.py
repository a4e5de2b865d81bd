"""How fast liseuse sanitizes entries, next to nh3 alone with the same allow-lists.

    .venv/bin/python bench/sanitize_speed.py [--entries N] [--repeat N] [--profile]

The entries are generated in memory and are the same on every run (a fixed seed): 1–6 KB of
French HTML each, like the refresh corpus, with many links (relative and absolute, some with
utm_ parameters), images with srcset, figures, lists, quotes, an iframe now and then (an allowed
player or an unknown host) and a tracking pixel now and then. Prints entries per second and MB/s
on one core (the process runs single-threaded), best of --repeat runs, and the time 35,000
entries would take.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import sys
import time
from collections.abc import Callable
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nh3

from liseuse.pipeline.sanitize import ALLOWED_ATTRIBUTES
from liseuse.pipeline.sanitize import ALLOWED_TAGS
from liseuse.pipeline.sanitize import DROPPED_WITH_CONTENT_TAGS
from liseuse.pipeline.sanitize import sanitize_entry
from liseuse.pipeline.types import ParsedEntry

SEED = 20240115
REFRESH_ENTRIES = 35_000
WORDS = (
    *("le", "la", "les", "des", "une", "un", "liberté", "logiciel", "libre"),
    *("association", "numérique", "éducation", "données", "vie", "privée"),
    *("hébergement", "alternatif", "communauté", "contribution", "décentralisé"),
    *("Framasoft", "Mastodon", "PeerTube", "ateliers", "été", "hiver", "réseau"),
    *("fédéré", "émancipation", "très", "où", "déjà", "être", "ça", "coopération"),
    *("bénévoles", "internet", "services", "éthiques"),
)
TOPICS = ("libre", "vie-privee", "education", "federation", "hebergement", "culture")
PLAYERS = (
    "https://www.youtube-nocookie.com/embed/{n}",
    "https://player.vimeo.com/video/{n}",
    "https://www.dailymotion.com/embed/video/x{n}",
)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
    return escape(" ".join(words).capitalize() + ".")


def _link(rng: random.Random, site: str) -> str:
    """An href of the kinds feeds carry: relative, root-relative, absolute, tracked."""
    kind = rng.random()
    page = rng.randint(1, 999)
    if kind < 0.25:
        return f"../tags/{rng.choice(TOPICS)}"
    if kind < 0.4:
        return f"/{rng.choice(TOPICS)}/article-{page}.html"
    if kind < 0.55:
        return f"{site}article-{page}.html?utm_source=rss&amp;utm_medium=feed&amp;id={page}"
    if kind < 0.65:
        return f"https://autre-site.example/{page}#section-{page % 7}"
    if kind < 0.7:
        return f"#note-{page % 9}"
    return f"{site}article-{page}.html"


def _image(rng: random.Random, site: str, number: int, image: int) -> str:
    stem = f"images/{number}-{image}"
    if rng.random() < 0.5:  # an absolute src with a srcset of relative and absolute candidates
        srcset = f"{stem}-320.jpg 320w, {site}{stem}-640.jpg 640w, //cdn.example.fr/{stem}.jpg 2x"
        return (
            f'<img src="{site}{stem}.jpg" srcset="{srcset}" sizes="(max-width: 600px) 100vw"'
            f' alt="{_sentence(rng)[:60]}" width="640" height="360">'
        )
    return f'<img src="/{stem}.jpg" alt="{_sentence(rng)[:60]}" width="640" height="360">'


def _body(rng: random.Random, number: int, site: str) -> str:
    target = rng.randint(1024, 6144)
    parts: list[str] = []
    size = 0
    image = 0
    while size < target:
        kind = rng.random()
        if kind < 0.12:
            image += 1
            piece = (
                f"<figure>{_image(rng, site, number, image)}"
                f"<figcaption>{_sentence(rng)}</figcaption></figure>"
            )
        elif kind < 0.2:
            items = "".join(
                f'<li><a href="{_link(rng, site)}">{_sentence(rng)[:50]}</a></li>'
                for _ in range(rng.randint(2, 5))
            )
            piece = f"<ul>{items}</ul>"
        elif kind < 0.25:
            piece = f"<blockquote><p>« {_sentence(rng)} »</p></blockquote>"
        elif kind < 0.27:
            if rng.random() < 0.7:
                src = rng.choice(PLAYERS).format(n=rng.randint(1, 99999))
            else:
                src = f"https://widgets.example.net/embed/{rng.randint(1, 999)}"
            piece = f'<iframe src="{src}" width="560" height="315" allowfullscreen></iframe>'
        else:
            sentences = [_sentence(rng) for _ in range(rng.randint(2, 6))]
            for _ in range(rng.randint(1, 3)):
                pick = rng.randrange(len(sentences))
                if rng.random() < 0.6:
                    sentences[pick] = f'<a href="{_link(rng, site)}">{sentences[pick]}</a>'
                elif rng.random() < 0.5:
                    sentences[pick] = f"<strong>{sentences[pick]}</strong>"
                else:
                    sentences[pick] = f"<em>{sentences[pick]}</em>"
            piece = f"<p>{' '.join(sentences)}</p>"
        parts.append(piece)
        size += len(piece.encode())
    if number % 7 == 0:  # a tracking pixel now and then, as newsletters-turned-feeds have
        parts.append(f'<img src="{site}pixel.gif?u={number}" width="1" height="1">')
    return "\n".join(parts)


def make_entries(count: int, seed: int = SEED) -> list[ParsedEntry]:
    rng = random.Random(seed)
    entries = []
    for number in range(count):
        site = f"https://blog{number % 40}.exemple.fr/"
        summary = _sentence(rng)
        content = _body(rng, number, site)
        entries.append(
            ParsedEntry(
                guid=f"tag:exemple.fr,2024:{number}",
                link=f"{site}{rng.randint(2019, 2024)}/article-{number}.html?utm_source=rss",
                title=f"{_sentence(rng)[:80]} ({number})",
                content=content,
                # Most RSS feeds have the description apart from content:encoded, some only one.
                summary=content if number % 4 == 0 else summary,
                author="Camille Dupont",
                categories=("Libre", rng.choice(TOPICS)),
            )
        )
    return entries


def _best_rate(run: Callable[[], None], repeat: int) -> float:
    """The shortest of `repeat` timed runs, in seconds (garbage collection off while timing)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile sanitize_entry once")
    args = parser.parse_args(argv)

    entries = make_entries(args.entries)
    html_bytes = sum(
        len(e.content.encode()) + (0 if e.summary is e.content else len(e.summary.encode()))
        for e in entries
    )
    megabytes = html_bytes / 1e6
    feed_link = "https://blog.exemple.fr/"

    # nh3 alone: the same allow-lists, no Python callback and no post-pass.
    bare = nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    )

    def run_bare() -> None:
        for entry in entries:
            bare.clean(entry.content)
            if entry.summary is not entry.content:
                bare.clean(entry.summary)

    def run_liseuse() -> None:
        for entry in entries:
            sanitize_entry(entry, feed_link=feed_link)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run_liseuse()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)

    print(f"{len(entries)} entries, {megabytes:.1f} MB of HTML, best of {args.repeat}")
    for name, run in (("nh3 alone", run_bare), ("sanitize_entry", run_liseuse)):
        seconds = _best_rate(run, args.repeat)
        rate = len(entries) / seconds
        print(
            f"{name:>15}: {rate:8.0f} entries/s {megabytes / seconds:6.1f} MB/s"
            f"  ({REFRESH_ENTRIES / rate:.1f} s for {REFRESH_ENTRIES:,} entries)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
